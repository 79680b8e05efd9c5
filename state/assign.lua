-- assign.lua -- register partitions a member has just been assigned.
--
-- A partition that has delivered nothing yet must still hold windows open,
-- or a window could close (and be scored on partial counts) before that
-- partition's records arrive. Registering it with watermark -1 does that;
-- if it stays empty, the idle timeout releases it as for any idle partition.
--
-- ARGV: prefix, topic, ttl_seconds, partition...
local P, topic, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 4, #ARGV do
    redis.call('HSETNX', P .. 'wm:' .. topic, ARGV[i], -1)
    redis.call('HSET', P .. 'wmt:' .. topic, ARGV[i], now_ms)
end
redis.call('EXPIRE', P .. 'wm:' .. topic, ttl)
redis.call('EXPIRE', P .. 'wmt:' .. topic, ttl)
return #ARGV - 3
