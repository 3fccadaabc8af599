-- Renew a partition lease only if this worker still holds it (compare-and-PEXPIRE). A blind PEXPIRE would
-- extend a lease another worker acquired after ours ran out.
--
-- KEYS[1]  the lease key (<prefix>:{<stream>/<p>/<n>}:lease:<group>)
-- ARGV[1]  this worker's token (its member id)
-- ARGV[2]  new time to live, ms
--
-- Returns 1 when renewed, 0 when the lease is gone or held by another worker.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
