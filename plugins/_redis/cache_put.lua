-- Store one answer of the shared response cache (ollama_plugins.request_caching).
-- KEYS[1]: the answer's key, KEYS[2]: the index (sorted set: key -> expiry, us).
-- ARGV: the answer (JSON text), ttl (ms), max entries.
-- Expired keys leave the index first; past max entries, those expiring soonest (the
-- oldest) are deleted.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + ttl * 1000, KEYS[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  local victims = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('DEL', unpack(victims))
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
local longest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[2], math.ceil((tonumber(longest[2]) - now) / 1000) + 1000)
return 0
