-- Shared by the swarm scripts. A swarm's state hash (P:sw:K:s) holds its counters
-- (`total`, `queued`, `running`, `done`, `failed`, `closed`), a copy of its record's
-- `status` (written by every status change, see update.lua) and its slots (`slot:<member>`
-- -> worker), so a step reads all it needs, and whether a member holds a slot, in one HMGET
-- and writes the counters with the slots it gives in one HSET.

-- The counters (nil when the swarm has no state: never added to, or deleted); `slot`: the
-- worker holding `member`'s slot, or false
local function readCounters(state, member)
  local v = redis.call('HMGET', state, 'total', 'queued', 'running', 'done', 'failed', 'closed', 'status', 'slot:' .. (member or ''))
  if not v[1] then return nil end
  return {
    total = tonumber(v[1]), queued = tonumber(v[2] or '0'), running = tonumber(v[3] or '0'),
    done = tonumber(v[4] or '0'), failed = tonumber(v[5] or '0'), closed = tonumber(v[6] or '0'), status = v[7], slot = v[8],
  }
end

-- as SwarmCounts, in this order; zeros for a swarm without state
local function countsOf(c)
  if not c then return { 0, 0, 0, 0, 0, 0 } end
  return { c.total, c.queued, c.running, c.done, c.failed, c.closed }
end

-- A queued member's score: its add sequence (its position among all members ever added,
-- from 1) under its priority rank (0 high, 1 medium, 2 low), claimed lowest first. The rank
-- takes the bits above 2^40 (sequences stay exact up to 2^40).
local LEVEL_SPAN = 1099511627776
local DEFAULT_RANK = 1
local function queueScore(rank, seq)
  return rank * LEVEL_SPAN + seq
end

-- A member whose rank is not the default keeps it in the state as `rank:<member>`, so a
-- rerun (swarm-reset) queues it at the same rank.
local RANK_FIELD = 'rank:'

-- ZADD NX of members[first..last] at sequences offset + i, at ranks[i] (nil: the default);
-- returns how many were new (a member added again while queued keeps its place). The ranks
-- that are not the default are appended to `keep` as state fields.
local function enqueue(queue, members, first, last, offset, ranks, keep)
  local args = { 'NX' }
  for i = first, last do
    local rank = ranks and ranks[i] or DEFAULT_RANK
    if rank ~= DEFAULT_RANK and keep then
      keep[#keep + 1] = RANK_FIELD .. members[i]
      keep[#keep + 1] = rank
    end
    args[#args + 1] = queueScore(rank, offset + i)
    args[#args + 1] = members[i]
  end
  return redis.call('ZADD', queue, unpack(args))
end
