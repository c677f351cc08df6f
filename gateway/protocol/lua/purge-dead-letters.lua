-- Delete dead-lettered invocations, records and all.
-- KEYS: deadLetters
-- ARGV: recordPrefix, maxCount, then the ids (none: the oldest maxCount)
-- Returns the ids purged.
local ids = { unpack(ARGV, 3) }
if #ids == 0 then ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1) end
local purged = {}
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('DEL', ARGV[1] .. id)
    table.insert(purged, id)
  end
end
return purged
