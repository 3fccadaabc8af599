-- Delete a consumer from a group only if it holds no pending entries, atomically: XGROUP DELCONSUMER drops
-- the consumer's pending entries with it, so checking and deleting in two round trips could lose entries
-- that the consumer read in between.
--
-- KEYS[1]  the stream
-- ARGV[1]  the group
-- ARGV[2]  the consumer to delete
--
-- Returns 1 when the consumer was deleted (or did not exist), 0 when it has pending entries (kept).
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #pending > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
