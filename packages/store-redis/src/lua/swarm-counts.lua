-- KEYS: counters, queue, running; ARGV[1]: '1' to close the swarm first
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'closed', 1) end
return counts(KEYS[1], KEYS[2], KEYS[3])
