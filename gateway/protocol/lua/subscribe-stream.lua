-- Subscribe a function to a Redis Stream: its consumer group on the stream (created with the stream
-- if need be; an existing group is kept where it stands) and the subscription record.
local defKey, streamsKey, streamKey = KEYS[1], KEYS[2], KEYS[3]
local streamName, group, startId, subscription, fn, events = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
-- startId: '$' or '0'. Returns {'created', json}, {'exists', json}, {'missing'} or {'not-a-stream', type}.
if redis.call('EXISTS', defKey) == 0 then return { 'missing' } end
local keyType = redis.call('TYPE', streamKey).ok
if keyType ~= 'none' and keyType ~= 'stream' then return { 'not-a-stream', keyType } end
local created = redis.pcall('XGROUP', 'CREATE', streamKey, group, startId, 'MKSTREAM')
if type(created) == 'table' and created.err and not string.find(created.err, 'BUSYGROUP', 1, true) then return created end
if redis.call('HSETNX', streamsKey, streamName, subscription) == 0 then return { 'exists', redis.call('HGET', streamsKey, streamName) } end
redis.call('PUBLISH', events, 'streams ' .. fn)
return { 'created', subscription }
