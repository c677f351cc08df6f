-- An invoker drains containers (it is shutting down, or makes room on its host): those that still
-- exist retire, an idle one now (woken), a busy one after its request, a starting one at its
-- registration. A container already released must not leave an entry behind.
--@include pool
local p = { containers = KEYS[1], draining = KEYS[2], idle = KEYS[3] }
local inboxPrefix = ARGV[1]
-- ARGV[2...]: the container ids. Returns how many of them were idle.
local woken = 0
for i = 2, #ARGV do
  local containerId = ARGV[i]
  if redis.call('HEXISTS', p.containers, containerId) == 1 then
    redis.call('SADD', p.draining, containerId)
    if redis.call('LREM', p.idle, 0, containerId) > 0 then
      redis.call('LPUSH', inboxPrefix .. containerId, WAKE)
      woken = woken + 1
    end
  end
end
return woken
