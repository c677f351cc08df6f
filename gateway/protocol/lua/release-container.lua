-- A container is gone (exited, killed, or never started): forget it and hand back what it held.
-- KEYS: def, queue, containers, draining, running
-- ARGV: containerId, functionName, failQueuedWhenPoolEmpty ('1' after a failed start)
-- Returns {orphaned, failed}: the envelopes it was running, and, after a failed start that left the
-- function with no container at all, the queued envelopes nobody can serve.
--@include pool
local orphaned = redis.call('LRANGE', KEYS[5], 0, -1)
redis.call('DEL', KEYS[5])
removeContainer(KEYS[3], KEYS[4], ARGV[1])
local failed = {}
if ARGV[3] == '1' and redis.call('HLEN', KEYS[3]) == 0 then
  failed = redis.call('LRANGE', KEYS[2], 0, -1)
  redis.call('DEL', KEYS[2])
end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
return { orphaned, failed }
