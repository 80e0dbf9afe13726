-- Gives free slots to queued members (see claim.lua).
-- KEYS: state, queue; ARGV[1..5]: the claim's (see claimOptions)
-- Returns the claimed members.
local c = readCounters(KEYS[1])
if not c then return {} end
local slots = {}
local claimed = claim(KEYS[2], c, claimOptions(ARGV, 1), slots)
if #claimed > 0 then redis.call('HSET', KEYS[1], 'queued', c.queued, 'running', c.running, unpack(slots)) end
return claimed
