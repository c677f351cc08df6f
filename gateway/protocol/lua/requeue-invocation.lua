-- A container took a request meant for a newer version of its function: put the request back at the
-- head of the queue and retire the container.
-- KEYS: def, queue, containers, draining, running
-- ARGV: containerId, functionName
--@include pool
local envelope = redis.call('LPOP', KEYS[5])
if envelope then redis.call('RPUSH', KEYS[2], envelope) end
removeContainer(KEYS[3], KEYS[4], ARGV[1])
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
return 1
