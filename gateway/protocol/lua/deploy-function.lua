-- Create or replace a function definition and its code package; every deploy is a new version.
-- KEYS: def, versionCounter, code (of the new package)
-- ARGV: codeSha, codePackage ('' when that package is already stored), now, functionName, codeKeyPrefix,
--       then field, value pairs of the definition
-- Returns {version, created (1 or 0)}, or an error when no package is given and none is stored.
if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2]) end
if redis.call('EXISTS', KEYS[3]) == 0 then return redis.error_reply('NOCODE code package is not stored') end
local oldSha = redis.call('HGET', KEYS[1], 'codeSha')
if oldSha and oldSha ~= ARGV[1] then redis.call('DEL', ARGV[5] .. oldSha) end
local createdAt = redis.call('HGET', KEYS[1], 'createdAt')
-- The counter outlives a delete, so a re-created function never reuses a version an old container holds.
local version = redis.call('INCR', KEYS[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', version, 'codeSha', ARGV[1], 'createdAt', createdAt or ARGV[3],
  'updatedAt', ARGV[3], unpack(ARGV, 6))
redis.call('PUBLISH', 'hearth:events', 'deployed ' .. ARGV[4] .. ' ' .. version)
return { version, createdAt and 0 or 1 }
