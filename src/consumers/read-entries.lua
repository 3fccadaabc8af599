-- Bring entries to this consumer within a byte budget, measuring each one inside Redis: an entry larger than
-- the payload limit, or claimed more often than the delivery limit, is moved to the dead-letter stream here,
-- by id, and never reaches the worker. The worker's memory is then bounded by bytes, not by entry count.
--
-- KEYS[1]   the source stream (<prefix>:{<stream>})
-- KEYS[2]   its dead-letter stream (<prefix>:{<stream>}:dlq); same hash tag as KEYS[1]
-- ARGV[1]   mode: `new` (XREADGROUP >) or `claim` (entries pending longer than ARGV[11] on any consumer)
-- ARGV[2]   group            ARGV[3]  this consumer
-- ARGV[4]   most entries to return
-- ARGV[5]   byte budget: stop once the entries returned (or looked at) add up to this many bytes
-- ARGV[6]   STREAMSINK_MAX_PAYLOAD_BYTES: larger entries are dead-lettered with reason `oversize`
-- ARGV[7]   STREAMSINK_MAX_DELIVERIES: a claim past it dead-letters with `max_deliveries_exceeded`
-- ARGV[8]   dlq.dead_lettered_at (ISO time)   ARGV[9] dlq.pipeline   ARGV[10] dlq.pipeline_version
-- ARGV[11]  claim: min idle ms   ARGV[12] claim: first pending id to look at (inclusive)
-- ARGV[13]  claim: suspect delivery count; a suspect comes back alone (quarantine.ts runs it alone)
-- ARGV[14]  claim: last pending id to look at (inclusive); "+" for no end
-- KEYS[3]   optional, ordered partitions: the partition's lease (same hash tag); its token is the LAST ARGV.
--           When the lease is not held by that token the script reads nothing and fails with LEASELOST, so a
--           worker that lost its partition can never take entries into the PEL after the next owner claimed
--           it (src/consumers/partitions/).
--
-- Returns { cursor, entries, dead, deleted }:
--   cursor    claim: where the next call starts ("0-0" when the scan is complete); new: ""
--   entries   flat: id, delivery count, size in bytes, field list; repeated
--   dead      flat: source id, reason; the entries dead-lettered by this call
--   deleted   claim: ids that were pending but no longer exist in the stream (Redis dropped them from the PEL)
--
-- Sizes are the sum of field name and value lengths in bytes (Lua's # on Redis strings), the same measure as
-- the payload limit. New entries are read in chunks sized so that what is kept cannot pass the budget (at
-- most MAX_CHUNK at once, one at a time after an oversize one); claims one at a time. The dead-letter entry has the layout of
-- dead-letter.lua / src/lib/dead-letter-entry.ts; the original fields are the bytes read here.

local stream, dlq = KEYS[1], KEYS[2]
if KEYS[3] and redis.call('GET', KEYS[3]) ~= ARGV[#ARGV] then
  return redis.error_reply('LEASELOST partition lease not held by this worker')
end
local mode, group, consumer = ARGV[1], ARGV[2], ARGV[3]
local maxEntries, budget, maxPayload = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local maxDeliveries = tonumber(ARGV[7])
local MAX_VERBATIM_ITEMS = 4000
-- Most new entries one XREADGROUP inside this script takes at once (see the `new` mode below).
local MAX_CHUNK = 16

-- ISO-8601 UTC time of an entry id's milliseconds (days-from-civil inverse, H. Hinnant).
local function iso(id)
  local ms = tonumber(string.match(id, '^(%d+)%-'))
  if not ms then return '' end
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400 + (m <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
    math.floor(rem % 3600 / 60), rem % 60, ms % 1000)
end

local function size(fields)
  local n = 0
  for i = 1, #fields do n = n + #fields[i] end
  return n
end

local function field(fields, name)
  for i = 1, #fields - 1, 2 do
    if fields[i] == name then return string.sub(fields[i + 1], 1, 128) end
  end
  return nil
end

-- XADD the dead-letter entry and XACK the source, in that order (a failing XADD leaves the entry pending).
local function deadLetter(id, fields, deliveries, reason, errorClass, message)
  local out = { 'dlq.v', '1', 'dlq.source_stream', stream, 'dlq.source_id', id, 'dlq.group', group,
    'dlq.consumer', consumer, 'dlq.reason', reason, 'dlq.error_class', errorClass, 'dlq.error_message', message,
    'dlq.delivery_count', tostring(deliveries), 'dlq.first_seen', iso(id), 'dlq.dead_lettered_at', ARGV[8],
    'dlq.pipeline', ARGV[9], 'dlq.pipeline_version', ARGV[10] }
  local type, eventId = field(fields, 'type'), field(fields, 'id')
  if type then out[#out + 1] = 'dlq.type'; out[#out + 1] = type end
  if eventId then out[#out + 1] = 'dlq.event_id'; out[#out + 1] = eventId end
  if #fields > MAX_VERBATIM_ITEMS then
    out[#out + 1] = 'dlq.original_json'; out[#out + 1] = cjson.encode(fields)
    out[#out + 1] = 'dlq.original_fields'; out[#out + 1] = '0'
  else
    out[#out + 1] = 'dlq.original_fields'; out[#out + 1] = tostring(math.floor(#fields / 2))
    for i = 1, #fields do out[#out + 1] = fields[i] end
    if #fields % 2 == 1 then out[#out + 1] = '' end
  end
  redis.call('XADD', dlq, '*', unpack(out))
  redis.call('XACK', stream, group, id)
end

local entries, dead, deleted = {}, {}, {}
local returned, looked = 0, 0

-- Keep the entry (returned) or dead-letter it (too large). Returns its size.
local function take(id, fields, deliveries)
  local n = size(fields)
  if n > maxPayload then
    deadLetter(id, fields, deliveries, 'oversize', 'EnvelopeError',
      'entry is ' .. n .. ' bytes, over the limit of ' .. maxPayload .. ' bytes')
    dead[#dead + 1] = id; dead[#dead + 1] = 'oversize'
  else
    entries[#entries + 1] = id; entries[#entries + 1] = deliveries
    entries[#entries + 1] = n; entries[#entries + 1] = fields
    returned = returned + 1
  end
  looked = looked + n
end

if mode == 'new' then
  -- In chunks that cannot overshoot the budget: every entry kept is at most maxPayload bytes, so a chunk of
  -- floor(remaining / maxPayload) entries fits whatever they hold. One XREADGROUP per entry cost Redis about
  -- 8 us more per entry than a plain read; chunks of up to MAX_CHUNK cut that to about 3 us. Once an entry
  -- turns out oversize the rest of the call goes one entry at a time again, so the script's own copy holds at
  -- most MAX_CHUNK entries, and at most one oversize one after the first.
  local maxChunk = MAX_CHUNK
  while returned < maxEntries and looked < budget do
    local chunk = math.max(1, math.min(math.floor((budget - looked) / maxPayload), maxEntries - returned, maxChunk))
    local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', chunk, 'STREAMS', stream, '>')
    if not reply then break end
    local got = reply[1][2]
    local deadBefore = #dead
    for i = 1, #got do take(got[i][1], got[i][2], 1) end
    if #dead > deadBefore then maxChunk = 1 end
    if #got < chunk then break end
  end
  return { '', entries, dead, deleted }
end

-- claim: XPENDING lists candidates without loading them; each is claimed (XCLAIM raises its delivery count
-- and returns it) only once it is known to be wanted.
local minIdle, start, suspect = tonumber(ARGV[11]), ARGV[12], tonumber(ARGV[13])
local rows = redis.call('XPENDING', stream, group, 'IDLE', minIdle, start, ARGV[14], maxEntries)
local cursor = '0-0'
for i = 1, #rows do
  local id, deliveries = rows[i][1], rows[i][4] + 1
  if returned >= maxEntries or looked >= budget or (deliveries >= suspect and deliveries <= maxDeliveries and returned > 0) then
    cursor = id
    break
  end
  if deliveries > maxDeliveries then
    -- Claimed too often: it may be what kills the process. Moved by id, never loaded into the worker.
    local found = redis.call('XRANGE', stream, id, id)
    if #found == 1 then
      deadLetter(id, found[1][2], deliveries, 'max_deliveries_exceeded', 'MaxDeliveriesExceeded',
        'delivered too often')
      dead[#dead + 1] = id; dead[#dead + 1] = 'max_deliveries_exceeded'
      looked = looked + size(found[1][2])
    else
      redis.call('XACK', stream, group, id)
      deleted[#deleted + 1] = id
    end
  else
    -- Min idle 0: XPENDING IDLE above already chose it, in this same atomic script. An empty reply can then
    -- only mean the entry is gone, never that it is busy (which would have it acknowledged as deleted).
    local claimed = redis.call('XCLAIM', stream, group, consumer, 0, id)
    if #claimed == 1 then
      take(id, claimed[1][2], deliveries)
      if deliveries >= suspect and deliveries <= maxDeliveries then
        cursor = i < #rows and rows[i + 1][1] or '0-0'
        if i == #rows and #rows == maxEntries then cursor = '(' .. id end
        break
      end
    else
      -- Redis 7 drops a deleted entry from the PEL on XCLAIM and returns nothing for it.
      deleted[#deleted + 1] = id
    end
  end
  if i == #rows and #rows == maxEntries then cursor = '(' .. id end
end
return { cursor, entries, dead, deleted }
