-- One page of a stream, reduced to the event ids its entries carry: what `inbox prune` must not forget
-- (an event whose id is still in the stream can be delivered again, by a replay or a lagging group).
--
-- KEYS[1]   the stream
-- ARGV[1]   where to start: "-" for the beginning, or "(<id>" to start after <id>
-- ARGV[2]   at most this many entries
--
-- Returns {last_entry_id_scanned or "", entries_scanned, event_id_1, event_id_2, ...}: the value of every field named `id`
-- (a malformed entry may have several; all count), so only ids cross the network, never payloads. Fewer
-- than ARGV[2] entries scanned means the end of the stream was reached.

local page = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local out = {'', #page}
for _, entry in ipairs(page) do
  local fields = entry[2]
  for i = 1, #fields - 1, 2 do
    if fields[i] == 'id' then out[#out + 1] = fields[i + 1] end
  end
  out[1] = entry[1]
end
return out
