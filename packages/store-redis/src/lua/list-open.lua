-- KEYS[1]: open set; ARGV: cursor, count, record key prefix ('P:rec:').
-- One SSCAN page; entries whose record expired are dropped from the set.
local page = redis.call('SSCAN', KEYS[1], ARGV[1], 'COUNT', tonumber(ARGV[2]))
local live = {}
for _, key in ipairs(page[2]) do
  if redis.call('EXISTS', ARGV[3] .. key) == 1 then
    live[#live + 1] = key
  else
    redis.call('SREM', KEYS[1], key)
  end
end
return { page[1], unpack(live) }
