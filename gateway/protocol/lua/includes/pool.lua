-- Shared by the scripts that change a function's queue or container pool.
-- A container record (hash field = container id) is "state|version|invoker|redisClientId|sinceMs",
-- state one of starting, idle, busy. Events go to the channel EVENTS_CHANNEL of keys.ts.

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

-- More queued requests than containers about to take them, and the function's limit allows one more.
local function needsContainer(defKey, queueKey, containersKey)
  local def = redis.call('HMGET', defKey, 'version', 'maxContainers')
  if not def[1] then return false end
  local queued = redis.call('LLEN', queueKey)
  if queued == 0 then return false end
  local counts = countCurrentContainers(containersKey, def[1])
  return queued > counts.idle + counts.starting and counts.total < tonumber(def[2])
end

local function signalWorkIfNeeded(defKey, queueKey, containersKey, functionName)
  if needsContainer(defKey, queueKey, containersKey) then
    redis.call('PUBLISH', 'hearth:events', 'work ' .. functionName)
  end
end

-- A container retires when its function was redeployed or deleted, when its invoker drains it, or when
-- its record is gone (an invoker released it, believing it dead: its requests were answered already).
local function mustRetire(defKey, containersKey, drainingKey, containerId, version)
  return redis.call('HGET', defKey, 'version') ~= version
    or redis.call('SISMEMBER', drainingKey, containerId) == 1
    or redis.call('HEXISTS', containersKey, containerId) == 0
end

local function removeContainer(containersKey, drainingKey, containerId)
  redis.call('HDEL', containersKey, containerId)
  redis.call('SREM', drainingKey, containerId)
end
