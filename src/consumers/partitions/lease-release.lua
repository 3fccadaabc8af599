-- Release a partition lease only if this worker still holds it (compare-and-DEL), so a worker that lost its
-- lease never deletes the next owner's.
--
-- KEYS[1]  the lease key (<prefix>:{<stream>/<p>/<n>}:lease:<group>)
-- ARGV[1]  this worker's token (its member id)
--
-- Returns 1 when deleted, 0 when the lease is gone or held by another worker.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
