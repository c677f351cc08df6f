-- Send dead-lettered invocations back to their function's pool with a fresh retry budget.
--@include pool
--@include async
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], idle = KEYS[4], asyncQueued = KEYS[5] }
local deadLettersKey = KEYS[6]
local now, recordPrefix, maxCount = ARGV[1], ARGV[2], tonumber(ARGV[3])
p.fn, p.events, p.inboxPrefix = ARGV[4], ARGV[5], ARGV[6]
-- ARGV[7...]: the ids (none: the oldest maxCount). Returns the ids re-driven.
if redis.call('EXISTS', p.def) == 0 then return {} end
local ids = { unpack(ARGV, 7) }
if #ids == 0 then ids = redis.call('ZRANGE', deadLettersKey, 0, maxCount - 1) end
local redriven = {}
for _, id in ipairs(ids) do
  local record = recordPrefix .. id
  local envelope = redis.call('HGET', record, 'envelope')
  if redis.call('ZREM', deadLettersKey, id) == 1 and envelope then
    redis.call('HSET', record, 'attempts', 0)
    redis.call('HDEL', record, 'statusCode', 'functionError', 'result', 'finishedAt', 'startedAt',
      'callbackStatus', 'callbackAttempts', 'callbackError', 'callbackAt')
    queueAsync(p, record, id, 1, now, payloadOf(envelope))
    table.insert(redriven, id)
  end
end
return redriven
