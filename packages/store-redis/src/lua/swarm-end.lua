-- A swarm member's end and its count in the swarm, in one step: the member's own
-- conditional update (update.lua), and only if it applied, the swarm's (finish.lua).
-- KEYS: member record, member lock, open set, then the swarm's rec, counters, queue,
--   running, finished, results
-- ARGV[1..7]: as update-record's; ARGV[8..15]: as swarm-finish's ARGV[1..8]
-- Returns { update reply, finish reply (empty when the update did not apply) }
local ended = update(KEYS[1], KEYS[2], KEYS[3], {}, { ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7] })
if ended[1] ~= 'ok' then return { ended, {} } end
local s = { rec = KEYS[4], counters = KEYS[5], queue = KEYS[6], running = KEYS[7], finished = KEYS[8], results = KEYS[9] }
return { ended, finish(s, { ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15] }) }
