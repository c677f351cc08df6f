-- An invoker is shutting down: mark those of its containers that still exist as draining, so each
-- retires after its current request (a container already released must not leave an entry behind).
-- KEYS: containers, draining
-- ARGV: containerIds...
for _, containerId in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[1], containerId) == 1 then redis.call('SADD', KEYS[2], containerId) end
end
return 1
