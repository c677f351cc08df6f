-- Delete a function, its code package and its queue. Its containers retire on their own (mustRetire).
-- KEYS: def, queue
-- ARGV: functionName, codeKeyPrefix
-- Returns nil when there was no such function, else the envelopes that were still queued.
local sha = redis.call('HGET', KEYS[1], 'codeSha')
if not sha then return false end
redis.call('DEL', KEYS[1], ARGV[2] .. sha)
local queued = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', 'hearth:events', 'deleted ' .. ARGV[1])
return queued
