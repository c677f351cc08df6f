-- Recreate the consumer group of a subscription whose stream was deleted (DEL takes its groups with
-- it), from the stream's first entry: what was added since it was recreated is then not skipped.
-- Nothing happens once the function is unsubscribed.
-- KEYS: streams, stream
-- ARGV: streamName, group
-- Returns 1 when the subscription stands (its group exists now), else 0.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local keyType = redis.call('TYPE', KEYS[2]).ok
if keyType ~= 'none' and keyType ~= 'stream' then return 0 end
redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[2], '0', 'MKSTREAM')
return 1
