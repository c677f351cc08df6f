-- A container took a request off the queue: mark it busy, and ask for another container if the
-- rest of the queue now has nobody to take it. A container whose record is gone gets none back: it
-- retires when it finishes (mustRetire).
-- KEYS: def, queue, containers
-- ARGV: containerId, busyRecord, functionName
--@include pool
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[3])
return 1
