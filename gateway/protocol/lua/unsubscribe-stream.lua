-- Unsubscribe a function from a Redis Stream: the subscription record and its consumer group go (the
-- stream and its entries are the producer's and stay). Invocations already accepted still run; their
-- acknowledgement then finds no group and does nothing.
-- KEYS: streams, stream
-- ARGV: streamName, group, functionName
-- Returns 1, or 0 when the function was not subscribed.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('TYPE', KEYS[2]).ok == 'stream' then redis.pcall('XGROUP', 'DESTROY', KEYS[2], ARGV[2]) end
redis.call('PUBLISH', 'hearth:events', 'streams ' .. ARGV[3])
return 1
