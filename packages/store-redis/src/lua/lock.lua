-- KEYS[1]: lock; KEYS[2]: its record; ARGV: holder, lease (ms). Takes or renews the lock,
-- and marks the record (see record.lua) so that its updates look at the lock.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], LOCK_MARK, '1') end
return 1
