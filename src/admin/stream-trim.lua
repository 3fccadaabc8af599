-- Trim a stream up to what every consumer group has read and acknowledged, and no further than the replay
-- window allows. One atomic step: the floors and the trim see the same state, so a group that reads, acks or
-- appears meanwhile is never overtaken (docs/retention.md#trimming).
--
-- KEYS[1]   the stream (<prefix>:{<stream>}, or one partition's key: the script knows one key only)
-- ARGV[1]   keep: the replay window in milliseconds; entries younger than (Redis TIME - keep) stay
-- ARGV[2]   "1" for a dry run (count what would go, change nothing), "0" to trim
-- ARGV[3]   at most this many entries per call (trim: the whole-node pass, XTRIM ~ LIMIT; dry run: entries
--           counted); the caller repeats while `more` is 1
-- ARGV[4]   dry run only: where to count from, "-" or "(<id>" (the previous call's cursor)
--
-- Returns a flat array:
--   {"no_stream"}                          the key does not exist
--   {"no_groups", now_ms}                  no consumer group: nothing is trimmed (nobody said what they read)
--   {"ok", now_ms, threshold, removed, more, cursor, first_id, last_id, n, group_1, floor_1, ...}
--     threshold   entries with a lower id were (or, dry run, would be) removed
--     removed     entries removed by this call (dry run: entries below the threshold counted by this call)
--     more        1 when another call may remove (count) more
--     cursor      dry run: the last entry id counted, to pass as "(<id>" to the next call ("" when none)
--     first_id / last_id  the stream's first and last entry after this call ("" when empty)
--     group_i / floor_i   each group and its floor: its oldest pending id, or the id after its last-delivered
--                         id when nothing is pending (everything up to it is read and acknowledged)
--
-- Ids are compared as (ms, seq) decimal strings, never as Lua numbers (doubles lose precision past 2^53).

local key = KEYS[1]
local keep = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local limit = tonumber(ARGV[3])
local from = ARGV[4]

if redis.call('EXISTS', key) == 0 then return {'no_stream'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function split(id)
  local dash = string.find(id, '-', 1, true)
  return string.sub(id, 1, dash - 1), string.sub(id, dash + 1)
end

local function cmp_dec(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end

local function cmp(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  local c = cmp_dec(am, bm)
  if c ~= 0 then return c end
  return cmp_dec(as, bs)
end

-- Decimal string + 1.
local function inc(s)
  local digits = {}
  for i = 1, #s do digits[i] = string.byte(s, i) - 48 end
  local i = #digits
  while i >= 1 do
    if digits[i] < 9 then
      digits[i] = digits[i] + 1
      break
    end
    digits[i] = 0
    i = i - 1
  end
  local out = table.concat(digits)
  if i == 0 then out = '1' .. out end
  return out
end

-- The id right after `id`: (ms, seq + 1), or (ms + 1, 0) when seq is the largest a stream id can hold.
local function next_id(id)
  local ms, seq = split(id)
  if seq == '18446744073709551615' then return inc(ms) .. '-0' end
  return ms .. '-' .. inc(seq)
end

local groups = redis.call('XINFO', 'GROUPS', key)
if #groups == 0 then return {'no_groups', now} end

local floors = {}
local floor = nil
for _, g in ipairs(groups) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] end
    if g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  local summary = redis.call('XPENDING', key, name)
  local f
  if tonumber(summary[1]) > 0 then f = summary[2] else f = next_id(last) end
  floors[#floors + 1] = name
  floors[#floors + 1] = f
  if floor == nil or cmp(f, floor) < 0 then floor = f end
end

local cutoff = now - keep
if cutoff < 0 then cutoff = 0 end
local threshold = floor
local by_time = string.format('%d', cutoff) .. '-0'
if cmp(by_time, threshold) < 0 then threshold = by_time end

local removed = 0
local more = 0
local cursor = ''
if dry then
  -- Count at most `limit` entries per call, so a dry run never blocks Redis for long; nothing is below 0-0
  -- (and XRANGE refuses an exclusive end of 0-0).
  if threshold ~= '0-0' then
    local start = from
    while removed < limit do
      local want = math.min(1000, limit - removed)
      local page = redis.call('XRANGE', key, start, '(' .. threshold, 'COUNT', want)
      removed = removed + #page
      if #page > 0 then cursor = page[#page][1] end
      if #page < want then break end
      start = '(' .. cursor
    end
    if removed >= limit then more = 1 end
  end
else
  -- Whole radix-tree nodes first, bounded by LIMIT so one call never blocks Redis for long; `~` removes only
  -- nodes entirely below the threshold. When it finds no whole node to remove, an exact pass removes the
  -- rest below the threshold, which is less than one node.
  local approx = redis.call('XTRIM', key, 'MINID', '~', threshold, 'LIMIT', limit)
  removed = approx
  if approx > 0 then
    more = 1
  else
    removed = redis.call('XTRIM', key, 'MINID', threshold)
  end
end

local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
local out = {
  'ok', now, threshold, removed, more, cursor,
  first[1] and first[1][1] or '', last[1] and last[1][1] or '', #groups,
}
for _, v in ipairs(floors) do out[#out + 1] = v end
return out
