-- KEYS[1]: queue. Removes and returns every queued member.
local all = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return all
