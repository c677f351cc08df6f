-- Delete a function, its code package, its queue, retries, dead letters, stream subscriptions, log
-- lines and invocation history. Its idle containers are woken to retire, busy ones retire after their
-- request (mustRetire); its async invocations not yet finished fail.
-- Only the function's own keys (one Redis Cluster slot): the caller then removes it from the global
-- index, gives its code bytes back to the quota, and destroys its consumer groups on the streams (their
-- producers' keys) that this returns.
--@include pool
--@include async
local defKey, queueKey, asyncQueuedKey, streamsKey, logsKey, historyKey, idleKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local k = { def = KEYS[1], retries = KEYS[4], deadLetters = KEYS[5], callbacks = KEYS[6], stats = KEYS[7] }
local fn, codePrefix, now, retentionMs, recordPrefix, failedResult, inboxPrefix, events =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
k.events = events
-- Returns nil when there was no such function, else {the bytes of its code package, the streams it
-- was subscribed to, the sync envelopes that were still queued}.
local sha = redis.call('HGET', defKey, 'codeSha')
if not sha then return false end
local codeBytes = redis.call('STRLEN', codePrefix .. sha)
redis.call('DEL', defKey, codePrefix .. sha)
local function fail(id)
  k.record = recordPrefix .. id
  -- Its stream entry is not returned: the caller destroys the function's consumer groups, and their
  -- pending entries with them.
  if redis.call('EXISTS', k.record) == 1 then finishAsync(k, id, 'failed', '404', '1', failedResult, now, retentionMs, fn) end
end
local queued = {}
for _, envelope in ipairs(redis.call('LRANGE', queueKey, 0, -1)) do
  local async, id = isAsync(envelope)
  if async then fail(id) else table.insert(queued, envelope) end
end
for _, id in ipairs(redis.call('ZRANGE', k.retries, 0, -1)) do fail(id) end
for _, id in ipairs(redis.call('ZRANGE', k.deadLetters, 0, -1)) do redis.call('PEXPIRE', recordPrefix .. id, retentionMs) end
local streams = redis.call('HKEYS', streamsKey)
redis.call('DEL', queueKey, asyncQueuedKey, k.retries, k.deadLetters, streamsKey, logsKey, historyKey)
wakeAllIdle({ idle = idleKey, inboxPrefix = inboxPrefix })
redis.call('PUBLISH', events, 'deleted ' .. fn)
return { codeBytes, streams, queued }
