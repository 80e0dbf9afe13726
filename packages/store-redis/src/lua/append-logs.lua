-- Appends log entries to a record's log list, capped, with the record's TTL; marks the
-- record (LOGS_MARK) so later TTL changes of the record reach the log. Nothing is kept
-- for a record that is gone.
-- KEYS[1]: record; KEYS[2]: its log
-- ARGV[1]: cap; ARGV[2]: feed channel or ''; ARGV[3]: the record key (unprefixed);
-- ARGV[4..]: the entries, JSON-encoded
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 4))
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('HSET', KEYS[1], LOGS_MARK, '1')
if ARGV[2] ~= '' then
  -- a member's lines name its container, so a view of the workflow can take them
  local parent = redis.call('HGET', KEYS[1], 'parent')
  local head = '{"type":"log","key":' .. cjson.encode(ARGV[3]) .. (parent and (',"parent":' .. parent) or '') .. ',"entry":'
  for i = 4, #ARGV do redis.call('PUBLISH', ARGV[2], head .. ARGV[i] .. '}') end
end
return 1
