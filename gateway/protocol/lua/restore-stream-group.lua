-- Recreate the consumer group of a subscription whose stream was deleted (DEL takes its groups with
-- it), from the stream's first entry: what was added since it was recreated is then not skipped.
-- Nothing happens once the function is unsubscribed.
local streamsKey, streamKey = KEYS[1], KEYS[2]
local streamName, group = ARGV[1], ARGV[2]
-- Returns 1 when the subscription stands (its group exists now), else 0.
if redis.call('HEXISTS', streamsKey, streamName) == 0 then return 0 end
local keyType = redis.call('TYPE', streamKey).ok
if keyType ~= 'none' and keyType ~= 'stream' then return 0 end
redis.pcall('XGROUP', 'CREATE', streamKey, group, '0', 'MKSTREAM')
return 1
