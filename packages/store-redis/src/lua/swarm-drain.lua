-- KEYS: state, queue. Removes and returns every queued member, in the order claims would take them.
local all = redis.call('ZRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'queued', 0) end
return all
