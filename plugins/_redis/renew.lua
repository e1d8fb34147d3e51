-- Renew leases this process still holds: each ARGV[2..] member of the sorted set KEYS[1]
-- gets the expiry now + ARGV[1] microseconds (Redis TIME); a member already gone (it
-- expired, or a transition voided it) is not brought back (ZADD XX).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) * 2)
end
return 0
