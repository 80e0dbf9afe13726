-- Shared by swarm-claim and swarm-finish: moves queued members into free slots
-- while the swarm record's status is one of the allowed ones.
-- rec, counters, queue, running: keys; max: slots; allowed: encoded statuses; worker: holder;
-- limit: most to claim in this step (nil: no limit); stopAfter: claim nothing once this
-- many members failed (nil: no limit), so a failing step never hands its slot on
local function claim(rec, counters, queue, running, max, allowed, worker, limit, stopAfter)
  if stopAfter and tonumber(redis.call('HGET', counters, 'failed') or '0') >= stopAfter then return {} end
  local status = redis.call('HGET', rec, 'status')
  local ok = false
  for _, s in ipairs(allowed) do
    if s == status then ok = true end
  end
  local claimed = {}
  if not ok then return claimed end
  while redis.call('HLEN', running) < max and (not limit or #claimed < limit) do
    local member = redis.call('LPOP', queue)
    if not member then break end
    redis.call('HSET', running, member, worker)
    claimed[#claimed + 1] = member
  end
  return claimed
end

local function counts(counters, queue, running)
  local c = redis.call('HMGET', counters, 'total', 'done', 'failed', 'closed')
  return {
    tonumber(c[1] or '0'), redis.call('LLEN', queue), redis.call('HLEN', running),
    tonumber(c[2] or '0'), tonumber(c[3] or '0'), tonumber(c[4] or '0'),
  }
end
