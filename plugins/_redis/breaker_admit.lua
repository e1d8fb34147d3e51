-- One admission decision of the shared circuit breaker (ollama_plugins.circuit_breaker).
-- KEYS[1]: the verdict (the end of the open period, microseconds of Redis TIME; no key:
--          no verdict); KEYS[2]: the half-open probe leases (sorted set: lease -> expiry).
-- ARGV: max probes, lease, lease ttl (us).
-- Returns {0, 0} no verdict; {1, left} open for `left` more microseconds; {2, 0}
-- half-open, every probe place taken; {3, 0} half-open, this call is a probe (leased).
local v = redis.call('GET', KEYS[1])
if not v then
  return {0, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local open_until = tonumber(v)
if now < open_until then
  return {1, open_until - now}
end
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  return {2, 0}
end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[2], math.ceil(ttl / 1000) * 2)
return {3, 0}
