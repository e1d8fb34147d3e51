-- One admission decision of the shared rate limiter (ollama_plugins.rate_limiting).
-- KEYS[1]: the token bucket as GCRA state: its theoretical arrival time (microseconds of
--          Redis TIME); KEYS[2]: the concurrency leases (sorted set: lease -> expiry).
-- ARGV: interval (microseconds per token; 0: no bucket), tau ((burst - 1) * interval),
--       max_wait (microseconds; -1: no limit), cap (0: none), lease, lease ttl (us).
-- Returns {1, wait}: admitted; the token is reserved and comes after `wait` microseconds
-- (the caller sleeps that long), a lease taken when capped. {0, wait}: the token lies
-- beyond max_wait (nothing taken). {0, -1}: no slot free (nothing taken).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local ttl = tonumber(ARGV[6])
if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= cap then
    return {0, -1}
  end
end
local wait = 0
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then
    tat = now
  end
  wait = tat - tau - now
  if wait < 0 then
    wait = 0
  end
  if max_wait >= 0 and wait > max_wait then
    return {0, wait}
  end
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], string.format('%d', new_tat),
             'PX', math.ceil((new_tat - now) / 1000) + 1000)
end
if cap > 0 then
  redis.call('ZADD', KEYS[2], now + ttl, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], math.ceil(ttl / 1000) * 2)
end
return {1, wait}
