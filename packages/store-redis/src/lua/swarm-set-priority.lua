-- Moves a queued member to another priority rank, keeping its add sequence, and writes
-- its record's `priority`. KEYS: state, queue, the member's record.
-- ARGV[1]: member; ARGV[2]: rank; ARGV[3]: the JSON-encoded priority. Returns 1, or 0
-- (nothing written) when the member is not queued.
local state, queue, rec = KEYS[1], KEYS[2], KEYS[3]
local member, rank = ARGV[1], tonumber(ARGV[2])
local score = redis.call('ZSCORE', queue, member)
if not score then return 0 end
local seq = tonumber(score) % LEVEL_SPAN
redis.call('ZADD', queue, 'XX', queueScore(rank, seq), member)
if rank == DEFAULT_RANK then
  redis.call('HDEL', state, RANK_FIELD .. member)
else
  redis.call('HSET', state, RANK_FIELD .. member, rank)
end
if redis.call('EXISTS', rec) == 1 then redis.call('HSET', rec, 'priority', ARGV[3]) end
return 1
