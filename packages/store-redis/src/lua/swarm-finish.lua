-- Records a member's end once, frees its slot, keeps its result, and gives the
-- freed slots to queued members, in one step (see finish.lua).
-- KEYS: rec, counters, queue, running, finished, results
-- ARGV[1]: member; ARGV[2]: '1' ok / '0' failed; ARGV[3]: encoded result
-- ARGV[4]: maxConcurrency; ARGV[5]: JSON allowed statuses; ARGV[6]: worker; ARGV[7]: limit or ''
-- ARGV[8]: stopAfterFailures or ''
return finish({ rec = KEYS[1], counters = KEYS[2], queue = KEYS[3], running = KEYS[4], finished = KEYS[5], results = KEYS[6] }, ARGV)
