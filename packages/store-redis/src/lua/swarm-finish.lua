-- Records a member's end once, frees its slot, keeps its result, and gives the
-- freed slots to queued members, in one step.
-- KEYS: rec, counters, queue, running, finished, results
-- ARGV[1]: member; ARGV[2]: '1' ok / '0' failed; ARGV[3]: encoded result
-- ARGV[4]: maxConcurrency; ARGV[5]: JSON allowed statuses; ARGV[6]: worker; ARGV[7]: limit or ''
-- ARGV[8]: stopAfterFailures or ''
local rec, counters, queue, running, finished, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
if redis.call('EXISTS', counters) == 0 then return { 0, 0, 0, 0, 0, 0, 0 } end
local counted = redis.call('SADD', finished, ARGV[1])
if counted == 1 then
  -- a member that ends while queued (canceled) leaves the queue: it never takes a slot
  if redis.call('HDEL', running, ARGV[1]) == 0 then redis.call('LREM', queue, 1, ARGV[1]) end
  if ARGV[2] == '1' then
    redis.call('HINCRBY', counters, 'done', 1)
    redis.call('HSET', results, ARGV[1], ARGV[3])
  else
    redis.call('HINCRBY', counters, 'failed', 1)
  end
  local ttl = redis.call('TTL', counters)
  if ttl > 0 then
    redis.call('EXPIRE', finished, ttl)
    if ARGV[2] == '1' then redis.call('EXPIRE', results, ttl) end
  end
end
local claimed = claim(rec, counters, queue, running, tonumber(ARGV[4]), cjson.decode(ARGV[5]), ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))
local reply = counts(counters, queue, running)
table.insert(reply, 1, counted)
for _, m in ipairs(claimed) do reply[#reply + 1] = m end
return reply
