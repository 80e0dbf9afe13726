-- Puts every member back in the queue at its priority and the place it was added, and
-- clears slots, counts and results: a rerun. `closed` and the members' ranks are kept.
-- KEYS: state, queue, members, results
local state, queue, members, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local c = readCounters(state)
if not c then return 0 end
local ttl = redis.call('TTL', state)
local rankOf, kept = {}, {}
local flat = redis.call('HGETALL', state)
for i = 1, #flat, 2 do
  if string.sub(flat[i], 1, #RANK_FIELD) == RANK_FIELD then
    rankOf[string.sub(flat[i], #RANK_FIELD + 1)] = tonumber(flat[i + 1])
    kept[#kept + 1] = flat[i]
    kept[#kept + 1] = flat[i + 1]
  end
end
redis.call('DEL', state, queue, results)
local all = redis.call('LRANGE', members, 0, -1)
local ranks = {}
for i, member in ipairs(all) do ranks[i] = rankOf[member] end
local queued = 0
-- in chunks: Lua's unpack() is limited to a few thousand values
for first = 1, #all, 1000 do
  queued = queued + enqueue(queue, all, first, math.min(first + 999, #all), 0, ranks, nil)
end
for first = 1, #kept, 1000 do
  redis.call('HSET', state, unpack(kept, first, math.min(first + 999, #kept)))
end
local counters = { 'total', c.total, 'queued', queued, 'running', 0, 'done', 0, 'failed', 0, 'closed', c.closed }
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
