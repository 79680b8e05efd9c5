-- flush.lua -- apply one batch of deltas and record its offsets, atomically.
--
-- Effectively-once: a batch names, per partition, the offset it starts at
-- (from) and the offset after its last record (next). If Valkey already
-- holds a different offset for any of its partitions, another member (or
-- this one before a crash) has applied overlapping records: the whole batch
-- is refused and nothing is written. Otherwise deltas, offsets and
-- watermarks are written together, so a crash leaves either all or none.
--
-- ARGV: prefix, topic, ttl_seconds, n_partitions,
--       n_partitions x (partition, from, next, watermark_ms),
--       n_pairs, n_pairs x (entity, window_start_s, on_time, n_fields, n_fields x (field, value))
-- Returns {1} when applied, {0, partition, stored_offset} when refused.
local P, topic, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local off_key, wm_key, wmt_key = P .. 'off:' .. topic, P .. 'wm:' .. topic, P .. 'wmt:' .. topic
local pending_key = P .. 'pending'
local np = tonumber(ARGV[4])
local base = 5

for k = 0, np - 1 do
    local p, from = ARGV[base + k * 4], tonumber(ARGV[base + k * 4 + 1])
    local stored = redis.call('HGET', off_key, p)
    if stored and tonumber(stored) ~= from then
        return {0, tonumber(p), tonumber(stored)}
    end
end

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for k = 0, np - 1 do
    local i = base + k * 4
    local p, nxt, wm = ARGV[i], ARGV[i + 2], tonumber(ARGV[i + 3])
    redis.call('HSET', off_key, p, nxt)
    local old = redis.call('HGET', wm_key, p)
    if not old or tonumber(old) < wm then
        redis.call('HSET', wm_key, p, wm)
    end
    redis.call('HSET', wmt_key, p, now_ms)
end
for _, key in ipairs({off_key, wm_key, wmt_key}) do
    redis.call('EXPIRE', key, ttl)
end

local i = base + np * 4
local npairs = tonumber(ARGV[i])
i = i + 1
local done_cache = {}
for _ = 1, npairs do
    local entity, ws, on_time, nf = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
    i = i + 4
    local agg_key = P .. 'agg:' .. entity .. ':' .. ws
    for f = 0, nf - 1 do
        redis.call('HINCRBY', agg_key, ARGV[i + f * 2], ARGV[i + f * 2 + 1])
    end
    i = i + nf * 2
    redis.call('EXPIRE', agg_key, ttl)
    local win_key = P .. 'win:' .. ws
    redis.call('SADD', win_key, entity)
    redis.call('EXPIRE', win_key, ttl)
    if on_time == '1' then
        if done_cache[ws] == nil then
            done_cache[ws] = redis.call('GET', P .. 'claim:' .. ws) == 'done'
        end
        if not done_cache[ws] then
            redis.call('ZADD', pending_key, 'NX', ws, ws)
        end
    end
end
redis.call('EXPIRE', pending_key, ttl)
return {1}
