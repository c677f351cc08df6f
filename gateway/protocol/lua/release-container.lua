-- A container is gone (exited, killed, or never started): forget it and hand back what it held.
-- Async invocations it held count as failed attempts (retried or dead-lettered, never lost).
-- KEYS: def, queue, containers, draining, running, asyncQueued, retries, deadLetters, callbacks, stats
-- ARGV: containerId, functionName, failQueuedWhenPoolEmpty ('1' after a failed start), now, jitter,
--       retentionMs, recordPrefix, orphanedResult, failedResult (error bodies for async records),
--       outcome (protocol/outcome.ts: how the async attempts it fails ended, for the metrics)
-- Returns {orphaned, failed}: the sync envelopes it was running, and, after a failed start that left
-- the function with no container at all, the queued sync envelopes nobody can serve.
--@include pool
--@include async
local function failAsync(envelope, statusCode, result)
  local async, id = isAsync(envelope)
  if not async then return false end
  local k = { def = KEYS[1], record = ARGV[7] .. id, retries = KEYS[7], deadLetters = KEYS[8], callbacks = KEYS[9], stats = KEYS[10] }
  redis.call('ZREM', KEYS[6], id)
  redis.call('HINCRBY', KEYS[10], 'async:' .. ARGV[10], 1)
  failAttempt(k, id, statusCode, result, ARGV[4], ARGV[5], ARGV[6], ARGV[2])
  return true
end

local orphaned = {}
for _, envelope in ipairs(redis.call('LRANGE', KEYS[5], 0, -1)) do
  if not failAsync(envelope, '502', ARGV[8]) then table.insert(orphaned, envelope) end
end
redis.call('DEL', KEYS[5])
removeContainer(KEYS[3], KEYS[4], ARGV[1])
local failed = {}
if ARGV[3] == '1' and redis.call('HLEN', KEYS[3]) == 0 then
  local queued = redis.call('LRANGE', KEYS[2], 0, -1)
  redis.call('DEL', KEYS[2])
  for _, envelope in ipairs(queued) do
    if not failAsync(envelope, '503', ARGV[9]) then table.insert(failed, envelope) end
  end
end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
return { orphaned, failed }
