-- Count a function against the HEARTH_MAX_FUNCTIONS quota before its deploy: the index of function
-- names is global (its own slot), so it is claimed here, apart from the function's own keys.
local indexKey = KEYS[1]
local fn, maxFunctions = ARGV[1], tonumber(ARGV[2])
-- Returns 1 when the name was added, 0 when it was there already; an error 'QUOTA functions <count>'
-- when the quota is reached.
if redis.call('SISMEMBER', indexKey, fn) == 1 then return 0 end
local count = redis.call('SCARD', indexKey)
if count >= maxFunctions then return redis.error_reply('QUOTA functions ' .. count) end
return redis.call('SADD', indexKey, fn)
