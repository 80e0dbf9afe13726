-- Creates records, all or none.
-- KEYS: open set, then one record key per record
-- ARGV[1]: ttl (s); ARGV[2]: '1' to track; ARGV[3]: JSON list of
--   { key = record key (unprefixed), fields = { field, encoded value, ... } }
local ttl = tonumber(ARGV[1])
local records = cjson.decode(ARGV[3])
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return redis.error_reply('EXISTS ' .. records[i - 1].key)
  end
end
for i = 2, #KEYS do
  redis.call('HSET', KEYS[i], unpack(records[i - 1].fields))
  redis.call('EXPIRE', KEYS[i], ttl)
  if ARGV[2] == '1' then redis.call('SADD', KEYS[1], records[i - 1].key) end
end
if ARGV[2] == '1' and redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return #KEYS - 1
