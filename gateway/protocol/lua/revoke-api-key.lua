-- Revoke an API key: both of its records go, and every gateway hears of it at once (key-revoked),
-- so that none keeps accepting it from its cache of verified keys.
local indexKey = KEYS[1]
local id, secretPrefix, events = ARGV[1], ARGV[2], ARGV[3]
-- Returns 1, or 0 when there is no key of that id.
local record = redis.call('HGET', indexKey, id)
if not record then return 0 end
redis.call('HDEL', indexKey, id)
redis.call('DEL', secretPrefix .. cjson.decode(record).secretSha256)
redis.call('PUBLISH', events, 'key-revoked ' .. id)
return 1
