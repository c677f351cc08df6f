-- Claim the start of one container when queued work needs one and the function's limit allows it,
-- so that several invokers on one Redis never start more than the limit between them. The invoker's
-- own host has room or not (each invoker passes what is free on its host): without room nothing is
-- claimed, and the invoker waits for room, or frees some.
-- Returns nil (no container needed), {'full', memory} (needed, no room on this host), or
-- {version, codeSha, runtime, memory, ephemeralStorage, network} of the container claimed (network nil
-- for a function deployed before functions had one).
--@include pool
local defKey, queueKey, containersKey = KEYS[1], KEYS[2], KEYS[3]
local containerId, invokerId, now, freeContainers, freeMemoryMb = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
if not needsContainer(defKey, queueKey, containersKey) then return false end
local def = redis.call('HMGET', defKey, 'version', 'codeSha', 'runtime', 'memory', 'ephemeralStorage', 'network')
if freeContainers < 1 or tonumber(def[4]) > freeMemoryMb then return { 'full', def[4] } end
redis.call('HSET', containersKey, containerId, 'starting|' .. def[1] .. '|' .. invokerId .. '|' .. now)
return def
