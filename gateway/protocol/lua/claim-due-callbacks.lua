-- Claim the callbacks that are due, for one delivery try each: their due time moves a lease ahead, so
-- another gateway takes them over only if this one dies before settling them.
local callbacksKey = KEYS[1]
local now, leaseMs, maxCount = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
-- Returns {ids, nextDue}: the claimed ids, and when the next unclaimed one is due (nil: none).
local ids = redis.call('ZRANGEBYSCORE', callbacksKey, '-inf', now, 'LIMIT', 0, maxCount)
for _, id in ipairs(ids) do redis.call('ZADD', callbacksKey, now + leaseMs, id) end
local nextDue = redis.call('ZRANGE', callbacksKey, 0, 0, 'WITHSCORES')
return { ids, nextDue[2] }
