-- Gives free slots to queued members.
-- KEYS: rec, counters, queue, running
-- ARGV[1]: maxConcurrency; ARGV[2]: JSON list of encoded allowed statuses; ARGV[3]: worker; ARGV[4]: limit or ''
-- ARGV[5]: stopAfterFailures or ''
local claimed = claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]), cjson.decode(ARGV[2]), ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))
if #claimed > 0 then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl > 0 then redis.call('EXPIRE', KEYS[4], ttl) end
end
return claimed
