-- Redrive dead-letter entries: for each, XADD its original fields back onto the source stream and XDEL it
-- from the dead-letter stream, atomically. The original fields carry the original event id, so the worker's
-- inbox still recognises an event that had been applied before.
--
-- KEYS[1]      the source stream (<prefix>:{<stream>})
-- KEYS[2]      its dead-letter stream (<prefix>:{<stream>}:dlq); same hash tag as KEYS[1]
-- ARGV[1..n]   dead-letter entry ids
--
-- Returns a flat array of 2n items: for id i, a status and a detail:
--    1, <new source entry id>   redriven
--    0, ""                      not in the dead-letter stream (already redriven or purged): nothing written
--   -1, <message>               not redriven, left where it was (unreadable entry, XADD refused)
--
-- The dead-letter entry layout is docs/wire-format.md#dead-letter-entries: a header of dlq.* fields ending
-- with `dlq.original_fields` N, then the original's 2N items verbatim, or the original JSON-encoded in
-- `dlq.original_json` when it was too long to store verbatim.
--
-- Why one script: XADD and XDEL as one step means an interrupted redrive never re-publishes an entry that stays
-- in the dead-letter stream (a second run would publish it twice); the entry leaves only once its re-publish
-- succeeded. A failed XADD has written nothing, so the entry is kept.

local stream = KEYS[1]
local dlq = KEYS[2]
local out = {}

local function original_of(fields)
  local i = 1
  local json = nil
  while i < #fields do
    local name = fields[i]
    if name == 'dlq.original_fields' then
      if json then
        local ok, decoded = pcall(cjson.decode, json)
        if not ok or type(decoded) ~= 'table' then return nil, 'dlq.original_json is not JSON' end
        return decoded
      end
      local count = tonumber(fields[i + 1])
      if not count or #fields - (i + 1) ~= 2 * count then return nil, 'original field count does not match' end
      local original = {}
      for j = i + 2, #fields do original[#original + 1] = fields[j] end
      return original
    end
    if string.sub(name, 1, 4) ~= 'dlq.' then return nil, 'not a dead-letter entry' end
    if name == 'dlq.original_json' then json = fields[i + 1] end
    i = i + 2
  end
  return nil, 'no dlq.original_fields count'
end

for _, id in ipairs(ARGV) do
  local found = redis.call('XRANGE', dlq, id, id)
  if #found == 0 then
    out[#out + 1] = 0
    out[#out + 1] = ''
  else
    local original, problem = original_of(found[1][2])
    if not original then
      out[#out + 1] = -1
      out[#out + 1] = problem
    elseif #original == 0 then
      out[#out + 1] = -1
      out[#out + 1] = 'original entry has no fields'
    else
      local ok, added = pcall(function() return redis.call('XADD', stream, '*', unpack(original)) end)
      if ok then
        redis.call('XDEL', dlq, id)
        out[#out + 1] = 1
        out[#out + 1] = added
      else
        out[#out + 1] = -1
        out[#out + 1] = 'XADD refused: ' .. tostring(type(added) == 'table' and added.err or added)
      end
    end
  end
end

return out
