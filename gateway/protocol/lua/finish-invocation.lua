-- A container finished its request (its result is already on the way): it takes the oldest queued
-- work, or waits idle at the head of the idle list, or retires (it must, or it says it is leaving:
-- its runtime was killed for the memory limit).
--@include pool
local p = { def = KEYS[1], queue = KEYS[2], containers = KEYS[3], draining = KEYS[4], idle = KEYS[5] }
local runningKey = KEYS[6]
local containerId, version, now, leaving = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
p.fn, p.events = ARGV[5], ARGV[6]
-- Returns 0 (exit), 1 (idle: wait on the inbox) or the envelope of the work to run.
redis.call('DEL', runningKey)
if leaving or mustRetire(p, containerId, version) then
  removeContainer(p, containerId)
  signalWorkIfNeeded(p)
  return 0
end
return takeWorkOrIdle(p, containerId, runningKey, now) or 1
