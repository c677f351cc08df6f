-- Delete dead-lettered invocations, records and all.
local deadLettersKey = KEYS[1]
local recordPrefix, maxCount = ARGV[1], tonumber(ARGV[2])
-- ARGV[3...]: the ids (none: the oldest maxCount). Returns the ids purged.
local ids = { unpack(ARGV, 3) }
if #ids == 0 then ids = redis.call('ZRANGE', deadLettersKey, 0, maxCount - 1) end
local purged = {}
for _, id in ipairs(ids) do
  if redis.call('ZREM', deadLettersKey, id) == 1 then
    redis.call('DEL', recordPrefix .. id)
    table.insert(purged, id)
  end
end
return purged
