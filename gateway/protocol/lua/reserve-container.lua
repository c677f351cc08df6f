-- Claim the start of one container when queued work needs one and the function's limit allows it,
-- so that several invokers on one Redis never start more than the limit between them.
-- KEYS: def, queue, containers
-- ARGV: containerId, invokerId, now
-- Returns nil, or {version, codeSha, runtime, memory, network} of the function to start (network nil
-- for a function deployed before functions had one).
--@include pool
if not needsContainer(KEYS[1], KEYS[2], KEYS[3]) then return false end
local def = redis.call('HMGET', KEYS[1], 'version', 'codeSha', 'runtime', 'memory', 'network')
redis.call('HSET', KEYS[3], ARGV[1], 'starting|' .. def[1] .. '|' .. ARGV[2] .. '|0|' .. ARGV[3])
return def
