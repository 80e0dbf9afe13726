-- Gives free slots to queued members (see claim.lua).
-- KEYS: state, queue; ARGV[1..8]: the claim's (see claimOptions)
-- Returns the claimed members as handOver does.
local c = readCounters(KEYS[1])
if not c then return {} end
local slots = {}
local o = claimOptions(ARGV, 1)
local claimed = claim(KEYS[2], c, o, slots)
if #claimed > 0 then redis.call('HSET', KEYS[1], 'queued', c.queued, 'running', c.running, unpack(slots)) end
return handOver(claimed, o)
