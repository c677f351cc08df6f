-- Reserve room for a deploy in a quota counted by a global counter (in a slot of its own) before the
-- deploy's script: HEARTH_MAX_TOTAL_CODE_BYTES (the stored packages' bytes) or HEARTH_MAX_TOTAL_MIN_WARM
-- (the containers functions keep warm). A deploy that does not grow the total always fits.
local counterKey = KEYS[1]
local amount, maximum, quota = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
-- amount: what the deploy adds (negative when it shrinks the total). Returns the total reserved; an
-- error 'QUOTA <quota> <inUse> <amount>' when it does not fit.
local inUse = tonumber(redis.call('GET', counterKey) or '0')
if amount > 0 and inUse + amount > maximum then return redis.error_reply('QUOTA ' .. quota .. ' ' .. inUse .. ' ' .. amount) end
return redis.call('INCRBY', counterKey, amount)
