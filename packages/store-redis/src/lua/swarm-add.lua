-- Appends members to a swarm, all or none.
-- KEYS: rec, counters, queue, members, running, finished, results
-- ARGV[1]: maxTaskAllowed or ''; ARGV[2]: ttl (s) for new keys; ARGV[3]: JSON list of members
-- (one argument however many: a call with 100,000 arguments overflows the client's stack)
-- Returns { 'ok' | 'closed' | 'too_many', counts... }
local counters, queue, members = KEYS[2], KEYS[3], KEYS[4]
local added = cjson.decode(ARGV[3])
local n = #added
local c = redis.call('HMGET', counters, 'total', 'closed')
local total, closed = tonumber(c[1] or '0'), tonumber(c[2] or '0')
local function reply(tag)
  return { tag, total, redis.call('LLEN', queue), redis.call('HLEN', KEYS[5]), 0, 0, closed }
end
if closed == 1 then return reply('closed') end
local max = tonumber(ARGV[1])
if max and total + n > max then return reply('too_many') end
-- in chunks: Lua's unpack() is limited to a few thousand values
for first = 1, n, 1000 do
  local last = math.min(first + 999, n)
  redis.call('RPUSH', queue, unpack(added, first, last))
  redis.call('RPUSH', members, unpack(added, first, last))
end
total = redis.call('HINCRBY', counters, 'total', n)
if max and total >= max then
  redis.call('HSET', counters, 'closed', 1)
  closed = 1
end
-- `finished` and `results` exist from the first add on, so members ending never set their TTL
redis.call('SADD', KEYS[6], '')
redis.call('HSETNX', KEYS[7], '', '')
-- every swarm key lives as long as the swarm record
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[2]) end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('EXPIRE', KEYS[i], ttl) end
end
return reply('ok')
