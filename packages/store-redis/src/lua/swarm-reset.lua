-- Puts every member back in the queue at the place it was added, and clears slots, counts
-- and results: a rerun. `closed` is kept.
-- KEYS: state, queue, members, results
local state, queue, members, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local c = readCounters(state)
if not c then return 0 end
local ttl = redis.call('TTL', state)
redis.call('DEL', state, queue, results)
local all = redis.call('LRANGE', members, 0, -1)
local queued = 0
-- in chunks: Lua's unpack() is limited to a few thousand values
for first = 1, #all, 1000 do
  queued = queued + enqueue(queue, all, first, math.min(first + 999, #all), 0)
end
-- the members listed (a graph's nodes queued as they became ready are not: only its entries run again)
local counters = { 'total', #all, 'queued', queued, 'running', 0, 'done', 0, 'failed', 0, 'closed', c.closed }
if c.status then
  counters[#counters + 1] = 'status'
  counters[#counters + 1] = c.status
end
redis.call('HSET', state, unpack(counters))
redis.call('HSET', results, '', '')
if ttl > 0 then
  redis.call('EXPIRE', state, ttl)
  redis.call('EXPIRE', results, ttl)
  if queued > 0 then redis.call('EXPIRE', queue, ttl) end
end
return #all
