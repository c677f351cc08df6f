-- Send dead-lettered invocations back to their function's queue with a fresh retry budget.
-- KEYS: def, queue, containers, deadLetters, asyncQueued
-- ARGV: now, functionName, recordPrefix, maxCount, then the ids (none: the oldest maxCount)
-- Returns the ids re-driven.
--@include pool
--@include async
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local ids = { unpack(ARGV, 5) }
if #ids == 0 then ids = redis.call('ZRANGE', KEYS[4], 0, tonumber(ARGV[4]) - 1) end
local redriven = {}
for _, id in ipairs(ids) do
  local record = ARGV[3] .. id
  local envelope = redis.call('HGET', record, 'envelope')
  if redis.call('ZREM', KEYS[4], id) == 1 and envelope then
    redis.call('HSET', record, 'attempts', 0)
    redis.call('HDEL', record, 'statusCode', 'functionError', 'result', 'finishedAt', 'startedAt',
      'callbackStatus', 'callbackAttempts', 'callbackError', 'callbackAt')
    queueAsync(KEYS[1], KEYS[2], KEYS[5], record, id, ARGV[2], 1, ARGV[1], payloadOf(envelope))
    table.insert(redriven, id)
  end
end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
return redriven
