-- Records a member's end once, frees its slot, keeps its result, and gives the
-- freed slots to queued members, in one step (see finish.lua).
-- KEYS: state, queue, results
-- ARGV[1]: member; ARGV[2]: '1' ok / '0' failed; ARGV[3]: encoded result; ARGV[4..11]: the claim's
return finish({ state = KEYS[1], queue = KEYS[2], results = KEYS[3] }, ARGV[1], ARGV[2] == '1', ARGV[3], claimOptions(ARGV, 4))
