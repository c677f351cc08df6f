-- A container ran an async invocation: record its result, or schedule its retry, or dead-letter it.
-- Sent just before finish-invocation.lua, in the same write.
--@include async
local k = { def = KEYS[1], retries = KEYS[3], deadLetters = KEYS[4], callbacks = KEYS[5], stats = KEYS[6], record = KEYS[7] }
local runningKey = KEYS[2]
local id, statusCode, result, now, jitter, retentionMs, fn, outcome, runMs =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
k.events = ARGV[10]
-- outcome (protocol/outcome.ts) and runMs (how long the handler ran) are for the metrics.
-- Returns {taken, sources}: taken 1, or 0 when the container's running list was already taken over (its
-- invoker released it, believing it dead: the retry that release scheduled settles the invocation
-- instead); sources, the stream entry the invocation came from when this made it final, which the
-- caller acknowledges.
local sources = {}
if redis.call('LLEN', runningKey) == 0 then return { 0, sources } end
redis.call('DEL', runningKey)
redis.call('HINCRBY', k.stats, 'async:' .. outcome, 1)
redis.call('HINCRBY', k.stats, 'async:runMs', runMs)
if redis.call('EXISTS', k.record) == 0 then return { 1, sources } end
if statusCode == '200' then
  addSource(sources, finishAsync(k, id, 'succeeded', statusCode, '0', result, now, retentionMs, fn))
else
  addSource(sources, failAttempt(k, id, statusCode, result, now, jitter, retentionMs, fn))
end
return { 1, sources }
