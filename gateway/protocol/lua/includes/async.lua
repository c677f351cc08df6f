-- Shared by the scripts that move async invocations between queue, retries and dead letters.
-- A record (hash at recordPrefix .. id) holds status (queued, running, succeeded, failed,
-- dead-lettered, cancelled), attempts, timings, the current envelope until the invocation is finished
-- (or while it is dead-lettered, to re-drive it), its last result, and its callback's state.

local function payloadOf(envelope)
  return string.sub(envelope, string.find(envelope, '\n', 1, true) + 1)
end

local function isAsync(envelope)
  local meta = cjson.decode(string.sub(envelope, 1, string.find(envelope, '\n', 1, true) - 1))
  return meta.async == true, meta.id
end

-- Hands an invocation (again) to its function's pool (pool.lua's dispatch), as attempt number `attempt`.
-- It counts as queued (asyncQueued) until a container starts it. Needs the pool include.
-- p: dispatch's keys and asyncQueued
local function queueAsync(p, recordKey, id, attempt, now, payload)
  local version = redis.call('HGET', p.def, 'version')
  local meta = cjson.encode({ id = id, ['function'] = p.fn, version = tonumber(version), replyTo = '',
    enqueuedAt = tonumber(now), startBy = 0, async = true, attempt = attempt })
  local envelope = meta .. '\n' .. payload
  redis.call('ZADD', p.asyncQueued, now, id)
  redis.call('HSET', recordKey, 'status', 'queued', 'envelope', envelope)
  redis.call('HDEL', recordKey, 'nextAttemptAt')
  dispatch(p, envelope, now)
end

-- The Redis Stream entry that triggered an invocation (its JSON, false if none), for the script that
-- made the invocation final to return: its caller acknowledges it (XACK, a command of its own, as the
-- stream is its producer's key, in another Cluster slot).
local function sourceOf(recordKey)
  return redis.call('HGET', recordKey, 'source')
end

-- Adds a source (false: none) to the list a script returns.
local function addSource(sources, source)
  if source then table.insert(sources, source) end
end

-- A finished invocation (any final status): result kept for retentionMs; its callback, if any, is due now.
-- Returns its source (sourceOf).
-- k: {def, record, retries, deadLetters, callbacks, stats, events}
local function finishAsync(k, id, status, statusCode, functionError, result, now, retentionMs, functionName)
  redis.call('HSET', k.record, 'status', status, 'statusCode', statusCode, 'functionError', functionError,
    'result', result, 'finishedAt', now)
  redis.call('HDEL', k.record, 'nextAttemptAt')
  if status == 'dead-lettered' then
    -- Kept, envelope and all, until it is re-driven or purged.
    redis.call('ZADD', k.deadLetters, now, id)
    redis.call('HINCRBY', k.stats, 'deadLettered', 1)
  else
    redis.call('HDEL', k.record, 'envelope')
    redis.call('PEXPIRE', k.record, retentionMs)
  end
  if redis.call('HEXISTS', k.record, 'callbackUrl') == 1 then
    redis.call('HSET', k.record, 'callbackStatus', 'pending')
    redis.call('ZADD', k.callbacks, now, id)
    redis.call('PUBLISH', k.events, 'due ' .. functionName .. ' ' .. now)
  end
  return sourceOf(k.record)
end

-- An attempt failed (handler error, timeout, crash, no container): retry after an exponential backoff
-- with jitter while the function's maxRetries allows, else dead-letter. A function deleted meanwhile
-- fails the invocation. Returns its source (sourceOf) when it made it final, else false.
-- k: as finishAsync's; jitter in [0, 1).
local function failAttempt(k, id, statusCode, result, now, jitter, retentionMs, functionName)
  if redis.call('EXISTS', k.record) == 0 then return false end
  -- An attempt whose start was never recorded (the container died first) still counts.
  if redis.call('HGET', k.record, 'status') ~= 'running' then redis.call('HINCRBY', k.record, 'attempts', 1) end
  local def = redis.call('HMGET', k.def, 'maxRetries', 'retryDelay')
  if not def[1] then
    return finishAsync(k, id, 'failed', statusCode, '1', result, now, retentionMs, functionName)
  end
  local attempts = tonumber(redis.call('HGET', k.record, 'attempts'))
  if attempts > tonumber(def[1]) then
    return finishAsync(k, id, 'dead-lettered', statusCode, '1', result, now, retentionMs, functionName)
  end
  -- Equal jitter: half the backoff fixed, half random, so retries of one burst spread out.
  local backoff = math.min(tonumber(def[2]) * 1000 * 2 ^ (attempts - 1), 15 * 60 * 1000)
  local due = math.floor(tonumber(now) + backoff / 2 + backoff / 2 * tonumber(jitter))
  redis.call('ZADD', k.retries, due, id)
  redis.call('HSET', k.record, 'status', 'queued', 'nextAttemptAt', due, 'statusCode', statusCode, 'functionError', '1',
    'result', result)
  redis.call('HINCRBY', k.stats, 'retries', 1)
  redis.call('PUBLISH', k.events, 'due ' .. functionName .. ' ' .. due)
  return false
end
