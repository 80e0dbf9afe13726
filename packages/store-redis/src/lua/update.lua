-- Shared by update-record and swarm-end: the conditional update of one record.
-- rec, lock, open: keys; shared: keys sharing its TTL (a swarm's state, counters first);
-- a: { expect, set, unset, ttl, holder, track, key } as update-record's ARGV[1..7]
-- Returns { 'ok' | 'missing' | 'mismatch' | 'locked', record fields... }
local function update(rec, lock, open, shared, a)
  if redis.call('EXISTS', rec) == 0 then return { 'missing' } end
  local expect = cjson.decode(a[1])
  if expect.status then
    local current = redis.call('HGET', rec, 'status')
    local ok = false
    for _, s in ipairs(expect.status) do
      if s == current then ok = true end
    end
    if not ok then return { 'mismatch', unpack(redis.call('HGETALL', rec)) } end
  end
  for field, wanted in pairs(expect.fields or {}) do
    local current = redis.call('HGET', rec, field)
    if wanted == false then
      if current then return { 'mismatch', unpack(redis.call('HGETALL', rec)) } end
    elseif current ~= wanted then
      return { 'mismatch', unpack(redis.call('HGETALL', rec)) }
    end
  end
  local holder = redis.call('GET', lock)
  if holder and holder ~= a[5] then return { 'locked', unpack(redis.call('HGETALL', rec)) } end
  local set = cjson.decode(a[2])
  if #set > 0 then redis.call('HSET', rec, unpack(set)) end
  local unset = cjson.decode(a[3])
  if #unset > 0 then redis.call('HDEL', rec, unpack(unset)) end
  if a[4] ~= '' then
    local ttl = tonumber(a[4])
    redis.call('EXPIRE', rec, ttl)
    -- shared[1] is a swarm's counters key, which every swarm has: when it is absent (a
    -- task, a chain) the other swarm keys are too, and expiring them would be wasted work
    if #shared >= 1 and redis.call('EXPIRE', shared[1], ttl) == 1 then
      for i = 2, #shared do redis.call('EXPIRE', shared[i], ttl) end
    end
  end
  if a[6] == 'untrack' then redis.call('SREM', open, a[7]) end
  if a[6] == 'track' then
    redis.call('SADD', open, a[7])
    local ttl = redis.call('TTL', rec)
    if redis.call('TTL', open) < ttl then redis.call('EXPIRE', open, ttl) end
  end
  return { 'ok', unpack(redis.call('HGETALL', rec)) }
end
