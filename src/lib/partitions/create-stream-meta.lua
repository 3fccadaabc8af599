-- Create a partitioned stream's metadata, once.
-- KEYS[1] = <prefix>:{<stream>}:meta   KEYS[2] = <prefix>:{<stream>} (the unpartitioned stream key)
-- ARGV: partitions, hash, tags scheme, created-at ms
-- Returns {'created', P} | {'exists', P} | {'unpartitioned', entries}
local existing = redis.call('HGET', KEYS[1], 'partitions')
if existing then return {'exists', tonumber(existing)} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {'unpartitioned', redis.call('XLEN', KEYS[2])}
end
redis.call('HSET', KEYS[1], 'partitions', ARGV[1], 'hash', ARGV[2], 'tags', ARGV[3], 'createdAt', ARGV[4])
return {'created', tonumber(ARGV[1])}
