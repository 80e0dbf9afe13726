-- Shared by the scripts that read or write records. A record is a hash of JSON-encoded
-- fields, plus LOCK_MARK while its lock may be held: a step reads the lock key (P:lock:K)
-- only for a record that carries the mark, instead of on every update.
local LOCK_MARK = '#lock'

local function fieldsOf(flat)
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  return fields
end

local function flatten(fields)
  local flat = {}
  for field, value in pairs(fields) do
    flat[#flat + 1] = field
    flat[#flat + 1] = value
  end
  return flat
end

-- whether the record's lock is held by someone else than `holder` ('' when the caller holds none)
local function lockedAgainst(fields, lock, holder)
  if not fields[LOCK_MARK] then return false end
  local current = redis.call('GET', lock)
  return current ~= false and current ~= holder
end
