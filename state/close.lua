-- close.lua -- find windows closed across the whole group and claim them.
--
-- A window is closed when the watermark of every live partition (as of its
-- last applied flush) has passed the window's end. Partitions that have not
-- advanced for idle_ms of server time stop holding windows open. The
-- server's clock is used so members' clocks need not agree. Each closed
-- window is claimed with SET NX EX: exactly one member scores it; if that
-- member dies, the lease expires and another member claims it again.
-- Windows are claimed in order, never past one whose lease is held: a
-- later window scored first would start from detector state that lacks the
-- held one, and the held one's re-scoring would then be skipped, so a
-- crash could change alerts and their ids instead of repeating them.
--
-- ARGV: prefix, topic, idle_ms, window_ms, lease_seconds, max_windows
-- Returns {low_watermark_ms or -1, claimed window_start_s...}
local P, topic = ARGV[1], ARGV[2]
local idle_ms, window_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local lease, max_windows = tonumber(ARGV[5]), tonumber(ARGV[6])

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wms = redis.call('HGETALL', P .. 'wm:' .. topic)
local low = nil
for k = 1, #wms, 2 do
    local seen = tonumber(redis.call('HGET', P .. 'wmt:' .. topic, wms[k]) or '0')
    local wm = tonumber(wms[k + 1])
    if now_ms - seen <= idle_ms and (low == nil or wm < low) then
        low = wm
    end
end
if low == nil then
    return {-1}
end

local last_closed_s = math.floor((low - window_ms) / 1000)
local out = {low}
local candidates = redis.call('ZRANGEBYSCORE', P .. 'pending', '-inf', last_closed_s, 'LIMIT', 0, max_windows)
for _, ws in ipairs(candidates) do
    local claim_key = P .. 'claim:' .. ws
    if redis.call('SET', claim_key, 'lease', 'NX', 'EX', lease) then
        out[#out + 1] = tonumber(ws)
    elseif redis.call('GET', claim_key) == 'done' then
        redis.call('ZREM', P .. 'pending', ws)
    else
        break
    end
end
return out
