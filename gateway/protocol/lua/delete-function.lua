-- Delete a function, its code package, its queue, retries, dead letters, stream subscriptions, log
-- lines and invocation history. Its idle containers are woken to retire, busy ones retire after their
-- request (mustRetire); its async invocations not yet finished fail.
--@include pool
--@include async
local defKey, queueKey, asyncQueuedKey, streamsKey, indexKey, codeBytesKey, logsKey, historyKey, idleKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local k = { def = KEYS[1], retries = KEYS[4], deadLetters = KEYS[5], callbacks = KEYS[6], stats = KEYS[7] }
local fn, codePrefix, now, retentionMs, recordPrefix, failedResult, group, inboxPrefix, events =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
k.events = events
-- Returns nil when there was no such function, else the sync envelopes that were still queued.
redis.call('SREM', indexKey, fn)
local sha = redis.call('HGET', defKey, 'codeSha')
if not sha then return false end
redis.call('DECRBY', codeBytesKey, redis.call('STRLEN', codePrefix .. sha))
redis.call('DEL', defKey, codePrefix .. sha)
local function fail(id)
  k.record = recordPrefix .. id
  if redis.call('EXISTS', k.record) == 1 then finishAsync(k, id, 'failed', '404', '1', failedResult, now, retentionMs, fn) end
end
local queued = {}
for _, envelope in ipairs(redis.call('LRANGE', queueKey, 0, -1)) do
  local async, id = isAsync(envelope)
  if async then fail(id) else table.insert(queued, envelope) end
end
for _, id in ipairs(redis.call('ZRANGE', k.retries, 0, -1)) do fail(id) end
for _, id in ipairs(redis.call('ZRANGE', k.deadLetters, 0, -1)) do redis.call('PEXPIRE', recordPrefix .. id, retentionMs) end
-- Its consumer groups go with its subscriptions; the streams are their producers' (and outside this slot).
for _, stream in ipairs(redis.call('HKEYS', streamsKey)) do
  if redis.call('TYPE', stream).ok == 'stream' then redis.pcall('XGROUP', 'DESTROY', stream, group) end
end
redis.call('DEL', queueKey, asyncQueuedKey, k.retries, k.deadLetters, streamsKey, logsKey, historyKey)
wakeAllIdle({ idle = idleKey, inboxPrefix = inboxPrefix })
redis.call('PUBLISH', events, 'deleted ' .. fn)
return queued
