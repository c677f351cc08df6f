-- Remove a function's subscription to a Redis Stream; its caller then destroys the function's consumer
-- group on the stream (a command of its own: the stream is its producer's key, in another Cluster slot;
-- the stream and its entries stay). Invocations already accepted still run; their acknowledgement then
-- finds no group and does nothing.
local streamsKey = KEYS[1]
local streamName, fn, events = ARGV[1], ARGV[2], ARGV[3]
-- Returns 1, or 0 when the function was not subscribed.
if redis.call('HDEL', streamsKey, streamName) == 0 then return 0 end
redis.call('PUBLISH', events, 'streams ' .. fn)
return 1
