-- Shared by update-record and swarm-end: the conditional update of one record, in one
-- read (HGETALL) and its writes; the reply is the record as written, built from that read.
-- rec, lock, open, logs: keys; shared: the record's swarm keys, state first (a chain or swarm
-- keeps its members there: they share its TTL, and its state mirrors its status);
-- a: { expect, set, unset, ttl, holder, track, key, now, feed } as update-record's ARGV[1..9]
-- A status change appends to the record's timeline in the same HSET, and is published
-- on the feed channel when one is given.
-- Returns { 'ok' | 'missing' | 'mismatch' | 'locked', record fields... }
local function update(rec, lock, open, shared, logs, a)
  local flat = redis.call('HGETALL', rec)
  if #flat == 0 then return { 'missing' } end
  local fields = fieldsOf(flat)
  local expect = cjson.decode(a[1])
  if expect.status then
    local ok = false
    for _, s in ipairs(expect.status) do
      if s == fields.status then ok = true end
    end
    if not ok then return { 'mismatch', unpack(flat) } end
  end
  for field, wanted in pairs(expect.fields or {}) do
    local current = fields[field]
    if (wanted == false and current) or (wanted ~= false and current ~= wanted) then return { 'mismatch', unpack(flat) } end
  end
  if lockedAgainst(fields, lock, a[5]) then return { 'locked', unpack(flat) } end
  local status = fields.status
  local set = cjson.decode(a[2])
  local unset = cjson.decode(a[3])
  for i = 1, #set, 2 do fields[set[i]] = set[i + 1] end
  for _, field in ipairs(unset) do fields[field] = nil end
  local entry
  if fields.status ~= status then
    entry = timelineEntry(a[8], fields, status)
    fields[TIMELINE] = appendTimeline(fields[TIMELINE], entry)
    set[#set + 1] = TIMELINE
    set[#set + 1] = fields[TIMELINE]
  end
  if #set > 0 then redis.call('HSET', rec, unpack(set)) end
  if #unset > 0 then redis.call('HDEL', rec, unpack(unset)) end
  -- a task has no swarm keys: touching them would be wasted work
  local container = fields.kind ~= '"task"'
  if a[4] ~= '' then
    local ttl = tonumber(a[4])
    redis.call('EXPIRE', rec, ttl)
    if fields[LOGS_MARK] then redis.call('EXPIRE', logs, ttl) end
    -- without a state (never added to), the other swarm keys do not exist either
    if container and redis.call('EXPIRE', shared[1], ttl) == 1 then
      for i = 2, #shared do redis.call('EXPIRE', shared[i], ttl) end
    end
  end
  if container and fields.status and fields.status ~= status and redis.call('EXISTS', shared[1]) == 1 then
    redis.call('HSET', shared[1], 'status', fields.status)
  end
  if a[6] == 'untrack' then redis.call('SREM', open, a[7]) end
  if a[6] == 'track' then
    redis.call('SADD', open, a[7])
    local ttl = redis.call('TTL', rec)
    if redis.call('TTL', open) < ttl then redis.call('EXPIRE', open, ttl) end
  end
  if entry then publishStatus(a[9], a[7], fields, entry) end
  return { 'ok', unpack(flatten(fields)) }
end
