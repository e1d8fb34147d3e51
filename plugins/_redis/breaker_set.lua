-- A transition of one process's breaker, published for the fleet.
-- KEYS[1]: the verdict, KEYS[2]: the probe leases (both voided by any transition).
-- ARGV[1]: open for this many microseconds (0: half-open now; -1: closed, no verdict);
-- ARGV[2]: how long the verdict outlives its open period (ms): a half-open state that
--          no probe settles lapses into "no verdict" then.
redis.call('DEL', KEYS[2])
local open_for = tonumber(ARGV[1])
if open_for < 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('SET', KEYS[1], string.format('%d', now + open_for),
           'PX', math.ceil(open_for / 1000) + tonumber(ARGV[2]))
return 0
