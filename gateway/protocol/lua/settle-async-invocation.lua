-- A container ran an async invocation: record its result, or schedule its retry, or dead-letter it.
-- Sent just before finish-invocation.lua, in the same write.
-- KEYS: def, running, retries, deadLetters, callbacks, stats, record
-- ARGV: id, statusCode, result, now, jitter, retentionMs, functionName, and for the metrics: outcome
--       (protocol/outcome.ts), runMs (how long the handler ran)
-- Returns 1, or 0 when the container's running list was already taken over (its invoker released
-- it, believing it dead): the retry that release scheduled settles the invocation instead.
--@include async
if redis.call('LLEN', KEYS[2]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HINCRBY', KEYS[6], 'async:' .. ARGV[8], 1)
redis.call('HINCRBY', KEYS[6], 'async:runMs', ARGV[9])
if redis.call('EXISTS', KEYS[7]) == 0 then return 1 end
local k = { def = KEYS[1], record = KEYS[7], retries = KEYS[3], deadLetters = KEYS[4], callbacks = KEYS[5], stats = KEYS[6] }
if ARGV[2] == '200' then
  finishAsync(k, ARGV[1], 'succeeded', ARGV[2], '0', ARGV[3], ARGV[4], ARGV[6], ARGV[7])
else
  failAttempt(k, ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])
end
return 1
