-- A swarm member's end and its count in the swarm, in one step: the member's own
-- conditional update (update.lua), and only if it applied, the swarm's (finish.lua).
-- KEYS[1..8]: member record, member lock, open set, member log, the member's own swarm keys
--   (state, queue, members, results: a member may be a chain or a swarm); KEYS[9..11]: the
--   swarm's state, queue, results
-- ARGV[1..9]: as update-record's (ARGV[7]: the member); ARGV[10]: '1' ok / '0' failed;
-- ARGV[11]: encoded result; ARGV[12..19]: the claim's
-- Returns { update reply, finish reply } or, when the update did not apply, { update reply, counts }
local ended = update(KEYS[1], KEYS[2], KEYS[3], { KEYS[5], KEYS[6], KEYS[7], KEYS[8] }, KEYS[4], ARGV)
if ended[1] ~= 'ok' then return { ended, countsOf(readCounters(KEYS[9])) } end
return { ended, finish({ state = KEYS[9], queue = KEYS[10], results = KEYS[11] }, ARGV[7], ARGV[10] == '1', ARGV[11], claimOptions(ARGV, 12)) }
