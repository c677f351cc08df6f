-- A container is gone (exited, killed, or never started): forget it and hand back what it held. Work
-- still in its inbox (not started) goes to another container; async invocations it was running count
-- as failed attempts (retried or dead-lettered, never lost). A container still alive (its invoker was
-- taken for dead) is woken to retire.
--@include pool
--@include async
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], draining = KEYS[4], idle = KEYS[5], asyncQueued = KEYS[6] }
local inboxKey, runningKey = KEYS[7], KEYS[8]
local k = { def = KEYS[1], retries = KEYS[9], deadLetters = KEYS[10], callbacks = KEYS[11], stats = KEYS[12] }
local containerId, failQueuedWhenPoolEmpty, now, jitter, retentionMs, recordPrefix, result, outcome =
  ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
p.fn, p.events, p.inboxPrefix = ARGV[9], ARGV[10], ARGV[11]
k.events = p.events
-- failQueuedWhenPoolEmpty: after a failed start. result: the error body the async records it fails
-- get; outcome (protocol/outcome.ts): how those attempts ended, for the metrics.
-- Returns {orphaned, failed, sources}: the sync envelopes it was running, after a failed start that left
-- the function with no container at all the queued sync envelopes nobody can serve, and the stream
-- entries of the async invocations it made final (dead-lettered, failed), which the caller acknowledges.
local sources = {}
local function failAsync(envelope, statusCode)
  local async, id = isAsync(envelope)
  if not async then return false end
  k.record = recordPrefix .. id
  redis.call('ZREM', p.asyncQueued, id)
  redis.call('HINCRBY', k.stats, 'async:' .. outcome, 1)
  addSource(sources, failAttempt(k, id, statusCode, result, now, jitter, retentionMs, p.fn))
  return true
end

local orphaned = {}
for _, envelope in ipairs(redis.call('LRANGE', runningKey, 0, -1)) do
  if envelope ~= WAKE and not failAsync(envelope, '502') then table.insert(orphaned, envelope) end
end
redis.call('DEL', runningKey)
removeContainer(p, containerId)
local inbox = redis.call('LRANGE', inboxKey, 0, -1)
redis.call('DEL', inboxKey)
for i = #inbox, 1, -1 do
  if inbox[i] ~= WAKE then dispatch(p, inbox[i], now) end
end
redis.call('LPUSH', inboxKey, WAKE)
-- Nobody may read it: a dead container's wake-up must not stay.
redis.call('PEXPIRE', inboxKey, 60000)
local failed = {}
if failQueuedWhenPoolEmpty and redis.call('HLEN', p.containers) == 0 then
  local queued = redis.call('LRANGE', p.queue, 0, -1)
  redis.call('DEL', p.queue)
  for _, envelope in ipairs(queued) do
    if not failAsync(envelope, '503') then table.insert(failed, envelope) end
  end
end
signalWorkIfNeeded(p)
return { orphaned, failed, sources }
