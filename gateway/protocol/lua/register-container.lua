-- A started container is ready: record it idle, or tell it to exit when its version is no longer current.
-- KEYS: def, containers, draining
-- ARGV: containerId, version, idleRecord, functionName, coldStartTimingsJson
-- Returns 1 (serve) or 0 (exit).
--@include pool
if mustRetire(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2]) then
  removeContainer(KEYS[2], KEYS[3], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('PUBLISH', 'hearth:events', 'ready ' .. ARGV[4] .. ' ' .. ARGV[1] .. ' ' .. ARGV[5])
return 1
