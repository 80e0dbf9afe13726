-- A page of a creation index, newest first, filtered; or (ARGV[4] = 'count') the count of
-- the filtered entries by status. Examines at most ARGV[6] entries. Entries whose record
-- is gone are dropped from the index on the way.
-- KEYS[1]: the index; KEYS[2]: the other index (entries dropped from both)
-- ARGV[1]: record key prefix; ARGV[2]: cursor time or ''; ARGV[3]: cursor key;
-- ARGV[4]: 'page' | 'count'; ARGV[5]: limit; ARGV[6]: scan limit; ARGV[7]: JSON filter
--   { kinds, statuses (encoded), taskName (encoded), roots, text (lower case), from, to }
-- Returns, for a page: { cursor time or '', cursor key, record fields (flat)... };
-- for a count: { complete (0/1), status, n, status, n... }
local idx = KEYS[1]
local limit = tonumber(ARGV[5])
local scanLimit = tonumber(ARGV[6])
local q = cjson.decode(ARGV[7])
local counting = ARGV[4] == 'count'

local function member(list, value)
  if not list then return true end
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

-- where to start: after the cursor (by its rank, or, if its entry is gone, after its time
-- and skipping the entries of the same time and a greater key, already seen), else at `to`
local start = 0
local skipAt, skipKey
if ARGV[2] ~= '' then
  local rank = redis.call('ZREVRANK', idx, ARGV[3])
  local score = rank and redis.call('ZSCORE', idx, ARGV[3])
  if rank and tonumber(score) == tonumber(ARGV[2]) then
    start = rank + 1
  else
    start = redis.call('ZCOUNT', idx, '(' .. ARGV[2], '+inf')
    skipAt, skipKey = tonumber(ARGV[2]), ARGV[3]
  end
elseif q.to then
  start = redis.call('ZCOUNT', idx, '(' .. q.to, '+inf')
end

local out = { '', '' }
local counts = {}
local found, scanned = 0, 0
local dead = {}
local more = false
local lastAt, lastKey
while not more do
  local batch = redis.call('ZREVRANGE', idx, start, start + 199, 'WITHSCORES')
  if #batch == 0 then break end
  start = start + #batch / 2
  for i = 1, #batch, 2 do
    local key, at = batch[i], tonumber(batch[i + 1])
    if q.from and at < q.from then batch = {} break end
    if not (skipAt and at == skipAt and key >= skipKey) then
      local rec = ARGV[1] .. key
      local v = redis.call('HMGET', rec, 'kind', 'status', 'taskName', 'parent', 'name', 'creationTime')
      if not v[1] then
        dead[#dead + 1] = key
      elseif tonumber(v[6]) == at and member(q.kinds, v[1]) and member(q.statuses, v[2]) and (not q.taskName or q.taskName == v[3])
        and not (q.roots and v[4]) and (not q.text or string.find(string.lower(key), q.text, 1, true) or (v[5] and string.find(string.lower(cjson.decode(v[5])), q.text, 1, true))
          or string.find(string.lower(cjson.decode(v[3])), q.text, 1, true)) then
        if counting then
          counts[v[2]] = (counts[v[2]] or 0) + 1
        else
          out[#out + 1] = redis.call('HGETALL', rec)
        end
        found = found + 1
      end
      scanned = scanned + 1
      lastAt, lastKey = batch[i + 1], key
      if (not counting and found >= limit) or scanned >= scanLimit then
        more = true
        break
      end
    end
  end
  if #batch == 0 then break end
end
for first = 1, #dead, 1000 do
  local last = math.min(first + 999, #dead)
  redis.call('ZREM', idx, unpack(dead, first, last))
  redis.call('ZREM', KEYS[2], unpack(dead, first, last))
end
if counting then
  local reply = { more and 0 or 1 }
  for status, n in pairs(counts) do
    reply[#reply + 1] = status
    reply[#reply + 1] = n
  end
  return reply
end
if more then
  out[1] = lastAt
  out[2] = lastKey
end
return out
