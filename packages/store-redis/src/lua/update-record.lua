-- Conditional update of one record.
-- KEYS[1]: record; KEYS[2]: its lock; KEYS[3]: open set; KEYS[4]: its log; KEYS[5..]: its swarm keys (state first)
-- ARGV[1]: JSON { status = { encoded... } | nil, fields = { [field] = encoded | false } }
-- ARGV[2]: JSON list { field, encoded, ... } to set; ARGV[3]: JSON list of fields to delete
-- ARGV[4]: ttl (s) or ''; ARGV[5]: lock holder or ''; ARGV[6]: 'track' | 'untrack' | ''
-- ARGV[7]: the record key (unprefixed, for the open set); ARGV[8]: now (ms); ARGV[9]: feed channel or ''
-- Returns { 'ok' | 'missing' | 'mismatch' | 'locked', record fields... }
local shared = {}
for i = 5, #KEYS do shared[#shared + 1] = KEYS[i] end
return update(KEYS[1], KEYS[2], KEYS[3], shared, KEYS[4], ARGV)
