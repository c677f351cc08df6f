-- The outcome of one callback delivery try: delivered, retried later, or given up.
-- KEYS: callbacks, stats, record
-- ARGV: id, outcome ('delivered', 'retry' or 'failed'), now, nextDue (for 'retry'), error, functionName
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= 'delivered' then redis.call('HINCRBY', KEYS[2], 'callbackFailures', 1) end
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[3], 'callbackAttempts', 1)
if ARGV[2] == 'delivered' then
  redis.call('HSET', KEYS[3], 'callbackStatus', 'delivered', 'callbackAt', ARGV[3])
  redis.call('HDEL', KEYS[3], 'callbackError')
elseif ARGV[2] == 'retry' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  redis.call('HSET', KEYS[3], 'callbackStatus', 'pending', 'callbackError', ARGV[5], 'callbackAt', ARGV[3])
  redis.call('PUBLISH', 'hearth:events', 'due ' .. ARGV[6] .. ' ' .. ARGV[4])
else
  redis.call('HSET', KEYS[3], 'callbackStatus', 'failed', 'callbackError', ARGV[5], 'callbackAt', ARGV[3])
end
return 1
