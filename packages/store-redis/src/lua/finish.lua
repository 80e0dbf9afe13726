-- Shared by swarm-finish and swarm-end: records a member's end once, frees its slot
-- (or takes it out of the queue), keeps its result, and gives the freed slots to queued
-- members, in one step. The results hash is also the record of who was counted: a member
-- is counted when its field is first written there ('' for a failed member).
-- s: { state, queue, results } keys; ok: whether it succeeded; result: its encoded result;
-- o: claimOptions
-- Returns { counted, counts (6)..., claimed members as handOver gives them... }
local function finish(s, member, ok, result, o)
  local c = readCounters(s.state, member)
  if not c then return { 0, 0, 0, 0, 0, 0, 0 } end
  local counted = redis.call('HSETNX', s.results, member, ok and result or '')
  if counted == 1 then
    if c.slot then
      redis.call('HDEL', s.state, 'slot:' .. member)
      c.running = c.running - 1
    -- a member that ends while queued (canceled) leaves the queue: it never takes a slot
    elseif redis.call('ZREM', s.queue, member) == 1 then
      c.queued = c.queued - 1
    end
    if ok then c.done = c.done + 1 else c.failed = c.failed + 1 end
  end
  local slots = {}
  local claimed = claim(s.queue, c, o, slots)
  if counted == 1 or #claimed > 0 then
    redis.call('HSET', s.state, 'queued', c.queued, 'running', c.running, 'done', c.done, 'failed', c.failed, unpack(slots))
  end
  local reply = countsOf(c)
  table.insert(reply, 1, counted)
  for _, handed in ipairs(handOver(claimed, o)) do reply[#reply + 1] = handed end
  return reply
end
