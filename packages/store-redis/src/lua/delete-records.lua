-- Deletes records with everything kept for them, all or none; refuses while any
-- is locked by another holder.
-- KEYS[1]: open set; then per record: its lock key, then its other keys
-- ARGV[1]: holder or ''; ARGV[2]: JSON list { key = unprefixed, lock = index, first = index, last = index }
local plan = cjson.decode(ARGV[2])
local locked = {}
for _, r in ipairs(plan) do
  local holder = redis.call('GET', KEYS[r.lock])
  if holder and holder ~= ARGV[1] then locked[#locked + 1] = r.key end
end
if #locked > 0 then return { 'locked', unpack(locked) } end
for _, r in ipairs(plan) do
  for i = r.first, r.last do redis.call('DEL', KEYS[i]) end
  redis.call('DEL', KEYS[r.lock])
  redis.call('SREM', KEYS[1], r.key)
end
return { 'ok' }
