-- Move entries from a stream to its dead-letter stream: for each, XADD the dead-letter entry and XACK the
-- source entry, atomically, and only if the source entry is still pending for the group.
--
-- KEYS[1]      the source stream (<prefix>:{<stream>})
-- KEYS[2]      its dead-letter stream (<prefix>:{<stream>}:dlq); same hash tag as KEYS[1]
-- ARGV[1]      the consumer group
-- ARGV[2..]    the records, one after another: the source entry id, a field count c, a header length h,
--              then c items (the dead-letter entry's fields: name, value, name, value, ...). The first h items
--              are the dlq.* header, ending with `dlq.original_fields`, N; the rest are the original's items as
--              the client decoded them.
--
-- The original items are copied from the source entry itself (XRANGE inside this script) whenever it is still
-- in the stream, so the dead-letter copy is byte for byte what the producer wrote, even when the client could
-- not decode it as UTF-8 (binary garbage). The client's copy is used only when the entry was trimmed away, or
-- when h == c (the original was too long and travels JSON-encoded in the header).
--
-- Returns a flat array of 2n items: for record i, a status and an id:
--   1, <dead-letter entry id>   moved
--   0, ""                       not pending for the group any more (already moved by an earlier, retried call,
--                               or acknowledged by another consumer): nothing written
--   2, ""                       not pending because the group has not delivered it yet: the group was destroyed
--                               and recreated behind it (at an id before the entry), so it will be delivered
--                               again; nothing written
-- A group that does not exist fails the call with NOGROUP before anything is written.
--
-- Why check XPENDING first and XACK last: a retried call (the reply to the first was lost) must not add a
-- second dead-letter entry, and XADD is the step that can fail (OOM, wrong key type); failing before the XACK
-- leaves the entry pending, never acknowledged without a dead-letter copy.

local stream = KEYS[1]
local dlq = KEYS[2]
local group = ARGV[1]
local out = {}
local pos = 2

-- Whether stream id a comes after stream id b (ids are <ms>-<seq> in decimal, no leading zeros; compared as
-- digit strings, so exactly at any size).
local function after(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  if not ams or not bms then return false end
  if #ams ~= #bms then return #ams > #bms end
  if ams ~= bms then return ams > bms end
  if #aseq ~= #bseq then return #aseq > #bseq end
  return aseq > bseq
end

-- The group's last-delivered id, read once and only when an entry is found not pending.
local lastDelivered = nil
local function groupLastDelivered()
  if lastDelivered == nil then
    lastDelivered = ''
    for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local fields = {}
      for i = 1, #info, 2 do fields[info[i]] = info[i + 1] end
      if fields['name'] == group then lastDelivered = fields['last-delivered-id'] end
    end
  end
  return lastDelivered
end

while pos <= #ARGV do
  local id = ARGV[pos]
  local count = tonumber(ARGV[pos + 1])
  local header = tonumber(ARGV[pos + 2])
  local first = pos + 3
  pos = first + count
  local pending = redis.call('XPENDING', stream, group, id, id, 1)
  if #pending == 1 then
    local source = nil
    if header < count then
      local found = redis.call('XRANGE', stream, id, id)
      if #found == 1 then source = found[1][2] end
    end
    local added
    if source then
      local fields = {}
      for i = first, first + header - 2 do fields[#fields + 1] = ARGV[i] end
      fields[#fields + 1] = tostring(#source / 2)
      for i = 1, #source do fields[#fields + 1] = source[i] end
      added = redis.call('XADD', dlq, '*', unpack(fields))
    else
      added = redis.call('XADD', dlq, '*', unpack(ARGV, first, pos - 1))
    end
    redis.call('XACK', stream, group, id)
    out[#out + 1] = 1
    out[#out + 1] = added
  else
    if after(id, groupLastDelivered()) then out[#out + 1] = 2 else out[#out + 1] = 0 end
    out[#out + 1] = ''
  end
end

return out
