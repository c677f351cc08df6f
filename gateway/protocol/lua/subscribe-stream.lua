-- Record a function's subscription to a Redis Stream, once its caller has made the function's consumer
-- group on the stream (the stream is its producer's key, in another Cluster slot: XGROUP is a command
-- of its own, sent before this). An existing subscription is kept as it is.
local defKey, streamsKey = KEYS[1], KEYS[2]
local streamName, subscription, fn, events = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- Returns {'created', json}, {'exists', json} or {'missing'} (no such function: the caller removes the
-- group it made).
if redis.call('EXISTS', defKey) == 0 then return { 'missing' } end
if redis.call('HSETNX', streamsKey, streamName, subscription) == 0 then return { 'exists', redis.call('HGET', streamsKey, streamName) } end
redis.call('PUBLISH', events, 'streams ' .. fn)
return { 'created', subscription }
