-- Subscribe a function to a Redis Stream: its consumer group on the stream (created with the stream
-- if need be; an existing group is kept where it stands) and the subscription record.
-- KEYS: def, streams, stream
-- ARGV: streamName, group, startId ('$' or '0'), subscriptionJson, functionName
-- Returns {'created', json}, {'exists', json}, {'missing'} or {'not-a-stream', type}.
if redis.call('EXISTS', KEYS[1]) == 0 then return { 'missing' } end
local keyType = redis.call('TYPE', KEYS[3]).ok
if keyType ~= 'none' and keyType ~= 'stream' then return { 'not-a-stream', keyType } end
local group = redis.pcall('XGROUP', 'CREATE', KEYS[3], ARGV[2], ARGV[3], 'MKSTREAM')
if type(group) == 'table' and group.err and not string.find(group.err, 'BUSYGROUP', 1, true) then return group end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[4]) == 0 then return { 'exists', redis.call('HGET', KEYS[2], ARGV[1]) } end
redis.call('PUBLISH', 'hearth:events', 'streams ' .. ARGV[5])
return { 'created', ARGV[4] }
