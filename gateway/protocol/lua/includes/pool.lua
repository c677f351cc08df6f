-- Shared by the scripts of a function's container pool (gateway/protocol/container-lifecycle.ts).
-- A container record (field of the function's containers hash) is "state|version|invoker|sinceMs",
-- state one of starting, idle, busy. An idle container is also in the function's idle list, the most
-- recently idle at its head, and waits on its own inbox: work goes to the head of the list, so under a
-- light load the containers at its tail get none and retire after their keep-alive.

-- Put in an idle container's inbox instead of work: it wakes and looks whether it must retire.
local WAKE = 'wake'

local function setState(containersKey, containerId, state, now)
  local record = redis.call('HGET', containersKey, containerId)
  if record then
    redis.call('HSET', containersKey, containerId, state .. string.match(record, '^%a+(|%d+|[^|]*|)') .. now)
  end
end

local function countCurrentContainers(containersKey, version)
  local counts = { starting = 0, idle = 0, busy = 0, total = 0 }
  for _, record in ipairs(redis.call('HVALS', containersKey)) do
    local state, recordVersion = string.match(record, '^(%a+)|(%d+)|')
    if recordVersion == version then
      counts[state] = counts[state] + 1
      counts.total = counts.total + 1
    end
  end
  return counts
end

-- More queued requests than containers about to take them (work is queued only while no container is
-- idle), or fewer containers than the function keeps warm; and the function's limit allows one more.
local function needsContainer(defKey, queueKey, containersKey)
  local def = redis.call('HMGET', defKey, 'version', 'maxContainers', 'minWarm')
  if not def[1] then return false end
  local queued = redis.call('LLEN', queueKey)
  local minWarm = tonumber(def[3] or '0')
  if queued == 0 and minWarm == 0 then return false end
  local counts = countCurrentContainers(containersKey, def[1])
  if counts.total >= tonumber(def[2]) then return false end
  return queued > counts.idle + counts.starting or counts.total < minWarm
end

-- The function keeps this container warm: it is of the current version and one of at most minWarm.
local function keptWarm(p, version)
  local def = redis.call('HMGET', p.def, 'version', 'minWarm')
  if def[1] ~= version then return false end
  return countCurrentContainers(p.containers, version).total <= tonumber(def[2] or '0')
end

-- p: {def, queue, containers, fn, events}
local function signalWorkIfNeeded(p)
  if needsContainer(p.def, p.queue, p.containers) then
    redis.call('PUBLISH', p.events, 'work ' .. p.fn)
  end
end

-- Hands work to the most recently idle container, or queues it for the next container to be free.
-- p: {def, queue, containers, idle, inboxPrefix, fn, events}
local function dispatch(p, envelope, now)
  local containerId = redis.call('LPOP', p.idle)
  if containerId then
    redis.call('LPUSH', p.inboxPrefix .. containerId, envelope)
    setState(p.containers, containerId, 'busy', now)
    return
  end
  redis.call('LPUSH', p.queue, envelope)
  signalWorkIfNeeded(p)
end

-- A container is free: the oldest queued work moves to its running list (returned), or it joins the
-- head of the idle list (returns false).
local function takeWorkOrIdle(p, containerId, runningKey, now)
  local envelope = redis.call('RPOPLPUSH', p.queue, runningKey)
  if envelope then
    setState(p.containers, containerId, 'busy', now)
    return envelope
  end
  setState(p.containers, containerId, 'idle', now)
  redis.call('LPUSH', p.idle, containerId)
  return false
end

-- A container retires when its function was redeployed or deleted, when its invoker drains it, or when
-- its record is gone (an invoker released it, believing it dead: its requests were answered already).
local function mustRetire(p, containerId, version)
  return redis.call('HGET', p.def, 'version') ~= version
    or redis.call('SISMEMBER', p.draining, containerId) == 1
    or redis.call('HEXISTS', p.containers, containerId) == 0
end

local function removeContainer(p, containerId)
  redis.call('HDEL', p.containers, containerId)
  redis.call('SREM', p.draining, containerId)
  redis.call('LREM', p.idle, 0, containerId)
end

-- Wakes every idle container of the function, so that each looks whether it must retire (after a
-- redeploy or a delete, every one must).
local function wakeAllIdle(p)
  for _, containerId in ipairs(redis.call('LRANGE', p.idle, 0, -1)) do
    redis.call('LPUSH', p.inboxPrefix .. containerId, WAKE)
  end
  redis.call('DEL', p.idle)
end
