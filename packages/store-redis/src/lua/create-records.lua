-- Creates records, all or none.
-- KEYS: open set, then one record key per record
-- ARGV[1]: ttl (s); ARGV[2]: '1' to track; ARGV[3]: JSON list of
--   { key = record key (unprefixed), fields = { field, encoded value, ... }, state = swarm state
--   key (chains and swarms only), at = creation time (string), root = true when it has no
--   parent }; ARGV[4]: lock key prefix; ARGV[5], ARGV[6]: the creation indexes (every record,
--   roots); ARGV[7]: now (ms); ARGV[8]: feed channel or ''; ARGV[9]: record key prefix;
--   ARGV[10]: the index sweep's position key
local ttl = tonumber(ARGV[1])
local track = ARGV[2] == '1'
local records = cjson.decode(ARGV[3])
local n = #records
local locks = {}
for i = 1, n do locks[i] = ARGV[4] .. records[i].key end
-- existence is asked a thousand keys at a time (Lua's unpack() is limited to a few
-- thousand values), one key at a time only to name the one that exists
local anyLocked = false
for first = 1, n, 1000 do
  local last = math.min(first + 999, n)
  if redis.call('EXISTS', unpack(KEYS, first + 1, last + 1)) > 0 then
    for i = first, last do
      if redis.call('EXISTS', KEYS[i + 1]) == 1 then return redis.error_reply('EXISTS ' .. records[i].key) end
    end
  end
  if redis.call('EXISTS', unpack(locks, first, last)) > 0 then anyLocked = true end
end
for i = 1, n do
  local fields = records[i].fields
  -- a lock taken before its record existed: the record carries its mark from the start
  if anyLocked and redis.call('EXISTS', locks[i]) == 1 then
    fields[#fields + 1] = LOCK_MARK
    fields[#fields + 1] = '1'
  end
  local f = fieldsOf(fields)
  local entry = timelineEntry(ARGV[7], f, nil)
  fields[#fields + 1] = TIMELINE
  fields[#fields + 1] = entry
  redis.call('HSET', KEYS[i + 1], unpack(fields))
  publishStatus(ARGV[8], records[i].key, f, entry)
  redis.call('EXPIRE', KEYS[i + 1], ttl)
  -- a chain or swarm added to before its record was created: its state's copy of the
  -- status (see swarm-state.lua) starts from the record
  if records[i].state and redis.call('EXISTS', records[i].state) == 1 then
    for f = 1, #fields, 2 do
      if fields[f] == 'status' then redis.call('HSET', records[i].state, 'status', fields[f + 1]) end
    end
  end
end
if track then
  for first = 1, n, 1000 do
    local keys = {}
    for i = first, math.min(first + 999, n) do keys[#keys + 1] = records[i].key end
    redis.call('SADD', KEYS[1], unpack(keys))
  end
  if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
end

-- The creation indexes: sorted sets of keys scored by creation time, one ZADD a thousand
-- records. They live as long as their longest-lived entry.
local function index(key, wanted)
  local args = {}
  for i = 1, n do
    if wanted(records[i]) then
      args[#args + 1] = records[i].at
      args[#args + 1] = records[i].key
    end
    if #args >= 2000 or (i == n and #args > 0) then
      redis.call('ZADD', key, unpack(args))
      args = {}
    end
  end
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end
index(ARGV[5], function() return true end)
local roots = false
for i = 1, n do if records[i].root then roots = true end end
if roots then index(ARGV[6], function(r) return r.root end) end

-- Entries whose record expired leave the index by a sweep that goes round it a little at each
-- create: n + 2 entries from where the last one stopped (a rank kept in P:idx:sweep), back to
-- the oldest once it reaches the newest. It examines more entries than the create adds, so the
-- index holds the live records and at most about one round of dead ones, whatever lives long;
-- each entry costs one EXISTS a round.
local want = n + 2
local from = tonumber(redis.call('GET', ARGV[10]) or '0')
local batch = redis.call('ZRANGE', ARGV[5], from, from + want - 1)
local ahead = #batch
local nextFrom = from + ahead
if ahead < want then
  -- past the newest: on from the oldest
  local more = redis.call('ZRANGE', ARGV[5], 0, want - ahead - 1)
  local seen = {}
  for _, key in ipairs(batch) do seen[key] = true end
  -- an index smaller than the round: what was seen ahead is not looked at twice
  for _, key in ipairs(more) do
    if not seen[key] then batch[#batch + 1] = key end
  end
  nextFrom = #more
end
local dead = {}
local deadBefore = 0 -- dead entries ranked before nextFrom: removing them moves it back
for i, key in ipairs(batch) do
  if redis.call('EXISTS', ARGV[9] .. key) == 0 then
    dead[#dead + 1] = key
    if ahead == want or i > ahead then deadBefore = deadBefore + 1 end
  end
end
for first = 1, #dead, 1000 do
  local last = math.min(first + 999, #dead)
  redis.call('ZREM', ARGV[5], unpack(dead, first, last))
  redis.call('ZREM', ARGV[6], unpack(dead, first, last))
end
redis.call('SET', ARGV[10], math.max(0, nextFrom - deadBefore), 'EX', math.max(ttl, redis.call('TTL', ARGV[5])))
return n
