-- Idempotent publish of a chunk of events onto one stream, atomically per event and for the whole chunk.
--
-- KEYS[1]        the stream (<prefix>:{<stream>})
-- KEYS[1 + i]    the dedupe key of event i (<prefix>:{<stream>}:dedupe:<id>), i = 1..n; same hash tag as KEYS[1]
-- ARGV[1]        dedupe window in milliseconds (PX of each dedupe key)
-- ARGV[2]        MAXLEN for approximate trimming (`MAXLEN ~ n`), or "0" for no trimming
-- ARGV[3..]      the events, one after another: the event's content hash (64 hex), a field count c, then
--                c items (name, value, name, value, ...)
--
-- Returns a flat array of 2n items: for event i, a status (1 = added, 0 = duplicate, 2 = conflict) and the
-- entry id (the new entry's id; for a duplicate or a conflict the id of the entry the first publish added).
--
-- The dedupe marker's value is "<entry id> <content hash>". A marker written by an older producer holds the
-- entry id alone: its content is unknown, so a later publish of that id is a duplicate whatever its content
-- (the worker's inbox still tells a conflict apart). Same content (same hash) is a duplicate; other content is
-- a conflict, and nothing is written for it.
--
-- Why one script per chunk: the dedupe check and the XADD must be one atomic step (check-then-add from the
-- client would race with a concurrent producer), and one EVALSHA for many events keeps the round trips and
-- the per-call overhead close to plain pipelined XADD. A later event in the chunk with the same id as an
-- earlier one finds the earlier one's dedupe key, so it is a duplicate of it (or a conflict with it).

local stream = KEYS[1]
local window = ARGV[1]
local maxlen = tonumber(ARGV[2])
local out = {}
local pos = 3

for i = 2, #KEYS do
  local hash = ARGV[pos]
  local count = tonumber(ARGV[pos + 1])
  local first = pos + 2
  pos = first + count
  local existing = redis.call('GET', KEYS[i])
  if existing then
    local space = string.find(existing, ' ', 1, true)
    if space and string.sub(existing, space + 1) ~= hash then
      out[#out + 1] = 2
    else
      out[#out + 1] = 0
    end
    out[#out + 1] = space and string.sub(existing, 1, space - 1) or existing
  else
    local id
    if maxlen > 0 then
      id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', unpack(ARGV, first, pos - 1))
    else
      id = redis.call('XADD', stream, '*', unpack(ARGV, first, pos - 1))
    end
    redis.call('SET', KEYS[i], id .. ' ' .. hash, 'PX', window)
    out[#out + 1] = 1
    out[#out + 1] = id
  end
end

return out
