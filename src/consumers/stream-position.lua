-- Where a stream stands, without its entries: XINFO STREAM also returns the first and last entries with
-- all their fields (up to the payload limit each), which this script drops inside Redis so a sampler
-- running every few seconds never pulls megabytes of payload into the worker.
--
-- KEYS[1]      the stream (<prefix>:{<stream>})
--
-- Returns {0} when the stream does not exist, else {1, last-generated-id, entries-added}; entries-added is
-- -1 before Redis 7 (no such field).

local ok, info = pcall(redis.call, 'XINFO', 'STREAM', KEYS[1])
if not ok then
  local message = type(info) == 'table' and info.err or tostring(info)
  if string.find(string.lower(message), 'no such key', 1, true) then return {0} end
  return redis.error_reply(message)
end
local last = '0-0'
local added = -1
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then last = info[i + 1] end
  if info[i] == 'entries-added' then added = info[i + 1] end
end
return {1, last, added}
