-- Unsubscribe a function from a Redis Stream: the subscription record and its consumer group go (the
-- stream and its entries are the producer's and stay). Invocations already accepted still run; their
-- acknowledgement then finds no group and does nothing.
local streamsKey, streamKey = KEYS[1], KEYS[2]
local streamName, group, fn, events = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- Returns 1, or 0 when the function was not subscribed.
if redis.call('HDEL', streamsKey, streamName) == 0 then return 0 end
if redis.call('TYPE', streamKey).ok == 'stream' then redis.pcall('XGROUP', 'DESTROY', streamKey, group) end
redis.call('PUBLISH', events, 'streams ' .. fn)
return 1
