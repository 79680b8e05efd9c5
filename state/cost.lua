-- cost.lua -- billing lines and refresh ends applied with their offsets,
-- atomically; and the claim of a queued refresh end for scoring.
--
-- A billing line is a value to upsert, not an event to add: the store
-- keeps each line as last seen (bl:<period>) and applies to the hourly
-- day hashes (cd:<project>:<day_s>) the difference between the old line's
-- hour parts and the new one's. The parts must be exactly those of
-- ew_billing_hour_part (processor/billing_spread.c) and of the memory
-- backend: Lua 5.1 has only doubles, exact for integers below 2^53 (costs
-- and times stay far below), so every division is a floor division
-- corrected to the exact integer, and truncation toward zero is explicit.
--
-- Day-hash increments of the whole batch are summed in a table first and
-- written with one HINCRBY per (key, field); a field that reaches 0 is
-- deleted, so an absent field means 0. They commute, so deferring them
-- past a refresh end in the same batch changes nothing; the line store
-- (bl) and the dirty sets are written in record order, since a refresh
-- end reads them.
--
-- ARGV[1] = 'apply': prefix, topic, ttl_s, day_ttl_s, line_ttl_s,
--   n_partitions, n_partitions x (partition, from, next),
--   n_records, records: 'L', period, line_key, line_text
--                     | 'E', period, version, full ('1' / '0')
--   line_text is ew_cost_line_format's (state/cost_common.c).
--   Returns {1} when applied, {0, partition, stored_offset} when refused
--   (the rule of flush.lua; nothing is written then).
-- ARGV[1] = 'claim': prefix, lease_s, max_checked
--   Returns {seq, period, version, projects} or {} when none is free.
local op, P = ARGV[1], ARGV[2]
local HOUR, DAY = 3600000, 86400000
local SEP = '\31'

-- floor(a / b) for integers: the double quotient is correctly rounded,
-- which near an integer can be one off; the products below are exact.
local function idiv(a, b)
    local q = math.floor(a / b)
    while q * b > a do
        q = q - 1
    end
    while (q + 1) * b <= a do
        q = q + 1
    end
    return q
end

local function fmt(x)
    return string.format('%d', x)
end

-- ew_billing_hours and ew_billing_hour_part.
local function hours(start, stop)
    local n = -idiv(-stop, HOUR) - idiv(start, HOUR)
    if n > 0 then
        return n
    end
    return 1
end

local function hour_part(cost, n, i)
    local part
    if cost < 0 then
        part = -idiv(-cost, n)
    else
        part = idiv(cost, n)
    end
    if i == 0 then
        return part + (cost - part * n)
    end
    return part
end

-- Bytewise, so the project lists sort as in C whatever the locale.
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

local function parse_line(text)
    local f, pos = {}, 1
    for i = 1, 7 do
        local at = string.find(text, SEP, pos, true)
        f[i] = string.sub(text, pos, at - 1)
        pos = at + 1
    end
    f[8] = string.sub(text, pos)
    return {version = f[1], project = f[2], service = f[3], usage = f[4], resource = f[5],
            start = tonumber(f[6]), stop = tonumber(f[7]), cost = tonumber(f[8])}
end

-- ---- offsets (flush.lua's rule; the billing topic has no watermarks) ----

local function offsets(i)
    local np = tonumber(ARGV[i])
    local names, froms, nexts = {}, {}, {}
    for k = 1, np do
        local at = i + 1 + (k - 1) * 3
        names[k], froms[k], nexts[k] = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
    end
    return {names = names, froms = froms, nexts = nexts, n = np}, i + 1 + np * 3
end

local function refused_by(off_key, o)
    if o.n == 0 then
        return nil
    end
    local stored = redis.call('HMGET', off_key, unpack(o.names))
    for k = 1, o.n do
        if stored[k] and tonumber(stored[k]) ~= o.froms[k] then
            return {0, tonumber(o.names[k]), tonumber(stored[k])}
        end
    end
    return nil
end

local function record_offsets(off_key, o, ttl)
    if o.n == 0 then
        return
    end
    local args = {}
    for k = 1, o.n do
        args[#args + 1] = o.names[k]
        args[#args + 1] = o.nexts[k]
    end
    redis.call('HSET', off_key, unpack(args))
    redis.call('EXPIRE', off_key, ttl)
end

-- ---- the batch's pending writes ----

local batch = {
    incr = {keys = {}, by_key = {}},     -- day hash -> field -> delta
    projects = {names = {}, by_name = {}}, -- first / horizon candidates
    periods = {names = {}, seen = {}},   -- bl / bdirty keys to expire
    dirty = {},                          -- period -> projects SADDed since its last refresh end
}

local function add(key, field, v)
    local h = batch.incr.by_key[key]
    if not h then
        h = {fields = {}, vals = {}}
        batch.incr.by_key[key] = h
        batch.incr.keys[#batch.incr.keys + 1] = key
    end
    if h.vals[field] == nil then
        h.fields[#h.fields + 1] = field
        h.vals[field] = 0
    end
    h.vals[field] = h.vals[field] + v
end

-- Adds sign x the line's hour parts to its project's day hashes.
local function spread(line, sign)
    local n = hours(line.start, line.stop)
    local first = idiv(line.start, HOUR) * HOUR
    for i = 0, n - 1 do
        local part = sign * hour_part(line.cost, n, i)
        if part ~= 0 then
            local hs = first + i * HOUR
            local day = idiv(hs, DAY) * DAY
            local key = P .. 'cd:' .. line.project .. ':' .. fmt(day / 1000)
            local hh = string.format('%02d', (hs - day) / HOUR)
            add(key, 't:' .. hh, part)
            add(key, 's:' .. hh .. ':' .. line.service, part)
            add(key, 'u:' .. hh .. ':' .. line.usage, part)
            if line.resource ~= '' then
                add(key, 'r:' .. hh .. ':' .. line.resource, part)
            end
        end
    end
end

local function touch_period(period)
    if not batch.periods.seen[period] then
        batch.periods.seen[period] = true
        batch.periods.names[#batch.periods.names + 1] = period
    end
end

local function mark_dirty(period, project)
    local d = batch.dirty[period]
    if not d then
        d = {}
        batch.dirty[period] = d
    end
    if not d[project] then
        d[project] = true
        redis.call('SADD', P .. 'bdirty:' .. period, project)
    end
    touch_period(period)
end

-- first: the earliest hour with cost; horizon: the latest end of a line
-- spanning at most a day. Both only ever move outward.
local function note_project(line)
    local p = batch.projects.by_name[line.project]
    if not p then
        p = {}
        batch.projects.by_name[line.project] = p
        batch.projects.names[#batch.projects.names + 1] = line.project
    end
    if line.cost ~= 0 then
        local first = idiv(line.start, HOUR) * HOUR
        if not p.first or first < p.first then
            p.first = first
        end
    end
    if line.stop - line.start <= DAY and (not p.horizon or line.stop > p.horizon) then
        p.horizon = line.stop
    end
end

-- ---- records ----

local function apply_line(period, line_key, text)
    local bl = P .. 'bl:' .. period
    local old = redis.call('HGET', bl, line_key)
    if old == text then
        return -- re-delivered: nothing changes
    end
    if old then
        local o = parse_line(old)
        spread(o, -1)
        mark_dirty(period, o.project)
    end
    local new = parse_line(text)
    spread(new, 1)
    mark_dirty(period, new.project)
    note_project(new)
    redis.call('HSET', bl, line_key, text)
end

-- A full refresh repeated every line of the period that still exists.
local function remove_stale(period, version)
    local bl = P .. 'bl:' .. period
    local all = redis.call('HGETALL', bl)
    local gone, current = {}, version .. SEP
    for i = 1, #all, 2 do
        -- Most lines were just repeated: compare the version before parsing.
        if string.sub(all[i + 1], 1, #current) ~= current then
            local line = parse_line(all[i + 1])
            spread(line, -1)
            mark_dirty(period, line.project)
            gone[#gone + 1] = all[i]
        end
    end
    -- unpack() is limited by Lua's C stack (about 8000 values).
    for first = 1, #gone, 1000 do
        redis.call('HDEL', bl, unpack(gone, first, math.min(first + 999, #gone)))
    end
end

local function refresh_end(period, version, full, ttl)
    if full then
        remove_stale(period, version)
    end
    local dirty_key = P .. 'bdirty:' .. period
    local projects = redis.call('SMEMBERS', dirty_key)
    table.sort(projects, bytes_less)
    local seq = redis.call('INCR', P .. 'bseq')
    local q_key = P .. 'bq:' .. seq
    redis.call('HSET', q_key, 'period', period, 'version', version, 'projects', table.concat(projects, '\n'))
    redis.call('EXPIRE', q_key, ttl)
    redis.call('ZADD', P .. 'bq', seq, seq)
    redis.call('DEL', dirty_key)
    batch.dirty[period] = nil
    touch_period(period)
end

-- ---- writing the batch's sums ----

local function write_days(day_ttl)
    for _, key in ipairs(batch.incr.keys) do
        local h = batch.incr.by_key[key]
        local wrote = false
        for _, field in ipairs(h.fields) do
            local v = h.vals[field]
            if v ~= 0 then
                wrote = true
                if redis.call('HINCRBY', key, field, fmt(v)) == 0 then
                    redis.call('HDEL', key, field)
                end
            end
        end
        if wrote then
            redis.call('EXPIRE', key, day_ttl)
        end
    end
end

local function write_projects(ttl)
    for _, name in ipairs(batch.projects.names) do
        local p, key = batch.projects.by_name[name], P .. 'cp:' .. name
        local cur = redis.call('HMGET', key, 'first', 'horizon')
        local args = {}
        if p.first and (not cur[1] or p.first < tonumber(cur[1])) then
            args[#args + 1] = 'first'
            args[#args + 1] = fmt(p.first)
        end
        if p.horizon and (not cur[2] or p.horizon > tonumber(cur[2])) then
            args[#args + 1] = 'horizon'
            args[#args + 1] = fmt(p.horizon)
        end
        if #args > 0 then
            redis.call('HSET', key, unpack(args))
        end
        redis.call('EXPIRE', key, ttl)
    end
end

local function expire_periods(line_ttl)
    for _, period in ipairs(batch.periods.names) do
        redis.call('EXPIRE', P .. 'bl:' .. period, line_ttl)
        redis.call('EXPIRE', P .. 'bdirty:' .. period, line_ttl)
    end
end

local function apply()
    local topic, ttl, day_ttl, line_ttl = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
    local off_key = P .. 'off:' .. topic
    local o, i = offsets(7)
    local refusal = refused_by(off_key, o)
    if refusal then
        return refusal
    end
    record_offsets(off_key, o, ttl)
    local queued = false
    for _ = 1, tonumber(ARGV[i]) do
        local kind, period = ARGV[i + 1], ARGV[i + 2]
        if kind == 'L' then
            apply_line(period, ARGV[i + 3], ARGV[i + 4])
        else
            refresh_end(period, ARGV[i + 3], ARGV[i + 4] == '1', ttl)
            queued = true
        end
        i = i + 4
    end
    write_days(day_ttl)
    write_projects(ttl)
    expire_periods(line_ttl)
    if queued then
        redis.call('EXPIRE', P .. 'bq', ttl)
        redis.call('EXPIRE', P .. 'bseq', ttl)
    end
    return {1}
end

-- The oldest queued refresh end, if its lease is free; one whose hash has
-- expired leaves the queue. Refreshes are scored strictly in order: a later
-- one scored while an earlier one's scorer crashed would read detector
-- state without the earlier commit and emit different alerts (and ids)
-- than an uninterrupted run. So a held lease makes everyone wait for it.
local function claim()
    local lease, max = tonumber(ARGV[3]), tonumber(ARGV[4])
    local seqs = redis.call('ZRANGE', P .. 'bq', 0, max - 1)
    for _, seq in ipairs(seqs) do
        local h = redis.call('HMGET', P .. 'bq:' .. seq, 'period', 'version', 'projects')
        if not h[1] then
            redis.call('ZREM', P .. 'bq', seq)
        elseif redis.call('SET', P .. 'bq:claim:' .. seq, 'lease', 'NX', 'EX', lease) then
            return {seq, h[1], h[2], h[3] or ''}
        else
            return {}
        end
    end
    return {}
end

if op == 'apply' then
    return apply()
elseif op == 'claim' then
    return claim()
end
return redis.error_reply('cost.lua: unknown operation ' .. tostring(op))
