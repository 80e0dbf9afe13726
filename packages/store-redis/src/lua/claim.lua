-- Shared by swarm-claim, swarm-finish and swarm-end: gives free slots to the members
-- queued first, while the swarm's status (mirrored in its state) is an allowed one.

-- a: ARGV; i: where the claim's 8 arguments start: maxConcurrency, JSON list of encoded
-- allowed statuses, worker, limit or '', stopAfterFailures or '', the record and lock key
-- prefixes ('P:rec:', 'P:lock:'), and the begin or '' (JSON: { run = the encoded run id
-- prefix, worker = the encoded worker, set = flat list of fields and encoded values,
-- at = now (ms), feed = the feed channel or '' })
local function claimOptions(a, i)
  return {
    max = tonumber(a[i]), allowed = cjson.decode(a[i + 1]), worker = a[i + 2], limit = tonumber(a[i + 3]), stopAfter = tonumber(a[i + 4]),
    records = a[i + 5], locks = a[i + 6], begin = a[i + 7] ~= '' and cjson.decode(a[i + 7]) or nil,
  }
end

-- Hands back each claimed member with its record and, when the claim asks (o.begin),
-- records a task no run has touched (pending, no runId, no dispatchedAt, not locked) as
-- begun by run <prefix>.<n> (n: its position among the claimed, from 0), as the run's own
-- begin would. Returns, per member, { member, run id or '', record fields... }.
local function handOver(claimed, o)
  local out = {}
  for n, member in ipairs(claimed) do
    local rec = o.records .. member
    local flat = redis.call('HGETALL', rec)
    local runId = ''
    if o.begin and #flat > 0 then
      local f = fieldsOf(flat)
      if f.kind == '"task"' and f.status == '"pending"' and not f.runId and not f.dispatchedAt and not lockedAgainst(f, o.locks .. member, '') then
        local run = string.sub(o.begin.run, 1, -2) .. '.' .. (n - 1) .. '"'
        local set = { 'status', '"active"', 'runId', run, 'attempt', '1', 'worker', o.begin.worker }
        for j = 1, #o.begin.set do set[#set + 1] = o.begin.set[j] end
        for j = 1, #set, 2 do f[set[j]] = set[j + 1] end
        local entry = timelineEntry(o.begin.at, f, '"pending"')
        f[TIMELINE] = appendTimeline(f[TIMELINE], entry)
        set[#set + 1] = TIMELINE
        set[#set + 1] = f[TIMELINE]
        redis.call('HSET', rec, unpack(set))
        publishStatus(o.begin.feed, member, f, entry)
        flat = flatten(f)
        runId = cjson.decode(run)
      end
    end
    out[#out + 1] = { member, runId, flat }
  end
  return out
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
