-- Claim the callbacks that are due, for one delivery try each: their due time moves a lease ahead, so
-- another gateway takes them over only if this one dies before settling them.
-- KEYS: callbacks
-- ARGV: now, leaseMs, maxCount
-- Returns {ids, nextDue}: the claimed ids, and when the next unclaimed one is due (nil: none).
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local leaseEnd = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], leaseEnd, id) end
local nextDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return { ids, nextDue[2] }
