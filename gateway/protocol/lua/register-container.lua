-- A started container is ready: it takes the oldest queued work, or waits idle at the head of the idle
-- list; or it exits when its version is no longer current (or it was drained or released meanwhile).
--@include pool
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], draining = KEYS[4], idle = KEYS[5] }
local runningKey = KEYS[6]
local containerId, version, now, timings = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
p.fn, p.events = ARGV[5], ARGV[6]
-- Returns 0 (exit), 1 (idle: wait on the inbox) or the envelope of the work to run.
if mustRetire(p, containerId, version) then
  removeContainer(p, containerId)
  return 0
end
redis.call('PUBLISH', p.events, 'ready ' .. p.fn .. ' ' .. containerId .. ' ' .. timings)
return takeWorkOrIdle(p, containerId, runningKey, now) or 1
