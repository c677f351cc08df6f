-- Queue one sync request envelope for the version of the function the gateway built it for.
-- KEYS: def, queue, containers, asyncQueued
-- ARGV: envelope, expectedVersion, functionName
-- Returns {'queued'}, {'missing'}, {'stale', currentVersion} or {'full', limit} (the function's
-- maxQueued sync requests are already waiting).
--@include pool
local def = redis.call('HMGET', KEYS[1], 'version', 'maxQueued')
if not def[1] then return { 'missing' } end
if def[1] ~= ARGV[2] then return { 'stale', def[1] } end
-- Sync requests waiting: the queue holds async ones too.
if redis.call('LLEN', KEYS[2]) - redis.call('ZCARD', KEYS[4]) >= tonumber(def[2]) then return { 'full', def[2] } end
redis.call('LPUSH', KEYS[2], ARGV[1])
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[3])
return { 'queued' }
