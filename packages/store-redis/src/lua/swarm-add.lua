-- Appends members to a swarm, all or none.
-- KEYS: rec, state, queue, members, results
-- ARGV[1]: maxTaskAllowed or ''; ARGV[2]: ttl (s) for new keys; ARGV[3]: JSON list of members
-- (one argument however many: a call with 100,000 arguments overflows the client's stack);
-- ARGV[4]: JSON list of their priority ranks, or '' when all are the default
-- Returns { 'ok' | 'closed' | 'too_many', counts... }
local state, queue, members, results = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local added = cjson.decode(ARGV[3])
local ranks = ARGV[4] ~= '' and cjson.decode(ARGV[4]) or nil
local n = #added
local c = readCounters(state)
local first = not c
c = c or { total = 0, queued = 0, running = 0, done = 0, failed = 0, closed = 0 }
if c.closed == 1 then return { 'closed', unpack(countsOf(c)) } end
local max = tonumber(ARGV[1])
if max and c.total + n > max then return { 'too_many', unpack(countsOf(c)) } end
local wasTotal, wasQueued = c.total, c.queued
-- in chunks: Lua's unpack() is limited to a few thousand values
local kept = {}
for from = 1, n, 1000 do
  local to = math.min(from + 999, n)
  c.queued = c.queued + enqueue(queue, added, from, to, c.total, ranks, kept)
  redis.call('RPUSH', members, unpack(added, from, to))
end
for from = 1, #kept, 1000 do
  redis.call('HSET', state, unpack(kept, from, math.min(from + 999, #kept)))
end
c.total = c.total + n
if max and c.total >= max then c.closed = 1 end
local counters = { 'total', c.total, 'queued', c.queued, 'running', c.running, 'done', c.done, 'failed', c.failed, 'closed', c.closed }
-- the state's copy of the record's status starts here; every status change then writes it (see update.lua)
local status = first and redis.call('HGET', KEYS[1], 'status')
if status then
  counters[#counters + 1] = 'status'
  counters[#counters + 1] = status
end
redis.call('HSET', state, unpack(counters))
-- every swarm key lives as long as the swarm record; the state and (with a placeholder)
-- the results exist from the first add on and the members list from its first member, so
-- no later step sets their TTL. The queue is gone whenever it was emptied, so it gets the
-- TTL again when it is filled again.
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[2]) end
if first then
  redis.call('HSETNX', results, '', '')
  redis.call('EXPIRE', state, ttl)
  redis.call('EXPIRE', results, ttl)
end
if wasTotal == 0 and n > 0 then redis.call('EXPIRE', members, ttl) end
if wasQueued == 0 and c.queued > 0 then redis.call('EXPIRE', queue, ttl) end
return { 'ok', unpack(countsOf(c)) }
