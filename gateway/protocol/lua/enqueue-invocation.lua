-- Queue one request envelope for the version of the function the gateway built it for.
-- KEYS: def, queue, containers
-- ARGV: envelope, expectedVersion, functionName
-- Returns {'queued'}, {'missing'} or {'stale', currentVersion}.
--@include pool
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return { 'missing' } end
if version ~= ARGV[2] then return { 'stale', version } end
redis.call('LPUSH', KEYS[2], ARGV[1])
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[3])
return { 'queued' }
