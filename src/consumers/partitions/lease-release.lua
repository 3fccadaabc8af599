-- Release a partition lease only if this worker still holds it (compare-and-release), so a worker that lost its
-- lease never releases the next owner's. Released by overwriting it with no holder and a 1 ms life rather than
-- DEL, so the worker's Redis ACL user needs no DEL (k8s/redis-acl.conf): from now on no token matches it (no
-- renewal brings it back) and within a millisecond it is gone for the next SET NX.
--
-- KEYS[1]  the lease key (<prefix>:{<stream>/<p>/<n>}:lease:<group>)
-- ARGV[1]  this worker's token (its member id)
--
-- Returns 1 when released, 0 when the lease is gone or held by another worker.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], '', 'PX', 1)
  return 1
end
return 0
