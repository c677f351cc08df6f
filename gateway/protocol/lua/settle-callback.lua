-- The outcome of one callback delivery try: delivered, retried later, or given up.
local callbacksKey, statsKey, recordKey = KEYS[1], KEYS[2], KEYS[3]
local id, outcome, now, nextDue, error, fn, events = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
-- outcome: 'delivered', 'retry' (again at nextDue) or 'failed'. Returns 1, or 0 when the record is gone.
redis.call('ZREM', callbacksKey, id)
if outcome ~= 'delivered' then redis.call('HINCRBY', statsKey, 'callbackFailures', 1) end
if redis.call('EXISTS', recordKey) == 0 then return 0 end
redis.call('HINCRBY', recordKey, 'callbackAttempts', 1)
if outcome == 'delivered' then
  redis.call('HSET', recordKey, 'callbackStatus', 'delivered', 'callbackAt', now)
  redis.call('HDEL', recordKey, 'callbackError')
elseif outcome == 'retry' then
  redis.call('ZADD', callbacksKey, nextDue, id)
  redis.call('HSET', recordKey, 'callbackStatus', 'pending', 'callbackError', error, 'callbackAt', now)
  redis.call('PUBLISH', events, 'due ' .. fn .. ' ' .. nextDue)
else
  redis.call('HSET', recordKey, 'callbackStatus', 'failed', 'callbackError', error, 'callbackAt', now)
end
return 1
