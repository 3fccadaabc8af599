-- Move entries from a stream to its dead-letter stream: for each, XADD the dead-letter entry and XACK the
-- source entry, atomically, and only if the source entry is still pending for the group.
--
-- KEYS[1]      the source stream (<prefix>:{<stream>})
-- KEYS[2]      its dead-letter stream (<prefix>:{<stream>}:dlq); same hash tag as KEYS[1]
-- ARGV[1]      the consumer group
-- ARGV[2..]    the records, one after another: the source entry id, a field count c, then c items
--              (the dead-letter entry's fields: name, value, name, value, ...)
--
-- Returns a flat array of 2n items: for record i, a status and an id:
--   1, <dead-letter entry id>   moved
--   0, ""                       not pending for the group any more (already moved by an earlier, retried call,
--                               or acknowledged by another consumer): nothing written
--
-- Why check XPENDING first and XACK last: a retried call (the reply to the first was lost) must not add a
-- second dead-letter entry, and XADD is the step that can fail (OOM, wrong key type); failing before the XACK
-- leaves the entry pending, never acknowledged without a dead-letter copy.

local stream = KEYS[1]
local dlq = KEYS[2]
local group = ARGV[1]
local out = {}
local pos = 2

while pos <= #ARGV do
  local id = ARGV[pos]
  local count = tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + count
  local pending = redis.call('XPENDING', stream, group, id, id, 1)
  if #pending == 1 then
    local added = redis.call('XADD', dlq, '*', unpack(ARGV, first, pos - 1))
    redis.call('XACK', stream, group, id)
    out[#out + 1] = 1
    out[#out + 1] = added
  else
    out[#out + 1] = 0
    out[#out + 1] = ''
  end
end

return out
