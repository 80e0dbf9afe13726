-- KEYS[1]: state; ARGV[1]: '1' to close the swarm first
local c = readCounters(KEYS[1])
if c and ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'closed', 1)
  c.closed = 1
end
return countsOf(c)
