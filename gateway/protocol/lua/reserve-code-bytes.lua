-- Reserve room for a deploy's code package in the HEARTH_MAX_TOTAL_CODE_BYTES quota before it is
-- stored (the counter is global, in its own slot). A deploy that does not grow the total always fits.
local codeBytesKey = KEYS[1]
local bytes, maxCodeBytes = tonumber(ARGV[1]), tonumber(ARGV[2])
-- bytes: what the deploy adds (negative when it shrinks the total). Returns the total reserved; an
-- error 'QUOTA codeBytes <inUse> <bytes>' when it does not fit.
local inUse = tonumber(redis.call('GET', codeBytesKey) or '0')
if bytes > 0 and inUse + bytes > maxCodeBytes then return redis.error_reply('QUOTA codeBytes ' .. inUse .. ' ' .. bytes) end
return redis.call('INCRBY', codeBytesKey, bytes)
