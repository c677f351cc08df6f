-- An idle container woke without work: its keep-alive ran out, or it was woken (redeploy, delete,
-- drain, release). It exits, unless work reached its inbox meanwhile, it has no reason to, or its
-- function keeps it warm (minWarm: it waits another keep-alive).
--@include pool
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], draining = KEYS[4], idle = KEYS[5] }
local inboxKey, runningKey = KEYS[6], KEYS[7]
local containerId, version, keepAliveExpired = ARGV[1], ARGV[2], ARGV[3] == '1'
p.fn, p.events = ARGV[4], ARGV[5]
-- Returns 1 (exit) or 0 (keep waiting).
-- The wake-up it took, if any.
redis.call('DEL', runningKey)
if redis.call('LLEN', inboxKey) > 0 then return 0 end
if not mustRetire(p, containerId, version) and (not keepAliveExpired or keptWarm(p, version)) then return 0 end
removeContainer(p, containerId)
signalWorkIfNeeded(p)
return 1
