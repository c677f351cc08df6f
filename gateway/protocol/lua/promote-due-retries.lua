-- Hand async invocations whose retry is due back to their function's pool.
--@include pool
--@include async
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], idle = KEYS[4], asyncQueued = KEYS[5] }
local retriesKey = KEYS[6]
local now, recordPrefix, maxCount = ARGV[1], ARGV[2], tonumber(ARGV[3])
p.fn, p.events, p.inboxPrefix = ARGV[4], ARGV[5], ARGV[6]
-- Returns the epoch ms of the next retry still waiting, or nil when none is.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', retriesKey, '-inf', now, 'LIMIT', 0, maxCount)) do
  redis.call('ZREM', retriesKey, id)
  local record = recordPrefix .. id
  local fields = redis.call('HMGET', record, 'envelope', 'attempts')
  if fields[1] then queueAsync(p, record, id, tonumber(fields[2]) + 1, now, payloadOf(fields[1])) end
end
local nextDue = redis.call('ZRANGE', retriesKey, 0, 0, 'WITHSCORES')
return nextDue[2]
