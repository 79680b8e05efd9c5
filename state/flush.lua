-- flush.lua -- apply one batch of deltas and record its offsets, atomically.
--
-- Effectively-once: a batch names, per partition, the offset it starts at
-- (from) and the offset after its last record (next). If Valkey already
-- holds a different offset for any of its partitions, another member (or
-- this one before a crash) has applied overlapping records: the whole batch
-- is refused and nothing is written. Otherwise deltas, hourly rollups,
-- offsets and watermarks are written together, so a crash leaves either all
-- or none.
--
-- Valkey work follows the (entity, window) pairs of the batch, not its
-- records: each window hash is read once (HMGET) and written once (HSET)
-- instead of one HINCRBY per field, the hour rollups are summed here first,
-- and a key's TTL is set when the key is created (its `req` field, present
-- in every delta, was absent).
--
-- ARGV: prefix, topic, ttl_s, window_ttl_s, n_partitions,
--       n_partitions x (partition, from, next, watermark_ms),
--       n_pairs, n_pairs x (entity, window_start_s, on_time,
--                           n_fields, n_fields x (field, value),
--                           n_tops, n_tops x (field, text))
-- A pair with n_fields = 0 carries only the top lists of a window that is
-- over for the member (its counters went out with earlier batches).
-- Counter fields are integers; top fields hold "COUNT\tVALUE\n" lists (see
-- processor/topk.c) merged by summing counts and keeping the heaviest.
-- Returns {1} when applied, {0, partition, stored_offset} when refused.
local P, topic = ARGV[1], ARGV[2]
local ttl, window_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local off_key, wm_key, wmt_key = P .. 'off:' .. topic, P .. 'wm:' .. topic, P .. 'wmt:' .. topic
local np = tonumber(ARGV[5])
local base = 6
local TOP_KEEP = 10 -- EW_TOPK_KEEP
local TOP_MERGE_IN = 32 -- EW_TOPK_MERGE_IN
local HOUR = 3600

local function partition_fields()
    local names = {}
    for k = 0, np - 1 do
        names[k + 1] = ARGV[base + k * 4]
    end
    return names
end

local function refused_by(names)
    if np == 0 then
        return nil
    end
    local stored = redis.call('HMGET', off_key, unpack(names))
    for k = 0, np - 1 do
        local from = tonumber(ARGV[base + k * 4 + 1])
        if stored[k + 1] and tonumber(stored[k + 1]) ~= from then
            return {0, tonumber(names[k + 1]), tonumber(stored[k + 1])}
        end
    end
    return nil
end

local function record_offsets(names)
    if np == 0 then
        return
    end
    local t = redis.call('TIME')
    local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local old_wm = redis.call('HMGET', wm_key, unpack(names))
    local offs, wms, wmts = {}, {}, {}
    for k = 0, np - 1 do
        local i = base + k * 4
        local p, nxt, wm = ARGV[i], ARGV[i + 2], tonumber(ARGV[i + 3])
        offs[#offs + 1] = p
        offs[#offs + 1] = nxt
        if not old_wm[k + 1] or tonumber(old_wm[k + 1]) < wm then
            wms[#wms + 1] = p
            wms[#wms + 1] = string.format('%d', wm)
        end
        wmts[#wmts + 1] = p
        wmts[#wmts + 1] = now_ms
    end
    redis.call('HSET', off_key, unpack(offs))
    if #wms > 0 then
        redis.call('HSET', wm_key, unpack(wms))
    end
    redis.call('HSET', wmt_key, unpack(wmts))
    for _, key in ipairs({off_key, wm_key, wmt_key}) do
        redis.call('EXPIRE', key, ttl)
    end
end

-- Bytewise, so ties sort the same as in C whatever the server's locale.
local function bytes_less(x, y)
    local n = math.min(#x, #y)
    for i = 1, n do
        local a, b = string.byte(x, i), string.byte(y, i)
        if a ~= b then
            return a < b
        end
    end
    return #x < #y
end

-- The same rules as ew_topk_merge_text (processor/topk.c), so the in-memory
-- backend and Valkey agree byte for byte: at most TOP_MERGE_IN valid lines
-- per input, counts summed per value, heaviest TOP_KEEP kept.
local function scan_top(text, counts, order)
    local pos, taken, n = 1, 0, #text
    while taken < TOP_MERGE_IN and pos <= n do
        local nl = string.find(text, '\n', pos, true) or n + 1
        local tab = string.find(text, '\t', pos, true)
        if tab and tab < nl then
            local c, v = string.sub(text, pos, tab - 1), string.sub(text, tab + 1, nl - 1)
            local k = tonumber(c)
            if k and k > 0 and #c <= 15 and #v >= 1 and #v <= 71 and not string.find(c, '%D')
                and not string.find(v, '%c') then
                if not counts[v] then
                    order[#order + 1] = v
                    counts[v] = 0
                end
                counts[v] = counts[v] + k
                taken = taken + 1
            end
        end
        pos = nl + 1
    end
end

local function merge_top(stored, delta)
    local counts, order = {}, {}
    scan_top(stored or '', counts, order)
    scan_top(delta, counts, order)
    table.sort(order, function(x, y)
        if counts[x] ~= counts[y] then
            return counts[x] > counts[y]
        end
        return bytes_less(x, y)
    end)
    local out = {}
    for i = 1, math.min(TOP_KEEP, #order) do
        out[i] = string.format('%d', counts[order[i]]) .. '\t' .. order[i] .. '\n'
    end
    return table.concat(out)
end

-- Adds counters (names[i] += deltas[i]) and merges top lists into one hash:
-- one HMGET, one HSET, and an EXPIRE only when the key is new. names[1] is
-- `req` whenever there are counters (every delta has it, and an hour's
-- names start with its first delta's); a sketch-only pair reads `req` too,
-- since a sketch can arrive after its window's counters. Either way cur[1]
-- is `req`, whose absence means the key is new.
local function add_to_hash(key, names, deltas, top_names, top_texts, key_ttl)
    local read = #names > 0 and {unpack(names)} or {'req'}
    local top_at = #read
    for i = 1, #top_names do
        read[top_at + i] = top_names[i]
    end
    local cur = redis.call('HMGET', key, unpack(read))
    local args = {}
    for i = 1, #names do
        args[#args + 1] = names[i]
        args[#args + 1] = string.format('%d', (tonumber(cur[i]) or 0) + deltas[i])
    end
    for i = 1, #top_names do
        args[#args + 1] = top_names[i]
        args[#args + 1] = merge_top(cur[top_at + i], top_texts[i])
    end
    if #args == 0 then
        return
    end
    redis.call('HSET', key, unpack(args))
    if not cur[1] then
        redis.call('EXPIRE', key, key_ttl)
    end
end

local function hour_add(hours, entity, ws, names, deltas)
    local hs = ws - ws % HOUR
    local key = P .. 'hagg:' .. entity .. ':' .. hs
    local h = hours.by_key[key]
    if not h then
        h = {names = {}, index = {}, values = {}}
        hours.by_key[key] = h
        hours.keys[#hours.keys + 1] = key
    end
    for i = 1, #names do
        local j = h.index[names[i]]
        if not j then
            j = #h.names + 1
            h.names[j] = names[i]
            h.index[names[i]] = j
            h.values[j] = 0
        end
        h.values[j] = h.values[j] + deltas[i]
    end
end

local function window_add(windows, ws, entity, on_time)
    local w = windows.by_ws[ws]
    if not w then
        w = {entities = {}, on_time = false}
        windows.by_ws[ws] = w
        windows.list[#windows.list + 1] = ws
    end
    w.entities[#w.entities + 1] = entity
    w.on_time = w.on_time or on_time
end

-- Windows get their entity set and, when a record arrived on time and the
-- window is not already scored for good, a place in the scoring queue.
local function write_windows(windows)
    local pending_key = P .. 'pending'
    for _, ws in ipairs(windows.list) do
        local w = windows.by_ws[ws]
        local win_key = P .. 'win:' .. ws
        -- unpack() is limited by Lua's C stack (about 8000 values).
        for first = 1, #w.entities, 1000 do
            redis.call('SADD', win_key, unpack(w.entities, first, math.min(first + 999, #w.entities)))
        end
        redis.call('EXPIRE', win_key, window_ttl)
        if w.on_time and redis.call('GET', P .. 'claim:' .. ws) ~= 'done' then
            redis.call('ZADD', pending_key, 'NX', ws, ws)
        end
    end
    redis.call('EXPIRE', pending_key, ttl)
end

local function apply_pairs(i)
    local npairs = tonumber(ARGV[i])
    i = i + 1
    local hours = {keys = {}, by_key = {}}
    local windows = {list = {}, by_ws = {}}
    for _ = 1, npairs do
        local entity, ws, on_time, nf = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2] == '1', tonumber(ARGV[i + 3])
        i = i + 4
        local names, deltas = {}, {}
        for f = 0, nf - 1 do
            names[f + 1] = ARGV[i + f * 2]
            deltas[f + 1] = tonumber(ARGV[i + f * 2 + 1])
        end
        i = i + nf * 2
        local nt = tonumber(ARGV[i])
        i = i + 1
        local top_names, top_texts = {}, {}
        for t = 0, nt - 1 do
            top_names[t + 1] = ARGV[i + t * 2]
            top_texts[t + 1] = ARGV[i + t * 2 + 1]
        end
        i = i + nt * 2
        add_to_hash(P .. 'agg:' .. entity .. ':' .. ws, names, deltas, top_names, top_texts, window_ttl)
        if nf > 0 then
            hour_add(hours, entity, ws, names, deltas)
            window_add(windows, ws, entity, on_time)
        end
    end
    for _, key in ipairs(hours.keys) do
        local h = hours.by_key[key]
        add_to_hash(key, h.names, h.values, {}, {}, ttl)
    end
    write_windows(windows)
end

local names = partition_fields()
local refusal = refused_by(names)
if refusal then
    return refusal
end
record_offsets(names)
apply_pairs(base + np * 4)
return {1}
