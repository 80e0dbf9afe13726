-- KEYS[1]: lock; KEYS[2]: its record; ARGV[1]: holder. Releases it only for its holder.
-- (A lease that ran out leaves the record's mark: its next updates read the lock key in vain.)
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[2], LOCK_MARK)
end
return 1
