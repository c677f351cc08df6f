-- Put async invocations whose retry is due back into their function's queue.
-- KEYS: def, queue, containers, retries, asyncQueued
-- ARGV: now, functionName, recordPrefix, maxCount
-- Returns the epoch ms of the next retry still waiting, or nil when none is.
--@include pool
--@include async
local due = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[4], id)
  local record = ARGV[3] .. id
  local fields = redis.call('HMGET', record, 'envelope', 'attempts')
  if fields[1] then
    queueAsync(KEYS[1], KEYS[2], KEYS[5], record, id, ARGV[2], tonumber(fields[2]) + 1, ARGV[1], payloadOf(fields[1]))
  end
end
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[2])
local nextDue = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
return nextDue[2]
