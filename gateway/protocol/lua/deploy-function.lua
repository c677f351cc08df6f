-- Create or replace a function definition and its code package; every deploy is a new version, and the
-- idle containers of the one before are woken to retire.
-- Only the function's own keys (one Redis Cluster slot): its quotas were reserved before
-- (claim-function-name.lua, reserve-quota.lua), and the caller settles them by what this reports.
--@include pool
local defKey, versionKey, codeKey, idleKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local codeSha, package, now, fn, codePrefix, inboxPrefix, events = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
-- package: '' when that package is already stored. ARGV[8...]: field, value pairs of the definition.
-- Returns {version, created (1 or 0), the bytes it added to the stored packages (negative when fewer),
-- the minWarm of the definition it replaced (0 for none)};
-- an error 'NOCODE …' when no package is given and none is stored.
local stored = redis.call('EXISTS', codeKey) == 1
if package == '' and not stored then return redis.error_reply('NOCODE code package is not stored') end
local oldSha = redis.call('HGET', defKey, 'codeSha')
-- The new package is stored unless it already is; the old one goes if it is another.
local added = stored and 0 or #package
if oldSha and oldSha ~= codeSha then added = added - redis.call('STRLEN', codePrefix .. oldSha) end
if not stored then redis.call('SET', codeKey, package) end
if oldSha and oldSha ~= codeSha then redis.call('DEL', codePrefix .. oldSha) end
local createdAt, previousMinWarm = unpack(redis.call('HMGET', defKey, 'createdAt', 'minWarm'))
-- The counter outlives a delete, so a re-created function never reuses a version an old container holds.
local version = redis.call('INCR', versionKey)
redis.call('DEL', defKey)
redis.call('HSET', defKey, 'version', version, 'codeSha', codeSha, 'createdAt', createdAt or now,
  'updatedAt', now, unpack(ARGV, 8))
wakeAllIdle({ idle = idleKey, inboxPrefix = inboxPrefix })
redis.call('PUBLISH', events, 'deployed ' .. fn .. ' ' .. version)
return { version, createdAt and 0 or 1, added, tonumber(previousMinWarm or '0') }
