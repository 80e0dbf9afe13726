-- Puts every member back in the queue, in the order added, and clears slots, counts
-- and results: a rerun. `closed` is kept.
-- KEYS: counters, queue, members, running, finished, results
local counters, queue, members = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', counters) == 0 then return 0 end
redis.call('DEL', queue, KEYS[4], KEYS[5], KEYS[6])
local all = redis.call('LRANGE', members, 0, -1)
-- in chunks: Lua's unpack() is limited to a few thousand values
for first = 1, #all, 1000 do
  redis.call('RPUSH', queue, unpack(all, first, math.min(first + 999, #all)))
end
redis.call('HSET', counters, 'done', 0, 'failed', 0)
redis.call('SADD', KEYS[5], '')
redis.call('HSETNX', KEYS[6], '', '')
local ttl = redis.call('TTL', counters)
if ttl > 0 then
  for i = 2, #KEYS do
    if KEYS[i] ~= members and redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
return #all
