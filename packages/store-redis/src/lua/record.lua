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

-- Fields the store keeps in a record hash besides the record's own all start with '#':
-- TIMELINE holds the status changes, one JSON object a line (JSON text has no raw
-- newline), at most TIMELINE_CAP (as the Store port's); LOGS_MARK says the record has a
-- log list (P:log:K), so a step that sets the record's TTL sets the log's too, and
-- records without logs cost no extra command.
local TIMELINE = '#tl'
local TIMELINE_CAP = 50
local LOGS_MARK = '#logs'

-- A timeline entry from the record's fields as a step left them (values already JSON-encoded).
local function timelineEntry(now, fields, from)
  local e = '{"at":' .. now .. ',"status":' .. fields.status
  if from then e = e .. ',"from":' .. from end
  if fields.worker then e = e .. ',"worker":' .. fields.worker end
  if fields.runId then e = e .. ',"runId":' .. fields.runId end
  if fields.attempt then e = e .. ',"attempt":' .. fields.attempt end
  return e .. '}'
end

local function appendTimeline(timeline, entry)
  if not timeline or timeline == '' then return entry end
  local _, lines = string.gsub(timeline, '\n', '')
  if lines + 1 >= TIMELINE_CAP then timeline = string.sub(timeline, string.find(timeline, '\n', 1, true) + 1) end
  return timeline .. '\n' .. entry
end

-- Publishes a status change on the change feed (channel '' while nobody subscribes).
local function publishStatus(channel, key, fields, entry)
  if channel == '' then return end
  local event = '{"type":"status","key":' .. cjson.encode(key) .. ',"kind":' .. fields.kind .. ',"taskName":' .. fields.taskName
  if fields.parent then event = event .. ',"parent":' .. fields.parent end
  redis.call('PUBLISH', channel, event .. ',"entry":' .. entry .. '}')
end
