-- A container took a request off the queue: mark it busy, and ask for another container if the
-- rest of the queue now has nobody to take it. A container whose record is gone gets none back: it
-- retires when it finishes (mustRetire). An async invocation's record shows it running.
-- KEYS: def, queue, containers, asyncQueued, record (async only)
-- ARGV: containerId, busyRecord, functionName, invocationId, now
--@include pool
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
if KEYS[5] then
  redis.call('ZREM', KEYS[4], ARGV[4])
  if redis.call('EXISTS', KEYS[5]) == 1 then
    redis.call('HSET', KEYS[5], 'status', 'running', 'startedAt', ARGV[5], 'container', ARGV[1])
    redis.call('HINCRBY', KEYS[5], 'attempts', 1)
  end
end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[3])
return 1
