-- Create or replace a function definition and its code package; every deploy is a new version, and the
-- idle containers of the one before are woken to retire.
-- Within the quotas: the number of functions, and the bytes of all code packages together (a counter
-- this script and delete-function.lua keep; a deploy that does not grow the total always fits).
--@include pool
local defKey, versionKey, codeKey, indexKey, codeBytesKey, idleKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local codeSha, package, now, fn, codePrefix, maxFunctions, maxCodeBytes, inboxPrefix, events =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9]
-- package: '' when that package is already stored. ARGV[10...]: field, value pairs of the definition.
-- Returns {version, created (1 or 0)}; an error 'NOCODE …' when no package is given and none is stored,
-- 'QUOTA functions <count>' or 'QUOTA codeBytes <inUse> <added>' when the deploy would exceed a quota.
local stored = redis.call('EXISTS', codeKey) == 1
if package == '' and not stored then return redis.error_reply('NOCODE code package is not stored') end
local oldSha = redis.call('HGET', defKey, 'codeSha')
if not oldSha then
  local count = redis.call('SCARD', indexKey)
  if count >= maxFunctions then return redis.error_reply('QUOTA functions ' .. count) end
end
-- The new package is stored unless it already is; the old one goes if it is another.
local added = stored and 0 or #package
if oldSha and oldSha ~= codeSha then added = added - redis.call('STRLEN', codePrefix .. oldSha) end
local inUse = tonumber(redis.call('GET', codeBytesKey) or '0')
if added > 0 and inUse + added > maxCodeBytes then return redis.error_reply('QUOTA codeBytes ' .. inUse .. ' ' .. added) end
if not stored then redis.call('SET', codeKey, package) end
if oldSha and oldSha ~= codeSha then redis.call('DEL', codePrefix .. oldSha) end
redis.call('INCRBY', codeBytesKey, added)
redis.call('SADD', indexKey, fn)
local createdAt = redis.call('HGET', defKey, 'createdAt')
-- The counter outlives a delete, so a re-created function never reuses a version an old container holds.
local version = redis.call('INCR', versionKey)
redis.call('DEL', defKey)
redis.call('HSET', defKey, 'version', version, 'codeSha', codeSha, 'createdAt', createdAt or now,
  'updatedAt', now, unpack(ARGV, 10))
wakeAllIdle({ idle = idleKey, inboxPrefix = inboxPrefix })
redis.call('PUBLISH', events, 'deployed ' .. fn .. ' ' .. version)
return { version, createdAt and 0 or 1 }
