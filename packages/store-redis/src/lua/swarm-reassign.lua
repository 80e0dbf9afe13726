-- KEYS[1]: state; ARGV: member, from, to
local slot = 'slot:' .. ARGV[1]
if redis.call('HGET', KEYS[1], slot) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], slot, ARGV[3])
return 1
