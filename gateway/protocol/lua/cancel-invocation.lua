-- Cancel an async invocation that no container has taken yet (queued, or waiting for a retry).
-- KEYS: record, queue, asyncQueued, retries
-- ARGV: id, now, retentionMs
-- Returns {'cancelled'}, {'missing'} or {'conflict', status}.
--@include async
local fields = redis.call('HMGET', KEYS[1], 'status', 'envelope')
if not fields[1] then return { 'missing' } end
if fields[1] ~= 'queued' then return { 'conflict', fields[1] } end
if redis.call('ZREM', KEYS[4], ARGV[1]) == 0 and redis.call('LREM', KEYS[2], 1, fields[2]) == 0 then
  -- A container took it between the status read of the caller and now: it is running.
  return { 'conflict', 'running' }
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[2])
redis.call('HDEL', KEYS[1], 'envelope', 'nextAttemptAt')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
ackSource(KEYS[1])
return { 'cancelled' }
