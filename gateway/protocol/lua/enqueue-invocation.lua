-- Accept one sync request for the version of the function the gateway built it for: it goes to the
-- most recently idle container, or waits in the queue for the next one free.
--@include pool
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], idle = KEYS[4] }
local asyncQueuedKey = KEYS[5]
local envelope, expectedVersion, now = ARGV[1], ARGV[2], ARGV[3]
p.fn, p.events, p.inboxPrefix = ARGV[4], ARGV[5], ARGV[6]
-- Returns {'queued'}, {'missing'}, {'stale', currentVersion} or {'full', limit} (the function's
-- maxQueued sync requests are already waiting).
local def = redis.call('HMGET', p.def, 'version', 'maxQueued')
if not def[1] then return { 'missing' } end
if def[1] ~= expectedVersion then return { 'stale', def[1] } end
-- Sync requests waiting: the queue holds async ones too.
if redis.call('LLEN', p.idle) == 0 and redis.call('LLEN', p.queue) - redis.call('ZCARD', asyncQueuedKey) >= tonumber(def[2]) then
  return { 'full', def[2] }
end
dispatch(p, envelope, now)
return { 'queued' }
