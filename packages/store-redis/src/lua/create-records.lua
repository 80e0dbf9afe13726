-- Creates records, all or none.
-- KEYS: open set, then one record key per record
-- ARGV[1]: ttl (s); ARGV[2]: '1' to track; ARGV[3]: JSON list of
--   { key = record key (unprefixed), fields = { field, encoded value, ... }, state = swarm state
--   key (chains and swarms only) }; ARGV[4]: lock key prefix
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
  redis.call('HSET', KEYS[i + 1], unpack(fields))
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
return n
