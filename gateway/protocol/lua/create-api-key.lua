-- Store a new API key: its record under its id (listing, revocation) and under the SHA-256 of its
-- secret (lookup when a request presents it). Only the hash of the secret is ever stored.
local indexKey, secretKey = KEYS[1], KEYS[2]
local id, record = ARGV[1], ARGV[2]
-- Returns 1, or 0 when the id or the secret hash is taken (the caller draws new ones).
if redis.call('HEXISTS', indexKey, id) == 1 or redis.call('EXISTS', secretKey) == 1 then return 0 end
redis.call('HSET', indexKey, id, record)
redis.call('SET', secretKey, record)
return 1
