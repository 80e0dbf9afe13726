-- A swarm member's end and its count in the swarm, in one step: the member's own
-- conditional update (update.lua), and only if it applied, the swarm's (finish.lua).
-- KEYS[1..7]: member record, member lock, open set, the member's own swarm keys (state,
--   queue, members, results: a member may be a chain or a swarm); KEYS[8..10]: the
--   swarm's state, queue, results
-- ARGV[1..7]: as update-record's (ARGV[7]: the member); ARGV[8]: '1' ok / '0' failed;
-- ARGV[9]: encoded result; ARGV[10..17]: the claim's
-- Returns { update reply, finish reply } or, when the update did not apply, { update reply, counts }
local ended = update(KEYS[1], KEYS[2], KEYS[3], { KEYS[4], KEYS[5], KEYS[6], KEYS[7] }, ARGV)
if ended[1] ~= 'ok' then return { ended, countsOf(readCounters(KEYS[8])) } end
return { ended, finish({ state = KEYS[8], queue = KEYS[9], results = KEYS[10] }, ARGV[7], ARGV[8] == '1', ARGV[9], claimOptions(ARGV, 10)) }
