-- Accept an async invocation: its record and its envelope in the queue, in one step, or nothing.
-- KEYS: def, queue, containers, asyncQueued, retries, record, idempotency (optional)
-- ARGV: id, payload, expectedVersion, functionName, now, retentionMs, callbackUrl ('' for none),
--       idempotencyKey ('' for none), source (JSON of a stream entry, '' for none)
-- Returns {'queued'}, {'duplicate', firstId}, {'missing'}, {'stale', currentVersion} or {'full', limit}.
--@include pool
--@include async
if KEYS[7] then
  local first = redis.call('GET', KEYS[7])
  if first then return { 'duplicate', first } end
end
local def = redis.call('HMGET', KEYS[1], 'version', 'maxQueuedAsync')
if not def[1] then return { 'missing' } end
if def[1] ~= ARGV[3] then return { 'stale', def[1] } end
if redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) >= tonumber(def[2]) then return { 'full', def[2] } end
redis.call('HSET', KEYS[6], 'id', ARGV[1], 'function', ARGV[4], 'attempts', 0, 'queuedAt', ARGV[5])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[6], 'callbackUrl', ARGV[7]) end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[6], 'idempotencyKey', ARGV[8]) end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[6], 'source', ARGV[9]) end
queueAsync(KEYS[1], KEYS[2], KEYS[4], KEYS[6], ARGV[1], ARGV[4], 1, ARGV[5], ARGV[2])
if KEYS[7] then redis.call('SET', KEYS[7], ARGV[1], 'PX', ARGV[6]) end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[4])
return { 'queued' }
