-- Shared by swarm-claim, swarm-finish and swarm-end: gives free slots to the members
-- queued first, while the swarm's status (mirrored in its state) is an allowed one.

-- a: ARGV; i: where the claim's 5 arguments start: maxConcurrency, JSON list of encoded
-- allowed statuses, worker, limit or '', stopAfterFailures or ''
local function claimOptions(a, i)
  return { max = tonumber(a[i]), allowed = cjson.decode(a[i + 1]), worker = a[i + 2], limit = tonumber(a[i + 3]), stopAfter = tonumber(a[i + 4]) }
end

-- queue: key; c: the counters (readCounters), updated in place; slots: state fields to
-- write, to which the claimed members' slots are appended. Returns the claimed members.
local function claim(queue, c, o, slots)
  local wanted = math.min(o.max - c.running, c.queued)
  if o.limit then wanted = math.min(wanted, o.limit) end
  if wanted <= 0 then return {} end
  if o.stopAfter and c.failed >= o.stopAfter then return {} end
  local allowed = false
  for _, status in ipairs(o.allowed) do
    if status == c.status then allowed = true end
  end
  if not allowed then return {} end
  local popped = redis.call('ZPOPMIN', queue, wanted)
  local claimed = {}
  for i = 1, #popped, 2 do
    claimed[#claimed + 1] = popped[i]
    slots[#slots + 1] = 'slot:' .. popped[i]
    slots[#slots + 1] = o.worker
  end
  c.queued = c.queued - #claimed
  c.running = c.running + #claimed
  return claimed
end
