-- Records a user's current legacy maildrop (store.UIDLStore.SetLegacy).
-- KEYS[1]: the user's legacy hash; KEYS[2]: the users set.
-- ARGV[1]: the user; then field, value pairs of the present entries, each
-- value "0" .. seq .. [ "i" .. import time ] .. " " .. fingerprint (the
-- fingerprint may be empty). Entries missing from ARGV are marked gone
-- ("1" ...); a present entry without a fingerprint keeps the one recorded,
-- one without an import time the recorded one. Only changed fields are
-- written. Returns the number of fields written.
local old = redis.call('HGETALL', KEYS[1])
local cur = {}
for i = 1, #old, 2 do
  cur[old[i]] = old[i + 1]
end
local seen = {}
local puts = {}
for i = 2, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  seen[f] = true
  local o = cur[f]
  local osp = o and string.find(o, ' ', 1, true)
  if osp then
    local vsp = string.find(v, ' ', 1, true)
    local imp = string.match(string.sub(o, 1, osp - 1), 'i%d+$')
    if imp and vsp and not string.find(string.sub(v, 1, vsp - 1), 'i', 1, true) then
      v = string.sub(v, 1, vsp - 1) .. imp .. string.sub(v, vsp)
    end
    if string.sub(v, -1) == ' ' then
      v = v .. string.sub(o, osp + 1)
    end
  end
  if o ~= v then
    puts[#puts + 1] = f
    puts[#puts + 1] = v
  end
end
for f, v in pairs(cur) do
  if not seen[f] and string.sub(v, 1, 1) ~= '1' then
    puts[#puts + 1] = f
    puts[#puts + 1] = '1' .. string.sub(v, 2)
  end
end
-- HSET in slices: unpack of a long table would overflow Lua's C stack.
local step = 1000
for i = 1, #puts, step do
  redis.call('HSET', KEYS[1], unpack(puts, i, math.min(i + step - 1, #puts)))
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  redis.call('SADD', KEYS[2], ARGV[1])
end
return #puts / 2
