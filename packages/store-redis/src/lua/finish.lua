-- Shared by swarm-finish and swarm-end: records a member's end once, frees its slot
-- (or takes it out of the queue), keeps its result, and gives the freed slots to
-- queued members, in one step.
-- s: { rec, counters, queue, running, finished, results } keys;
-- a: { member, '1' ok / '0' failed, encoded result, maxConcurrency, JSON allowed
--      statuses, worker, limit or '', stopAfterFailures or '' }
-- Returns { counted, counts (6)..., claimed... }
local function finish(s, a)
  if redis.call('EXISTS', s.counters) == 0 then return { 0, 0, 0, 0, 0, 0, 0 } end
  -- `finished` and `results` exist from the swarm's first add on (with a placeholder),
  -- with the swarm's TTL: nothing here needs to set a TTL
  local counted = redis.call('SADD', s.finished, a[1])
  if counted == 1 then
    -- a member that ends while queued (canceled) leaves the queue: it never takes a slot
    if redis.call('HDEL', s.running, a[1]) == 0 then redis.call('LREM', s.queue, 1, a[1]) end
    if a[2] == '1' then
      redis.call('HINCRBY', s.counters, 'done', 1)
      redis.call('HSET', s.results, a[1], a[3])
    else
      redis.call('HINCRBY', s.counters, 'failed', 1)
    end
  end
  local claimed = claim(s.rec, s.counters, s.queue, s.running, tonumber(a[4]), cjson.decode(a[5]), a[6], tonumber(a[7]), tonumber(a[8]))
  local reply = counts(s.counters, s.queue, s.running)
  table.insert(reply, 1, counted)
  for _, m in ipairs(claimed) do reply[#reply + 1] = m end
  return reply
end
