-- A container finished its request (its result is already on the way): back to idle, or retire.
-- KEYS: def, queue, containers, draining, running
-- ARGV: containerId, version, idleRecord, functionName
-- Returns 1 (take the next request) or 0 (exit).
--@include pool
redis.call('DEL', KEYS[5])
if mustRetire(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[2]) then
  removeContainer(KEYS[3], KEYS[4], ARGV[1])
  signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[4])
  return 0
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1
