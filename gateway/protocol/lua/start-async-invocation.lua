-- A container started an async invocation: its record shows it running, and it no longer counts as queued.
local asyncQueuedKey, recordKey = KEYS[1], KEYS[2]
local id, containerId, now = ARGV[1], ARGV[2], ARGV[3]
redis.call('ZREM', asyncQueuedKey, id)
if redis.call('EXISTS', recordKey) == 1 then
  redis.call('HSET', recordKey, 'status', 'running', 'startedAt', now, 'container', containerId)
  redis.call('HINCRBY', recordKey, 'attempts', 1)
end
return 1
