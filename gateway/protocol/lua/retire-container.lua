-- An idle container woke without a request: its keep-alive ran out, or an invoker unblocked it.
-- KEYS: def, queue, containers, draining
-- ARGV: containerId, version, keepAliveExpired ('1' or '0'), functionName
-- Returns 1 (exit) or 0 (keep waiting).
--@include pool
if ARGV[3] == '0' and not mustRetire(KEYS[1], KEYS[3], KEYS[4], ARGV[1], ARGV[2]) then return 0 end
removeContainer(KEYS[3], KEYS[4], ARGV[1])
signalWorkIfNeeded(KEYS[1], KEYS[2], KEYS[3], ARGV[4])
return 1
