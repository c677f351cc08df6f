-- Cancel an async invocation that no container has taken yet (queued, or waiting for a retry).
--@include async
local recordKey, queueKey, asyncQueuedKey, retriesKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, now, retentionMs = ARGV[1], ARGV[2], ARGV[3]
-- Returns {'cancelled', sources} (the stream entry it came from, if any, which the caller acknowledges),
-- {'missing'} or {'conflict', status}.
local fields = redis.call('HMGET', recordKey, 'status', 'envelope')
if not fields[1] then return { 'missing' } end
if fields[1] ~= 'queued' then return { 'conflict', fields[1] } end
if redis.call('ZREM', retriesKey, id) == 0 and redis.call('LREM', queueKey, 1, fields[2]) == 0 then
  -- A container has it already (in its inbox, or running): it is running.
  return { 'conflict', 'running' }
end
redis.call('ZREM', asyncQueuedKey, id)
redis.call('HSET', recordKey, 'status', 'cancelled', 'finishedAt', now)
redis.call('HDEL', recordKey, 'envelope', 'nextAttemptAt')
redis.call('PEXPIRE', recordKey, retentionMs)
local sources = {}
addSource(sources, sourceOf(recordKey))
return { 'cancelled', sources }
