-- Conditional update of one record.
-- KEYS[1]: record; KEYS[2]: its lock; KEYS[3]: open set; KEYS[4..]: keys sharing its TTL
-- (a swarm's state, counters first)
-- ARGV[1]: JSON { status = { encoded... } | nil, fields = { [field] = encoded | false } }
-- ARGV[2]: JSON list { field, encoded, ... } to set; ARGV[3]: JSON list of fields to delete
-- ARGV[4]: ttl (s) or ''; ARGV[5]: lock holder or ''; ARGV[6]: 'track' | 'untrack' | ''
-- ARGV[7]: the record key (unprefixed, for the open set)
-- Returns { 'ok' | 'missing' | 'mismatch' | 'locked', record fields... }
local rec = KEYS[1]
if redis.call('EXISTS', rec) == 0 then return { 'missing' } end
local expect = cjson.decode(ARGV[1])
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
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[5] then return { 'locked', unpack(redis.call('HGETALL', rec)) } end
local set = cjson.decode(ARGV[2])
if #set > 0 then redis.call('HSET', rec, unpack(set)) end
local unset = cjson.decode(ARGV[3])
if #unset > 0 then redis.call('HDEL', rec, unpack(unset)) end
if ARGV[4] ~= '' then
  local ttl = tonumber(ARGV[4])
  redis.call('EXPIRE', rec, ttl)
  -- KEYS[4] is the swarm counters key, which every swarm has: when it is absent (a
  -- task, a chain) the other swarm keys are too, and expiring them would be wasted work
  if #KEYS >= 4 and redis.call('EXPIRE', KEYS[4], ttl) == 1 then
    for i = 5, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end
  end
end
if ARGV[6] == 'untrack' then redis.call('SREM', KEYS[3], ARGV[7]) end
if ARGV[6] == 'track' then
  redis.call('SADD', KEYS[3], ARGV[7])
  local ttl = redis.call('TTL', rec)
  if redis.call('TTL', KEYS[3]) < ttl then redis.call('EXPIRE', KEYS[3], ttl) end
end
return { 'ok', unpack(redis.call('HGETALL', rec)) }
