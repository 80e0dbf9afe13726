-- Records a graph node's settlement once, in one step whose cost is the node's out-degree
-- (see Store.graphSettle). A graph keeps its progress in its swarm state hash, beside the
-- counters and slots: `gn:<node>` (how a settled node ended, ':1' if it took an edge),
-- `ge:<edge>` ('taken' | 'skipped'), `gi:<node>` and `gt:<node>` (its incoming edges
-- settled, and taken), `gs:<node>` (a pending skip) and `g#settled` (nodes settled). They
-- share the state's TTL, and a rerun's reset (which rewrites the state) clears them. A node
-- that becomes ready is queued at the end of the add sequence, counted in `total` but not
-- listed in the members list, so a reset queues only the entry nodes again.
-- KEYS: state, queue, results
-- ARGV[1]: node; ARGV[2]: 'done' | 'failed' | 'skipped'; ARGV[3]: its encoded result ('' unless done);
-- ARGV[4]: JSON list of { edge, target, incoming, taken }; ARGV[5..12]: the claim's
-- Returns { counted, settled, ready members, skipped members, finish reply (as finish.lua's) }
local state, queue, results = KEYS[1], KEYS[2], KEYS[3]
local node, outcome = ARGV[1], ARGV[2]
local o = claimOptions(ARGV, 5)
local c = readCounters(state)
if not c then return { 0, 0, {}, {}, { 0, 0, 0, 0, 0, 0, 0 } } end
local edges = cjson.decode(ARGV[4])
local tookEdge = 0
for _, e in ipairs(edges) do
  if e.taken then tookEdge = 1 end
end
local counted = redis.call('HSETNX', state, 'gn:' .. node, outcome .. ':' .. tookEdge)
local ready, skip = {}, {}
if counted == 1 then
  redis.call('HINCRBY', state, 'g#settled', 1)
  redis.call('HDEL', state, 'gs:' .. node)
  for _, e in ipairs(edges) do
    redis.call('HSET', state, 'ge:' .. e.edge, e.taken and 'taken' or 'skipped')
    local settled = redis.call('HINCRBY', state, 'gi:' .. e.target, 1)
    local taken
    if e.taken then
      taken = redis.call('HINCRBY', state, 'gt:' .. e.target, 1)
    else
      taken = tonumber(redis.call('HGET', state, 'gt:' .. e.target) or '0')
    end
    if settled == e.incoming then
      if taken > 0 then
        ready[#ready + 1] = e.target
      else
        skip[#skip + 1] = e.target
        redis.call('HSET', state, 'gs:' .. e.target, '1')
      end
    end
  end
  if #ready > 0 then
    local wasQueued = c.queued
    c.queued = c.queued + enqueue(queue, ready, 1, #ready, c.total)
    c.total = c.total + #ready
    redis.call('HSET', state, 'total', c.total, 'queued', c.queued)
    local ttl = redis.call('TTL', state)
    if wasQueued == 0 and c.queued > 0 and ttl > 0 then redis.call('EXPIRE', queue, ttl) end
  end
end
local settledCount = tonumber(redis.call('HGET', state, 'g#settled') or '0')
local finished
if outcome == 'skipped' then
  -- it never ran: nothing to count, only free slots to give
  c = readCounters(state)
  local slots = {}
  local claimed = claim(queue, c, o, slots)
  if #claimed > 0 then redis.call('HSET', state, 'queued', c.queued, 'running', c.running, unpack(slots)) end
  finished = countsOf(c)
  table.insert(finished, 1, 0)
  for _, handed in ipairs(handOver(claimed, o)) do finished[#finished + 1] = handed end
else
  finished = finish({ state = state, queue = queue, results = results }, node, outcome == 'done', ARGV[3], o)
end
return { counted, settledCount, ready, skip, finished }
