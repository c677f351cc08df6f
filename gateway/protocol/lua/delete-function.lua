-- Delete a function, its code package, its queue, retries, dead letters, stream subscriptions, log
-- lines and invocation history. Its
-- containers retire on their own (mustRetire); its async invocations not yet finished fail.
-- KEYS: def, queue, asyncQueued, retries, deadLetters, callbacks, stats, streams, functionsIndex, codeBytes, logs, history
-- ARGV: functionName, codeKeyPrefix, now, retentionMs, recordPrefix, failedResult, streamGroup
-- Returns nil when there was no such function, else the sync envelopes that were still queued.
--@include async
redis.call('SREM', KEYS[9], ARGV[1])
local sha = redis.call('HGET', KEYS[1], 'codeSha')
if not sha then return false end
redis.call('DECRBY', KEYS[10], redis.call('STRLEN', ARGV[2] .. sha))
redis.call('DEL', KEYS[1], ARGV[2] .. sha)
local k = { def = KEYS[1], retries = KEYS[4], deadLetters = KEYS[5], callbacks = KEYS[6], stats = KEYS[7] }
local function fail(id)
  k.record = ARGV[5] .. id
  if redis.call('EXISTS', k.record) == 1 then finishAsync(k, id, 'failed', '404', '1', ARGV[6], ARGV[3], ARGV[4], ARGV[1]) end
end
local queued = {}
for _, envelope in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local async, id = isAsync(envelope)
  if async then fail(id) else table.insert(queued, envelope) end
end
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do fail(id) end
for _, id in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do redis.call('PEXPIRE', ARGV[5] .. id, ARGV[4]) end
-- Its consumer groups go with its subscriptions; the streams are their producers' (and outside this slot).
for _, stream in ipairs(redis.call('HKEYS', KEYS[8])) do
  if redis.call('TYPE', stream).ok == 'stream' then redis.pcall('XGROUP', 'DESTROY', stream, ARGV[7]) end
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], KEYS[11], KEYS[12])
redis.call('PUBLISH', 'hearth:events', 'deleted ' .. ARGV[1])
return queued
