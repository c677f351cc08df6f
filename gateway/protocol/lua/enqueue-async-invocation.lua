-- Accept an async invocation: its record, and its envelope handed to the pool, in one step, or nothing.
-- An Idempotency-Key holds '<fingerprint> <id>' of the request first accepted with it: the same
-- request again answers that id, another request with the key answers 'mismatch'.
--@include pool
--@include async
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], idle = KEYS[4], asyncQueued = KEYS[5] }
local retriesKey, recordKey, idempotencyKey = KEYS[6], KEYS[7], KEYS[8]
local id, payload, expectedVersion, now, retentionMs, callbackUrl, key, source, fingerprint =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
p.fn, p.events, p.inboxPrefix = ARGV[10], ARGV[11], ARGV[12]
-- idempotencyKey: absent without an Idempotency-Key (then key is ''). callbackUrl, source (JSON of a
-- stream entry): '' for none.
-- Returns {'queued'}, {'duplicate', firstId}, {'mismatch'}, {'missing'}, {'stale', currentVersion} or {'full', limit}.
if idempotencyKey then
  local first = redis.call('GET', idempotencyKey)
  if first then
    local firstFingerprint, firstId = string.match(first, '^(%x+) (.+)$')
    if firstFingerprint == fingerprint then return { 'duplicate', firstId } end
    return { 'mismatch' }
  end
end
local def = redis.call('HMGET', p.def, 'version', 'maxQueuedAsync')
if not def[1] then return { 'missing' } end
if def[1] ~= expectedVersion then return { 'stale', def[1] } end
if redis.call('ZCARD', p.asyncQueued) + redis.call('ZCARD', retriesKey) >= tonumber(def[2]) then return { 'full', def[2] } end
redis.call('HSET', recordKey, 'id', id, 'function', p.fn, 'attempts', 0, 'queuedAt', now)
if callbackUrl ~= '' then redis.call('HSET', recordKey, 'callbackUrl', callbackUrl) end
if key ~= '' then redis.call('HSET', recordKey, 'idempotencyKey', key) end
if source ~= '' then redis.call('HSET', recordKey, 'source', source) end
queueAsync(p, recordKey, id, 1, now, payload)
if idempotencyKey then redis.call('SET', idempotencyKey, fingerprint .. ' ' .. id, 'PX', retentionMs) end
return { 'queued' }
