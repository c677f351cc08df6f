-- Accept an async invocation: its record and its envelope in the queue, in one step, or nothing.
-- An Idempotency-Key holds '<fingerprint> <id>' of the request first accepted with it: the same
-- request again answers that id, another request with the key answers 'mismatch'.
-- KEYS: def, queue, containers, asyncQueued, retries, record, idempotency (optional)
-- ARGV: id, payload, expectedVersion, functionName, now, retentionMs, callbackUrl ('' for none),
--       idempotencyKey ('' for none), source (JSON of a stream entry, '' for none), fingerprint
-- Returns {'queued'}, {'duplicate', firstId}, {'mismatch'}, {'missing'}, {'stale', currentVersion} or {'full', limit}.
--@include pool
--@include async
local defKey, queueKey, containersKey, asyncQueuedKey, retriesKey, recordKey, idempotencyKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id, payload, expectedVersion, fn, now, retentionMs, callbackUrl, key, source, fingerprint =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
if idempotencyKey then
  local first = redis.call('GET', idempotencyKey)
  if first then
    local firstFingerprint, firstId = string.match(first, '^(%x+) (.+)$')
    if firstFingerprint == fingerprint then return { 'duplicate', firstId } end
    return { 'mismatch' }
  end
end
local def = redis.call('HMGET', defKey, 'version', 'maxQueuedAsync')
if not def[1] then return { 'missing' } end
if def[1] ~= expectedVersion then return { 'stale', def[1] } end
if redis.call('ZCARD', asyncQueuedKey) + redis.call('ZCARD', retriesKey) >= tonumber(def[2]) then return { 'full', def[2] } end
redis.call('HSET', recordKey, 'id', id, 'function', fn, 'attempts', 0, 'queuedAt', now)
if callbackUrl ~= '' then redis.call('HSET', recordKey, 'callbackUrl', callbackUrl) end
if key ~= '' then redis.call('HSET', recordKey, 'idempotencyKey', key) end
if source ~= '' then redis.call('HSET', recordKey, 'source', source) end
queueAsync(defKey, queueKey, asyncQueuedKey, recordKey, id, fn, 1, now, payload)
if idempotencyKey then redis.call('SET', idempotencyKey, fingerprint .. ' ' .. id, 'PX', retentionMs) end
signalWorkIfNeeded(defKey, queueKey, containersKey, fn)
return { 'queued' }
