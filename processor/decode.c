/* decode.c -- CloudFront field names, record building, and real-time TSV.
 *
 * Hot path: one pass over the line with memchr, a table lookup per column
 * to decide whether the pipeline needs it, and integer parsing without
 * locale or allocation. Values stay URL-encoded; decoding happens only where
 * a value is shown to people (the URI path), never before splitting (a
 * literal TAB is always a separator because CloudFront encodes TAB and LF).
 *
 * The record builders (ew_cf_put_*, ew_cf_finish) are shared by every
 * encoding so that "-", status 000, latencies and result types mean the
 * same thing whether they came from TSV, JSON, Avro or a standard log.
 */
#include "edgewatch/decode.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* AWS canonical order, positions 1..69 (formats.md §1.3). */
static const char *const canonical[EW_CF_CANONICAL_FIELDS] = {
    "timestamp", "c-ip", "s-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method",
    "cs-protocol", "cs-host", "cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id",
    "x-host-header", "time-taken", "cs-protocol-version", "c-ip-version", "cs-user-agent",
    "cs-referer", "cs-cookie", "cs-uri-query", "x-edge-response-result-type", "x-forwarded-for",
    "ssl-protocol", "ssl-cipher", "x-edge-result-type", "fle-encrypted-fields", "fle-status",
    "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end", "c-port",
    "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept",
    "cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count",
    "primary-distribution-id", "primary-distribution-dns-name", "origin-fbl", "origin-lbl", "asn",
    "cmcd-encoded-bitrate", "cmcd-buffer-length", "cmcd-buffer-starvation", "cmcd-content-id",
    "cmcd-object-duration", "cmcd-deadline", "cmcd-measured-throughput",
    "cmcd-next-object-request", "cmcd-next-range-request", "cmcd-object-type",
    "cmcd-playback-rate", "cmcd-requested-maximum-throughput", "cmcd-streaming-format",
    "cmcd-session-id", "cmcd-stream-type", "cmcd-startup", "cmcd-top-bitrate", "cmcd-version",
    "r-host", "sr-reason", "x-edge-mqcs", "distribution-tenant-id", "connection-id",
};

/* Lengths are stored so that a lookup per JSON key or Avro field name
 * costs a length compare for most entries, not a strcmp. */
#define SLOT(name, slot) {name, sizeof name - 1, slot}
static const struct {
    const char *name;
    size_t len;
    ew_needed_field slot;
} realtime_slots[] = {
    SLOT("timestamp", EW_F_TIMESTAMP), SLOT("sc-status", EW_F_STATUS), SLOT("sc-bytes", EW_F_BYTES),
    SLOT("x-host-header", EW_F_HOST_HEADER), SLOT("cs-host", EW_F_CS_HOST),
    SLOT("distribution-tenant-id", EW_F_TENANT), SLOT("x-edge-result-type", EW_F_RESULT),
    SLOT("time-to-first-byte", EW_F_TTFB), SLOT("origin-fbl", EW_F_ORIGIN_FBL), SLOT("c-ip", EW_F_CLIENT_IP),
    SLOT("asn", EW_F_ASN), SLOT("c-country", EW_F_COUNTRY), SLOT("x-edge-location", EW_F_EDGE_LOCATION),
    SLOT("cs-uri-stem", EW_F_URI_STEM),
};

/* Standard logs name the d… domain cs(Host) and the viewer's Host header
 * x-host-header: the reverse of real-time logs (formats.md §2.3). */
static const struct {
    const char *name;
    ew_needed_field slot;
} stdlog_slots[] = {
    {"date", EW_F_DATE}, {"time", EW_F_TIME}, {"timestamp(ms)", EW_F_TIMESTAMP_MS},
    {"timestamp", EW_F_TIMESTAMP}, {"sc-status", EW_F_STATUS}, {"sc-bytes", EW_F_BYTES},
    {"cs(Host)", EW_F_HOST_HEADER}, {"x-host-header", EW_F_CS_HOST},
    {"distribution-tenant-id", EW_F_TENANT}, {"x-edge-result-type", EW_F_RESULT},
    {"time-to-first-byte", EW_F_TTFB}, {"origin-fbl", EW_F_ORIGIN_FBL}, {"c-ip", EW_F_CLIENT_IP},
    {"asn", EW_F_ASN}, {"c-country", EW_F_COUNTRY}, {"x-edge-location", EW_F_EDGE_LOCATION},
    {"cs-uri-stem", EW_F_URI_STEM}, {"distributionid", EW_F_DISTRIBUTION_ID},
    {"DistributionId", EW_F_DISTRIBUTION_ID},
};

static const char *const reason_names[EW_DECODE_REASONS] = {
    "ok", "column_count", "bad_timestamp", "bad_status", "bad_bytes", "bad_latency", "line_too_long",
    "no_identity", "bad_utf8", "bad_json", "bad_avro", "unknown_schema_id", "unsupported_encoding", "empty",
    "missing_field", "bad_amount", "unknown_currency", "bad_interval", "negative_usage_positive_cost",
};

const char *ew_decode_error_name(ew_decode_error e)
{
    return (unsigned)e < EW_DECODE_REASONS ? reason_names[e] : "unknown";
}

/* ---- field names ---- */

int ew_field_position(const char *name)
{
    for (int i = 0; i < EW_CF_CANONICAL_FIELDS; i++)
        if (strcmp(canonical[i], name) == 0)
            return i + 1;
    return 0;
}

const char *ew_field_name(int position)
{
    return position >= 1 && position <= EW_CF_CANONICAL_FIELDS ? canonical[position - 1] : NULL;
}

int ew_field_slot(const char *name)
{
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof realtime_slots / sizeof realtime_slots[0]; k++)
        if (realtime_slots[k].len == n && memcmp(realtime_slots[k].name, name, n) == 0)
            return (int)realtime_slots[k].slot;
    return -1;
}

int ew_stdlog_field_slot(ew_str name)
{
    for (size_t k = 0; k < sizeof stdlog_slots / sizeof stdlog_slots[0]; k++)
        if (ew_str_eq(name, stdlog_slots[k].name))
            return (int)stdlog_slots[k].slot;
    return -1;
}

/* ---- text helpers ---- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t ew_url_decode(ew_str src, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < src.len && o < cap; i++) {
        char c = src.ptr[i];
        int hi, lo;
        if (c == '%' && i + 2 < src.len && (hi = hex_value(src.ptr[i + 1])) >= 0 &&
            (lo = hex_value(src.ptr[i + 2])) >= 0) {
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dst[o++] = c;
        }
    }
    return o;
}

bool ew_utf8_valid(const char *s, size_t len)
{
    if (len == 0) /* s may be NULL: an absent value */
        return true;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

/* CloudFront writes "-" for a missing value; an empty numeric value is
 * malformed, an empty string value is just empty. */
static bool is_absent(ew_str s) { return s.len == 1 && s.ptr[0] == '-'; }

static ew_edge_result classify_result(ew_str s)
{
    switch (s.len) {
    case 3:
        if (memcmp(s.ptr, "Hit", 3) == 0)
            return EW_RESULT_HIT;
        break;
    case 4:
        if (memcmp(s.ptr, "Miss", 4) == 0)
            return EW_RESULT_MISS;
        break;
    case 5:
        if (memcmp(s.ptr, "Error", 5) == 0)
            return EW_RESULT_ERROR;
        break;
    case 10:
        if (memcmp(s.ptr, "RefreshHit", 10) == 0)
            return EW_RESULT_HIT;
        break;
    case 13:
        if (memcmp(s.ptr, "LimitExceeded", 13) == 0)
            return EW_RESULT_LIMIT;
        break;
    case 15:
        if (memcmp(s.ptr, "OriginShieldHit", 15) == 0)
            return EW_RESULT_HIT;
        break;
    case 16:
        if (memcmp(s.ptr, "CapacityExceeded", 16) == 0)
            return EW_RESULT_CAPACITY;
        break;
    }
    return EW_RESULT_OTHER;
}

static bool digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)p[i] - '0';
        if (c > 9)
            return false;
        v = v * 10 + c;
    }
    *out = v;
    return true;
}

/* A log record dated before 1970 is junk, not history. */
static bool parse_date(ew_str s, int32_t *days)
{
    int64_t d;
    if (s.len != 10 || !ew_parse_date_days(s, &d) || d < 0 || d > INT32_MAX)
        return false;
    *days = (int32_t)d;
    return true;
}

static bool parse_time_of_day(ew_str s, int32_t *secs)
{
    unsigned h, mi, se;
    if (s.len != 8 || s.ptr[2] != ':' || s.ptr[5] != ':' || !digits(s.ptr, 2, &h) ||
        !digits(s.ptr + 3, 2, &mi) || !digits(s.ptr + 6, 2, &se) || h > 23 || mi > 59 || se > 60)
        return false;
    *secs = (int32_t)(h * 3600 + mi * 60 + se);
    return true;
}

/* Seconds with a fraction ("0.042") to whole milliseconds. */
static ew_decode_error put_latency(int32_t *out, ew_str s)
{
    int64_t ms;
    if (!ew_parse_seconds_ms(s, &ms) || ms > 86400000)
        return EW_DECODE_LATENCY;
    *out = (int32_t)ms;
    return EW_DECODE_OK;
}

static ew_str *string_slot(ew_cf_record *r, ew_needed_field f)
{
    switch (f) {
    case EW_F_HOST_HEADER: return &r->host_header;
    case EW_F_CS_HOST: return &r->cs_host;
    case EW_F_TENANT: return &r->tenant_id;
    case EW_F_CLIENT_IP: return &r->client_ip;
    case EW_F_ASN: return &r->asn;
    case EW_F_COUNTRY: return &r->country;
    case EW_F_EDGE_LOCATION: return &r->edge_location;
    case EW_F_URI_STEM: return &r->uri_stem;
    case EW_F_DISTRIBUTION_ID: return &r->distribution_id;
    default: return NULL;
    }
}

/* ---- record building ---- */

void ew_cf_record_reset(ew_cf_record *r)
{
    memset(r, 0, offsetof(ew_cf_record, scratch));
    r->ts_ms = INT64_MIN;
    r->result = EW_RESULT_OTHER;
    r->ttfb_ms = -1;
    r->origin_fbl_ms = -1;
    r->date_days = INT32_MIN;
    r->time_s = -1;
}

char *ew_cf_scratch(ew_cf_record *r, size_t n)
{
    if (n > sizeof r->scratch - r->scratch_used)
        return NULL;
    char *p = r->scratch + r->scratch_used;
    r->scratch_used += n;
    return p;
}

ew_decode_error ew_cf_put_text(ew_cf_record *r, ew_needed_field f, ew_str v)
{
    uint64_t n;
    if (is_absent(v))
        return EW_DECODE_OK;
    switch (f) {
    case EW_F_TIMESTAMP:
        if (!ew_parse_seconds_ms(v, &r->ts_ms))
            return EW_DECODE_TIMESTAMP;
        return EW_DECODE_OK;
    case EW_F_TIMESTAMP_MS:
        if (!ew_parse_u64(v, &n) || n > 253402300799999ULL)
            return EW_DECODE_TIMESTAMP;
        r->ts_ms = (int64_t)n;
        return EW_DECODE_OK;
    case EW_F_DATE:
        return parse_date(v, &r->date_days) ? EW_DECODE_OK : EW_DECODE_TIMESTAMP;
    case EW_F_TIME:
        return parse_time_of_day(v, &r->time_s) ? EW_DECODE_OK : EW_DECODE_TIMESTAMP;
    case EW_F_STATUS:
        if (!ew_parse_u64(v, &n) || n > 999)
            return EW_DECODE_STATUS;
        r->status = (uint32_t)n;
        return EW_DECODE_OK;
    case EW_F_BYTES:
        if (!ew_parse_u64(v, &n))
            return EW_DECODE_BYTES;
        r->bytes = n;
        return EW_DECODE_OK;
    case EW_F_TTFB:
        return put_latency(&r->ttfb_ms, v);
    case EW_F_ORIGIN_FBL:
        return put_latency(&r->origin_fbl_ms, v);
    case EW_F_RESULT:
        r->result = classify_result(v);
        return EW_DECODE_OK;
    default:
        break;
    }
    ew_str *s = string_slot(r, f);
    if (s)
        *s = v;
    return EW_DECODE_OK;
}

ew_decode_error ew_cf_put_int(ew_cf_record *r, ew_needed_field f, int64_t v)
{
    switch (f) {
    case EW_F_TIMESTAMP:
    case EW_F_TIMESTAMP_MS:
        if (v < 0 || v > 253402300799999LL)
            return EW_DECODE_TIMESTAMP;
        r->ts_ms = v;
        return EW_DECODE_OK;
    case EW_F_STATUS:
        if (v < 0 || v > 999)
            return EW_DECODE_STATUS;
        r->status = (uint32_t)v;
        return EW_DECODE_OK;
    case EW_F_BYTES:
        if (v < 0)
            return EW_DECODE_BYTES;
        r->bytes = (uint64_t)v;
        return EW_DECODE_OK;
    case EW_F_TTFB:
    case EW_F_ORIGIN_FBL:
        if (v < 0 || v > 86400000)
            return EW_DECODE_LATENCY;
        *(f == EW_F_TTFB ? &r->ttfb_ms : &r->origin_fbl_ms) = (int32_t)v;
        return EW_DECODE_OK;
    case EW_F_DATE:
    case EW_F_TIME:
        return EW_DECODE_TIMESTAMP;
    default:
        break;
    }
    ew_str *s = string_slot(r, f);
    if (!s)
        return EW_DECODE_OK; /* result type as a number: leave it "other" */
    char *buf = ew_cf_scratch(r, 24);
    if (!buf)
        return EW_DECODE_TOO_LONG;
    int n = snprintf(buf, 24, "%lld", (long long)v);
    *s = ew_str_make(buf, (size_t)n);
    return EW_DECODE_OK;
}

ew_decode_error ew_cf_put_seconds(ew_cf_record *r, ew_needed_field f, double seconds)
{
    if (!isfinite(seconds) || seconds < 0 || seconds > 253402300799.0)
        return f == EW_F_TIMESTAMP ? EW_DECODE_TIMESTAMP : EW_DECODE_LATENCY;
    int64_t ms = (int64_t)llround(seconds * 1000.0);
    switch (f) {
    case EW_F_TIMESTAMP:
        r->ts_ms = ms;
        return EW_DECODE_OK;
    case EW_F_TTFB:
    case EW_F_ORIGIN_FBL:
        return ew_cf_put_int(r, f, ms);
    default:
        return ew_cf_put_int(r, f, (int64_t)seconds);
    }
}

/* The path without the query, URL-decoded only when it holds an escape so
 * that the common case stays a borrowed slice. */
static ew_decode_error finish_uri(ew_cf_record *r)
{
    ew_str stem = r->uri_stem;
    const char *q = stem.len ? memchr(stem.ptr, '?', stem.len) : NULL;
    ew_str path = ew_str_make(stem.ptr, q ? (size_t)(q - stem.ptr) : stem.len);
    if (path.len > EW_CF_URI_MAX)
        path.len = EW_CF_URI_MAX;
    if (path.len && memchr(path.ptr, '%', path.len)) {
        size_t before = r->scratch_used;
        char *buf = ew_cf_scratch(r, path.len);
        if (!buf)
            return EW_DECODE_TOO_LONG;
        size_t n = ew_url_decode(path, buf, path.len);
        r->scratch_used = before + n;
        path = ew_str_make(buf, n);
    }
    if (!ew_utf8_valid(path.ptr, path.len))
        return EW_DECODE_UTF8;
    r->uri_path = path;
    return EW_DECODE_OK;
}

ew_decode_error ew_cf_finish(ew_cf_record *r)
{
    if (r->ts_ms == INT64_MIN && r->date_days != INT32_MIN && r->time_s >= 0)
        r->ts_ms = ((int64_t)r->date_days * 86400 + r->time_s) * 1000;
    if (r->ts_ms == INT64_MIN)
        return EW_DECODE_TIMESTAMP;
    ew_decode_error e = finish_uri(r);
    if (e != EW_DECODE_OK)
        return e;
    return ew_cf_identity(r).len ? EW_DECODE_OK : EW_DECODE_NO_IDENTITY;
}

/* Every string member of ew_cf_record is listed here: one left out would
 * keep pointing into the scratch buffer of the thread that decoded it. */
void ew_cf_record_detach(ew_cf_record *r, char *dst)
{
    ew_str *strs[] = {&r->distribution_id, &r->host_header, &r->cs_host, &r->tenant_id, &r->client_ip, &r->asn,
                      &r->country, &r->edge_location, &r->uri_stem, &r->uri_path};
    memcpy(dst, r->scratch, r->scratch_used);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        ew_str *s = strs[i];
        /* Compared as integers: ordering pointers into different objects
         * is undefined. */
        uintptr_t p = (uintptr_t)s->ptr, base = (uintptr_t)r->scratch;
        if (s->len && p >= base && p < base + r->scratch_used)
            s->ptr = dst + (p - base);
    }
}

ew_str ew_cf_identity(const ew_cf_record *r)
{
    if (r->distribution_id.len)
        return r->distribution_id;
    if (r->host_header.len)
        return r->host_header;
    if (r->cs_host.len)
        return r->cs_host;
    return r->tenant_id;
}

/* ---- real-time TSV ---- */

bool ew_fieldset_check(const char *const *names, size_t n, char *err, size_t errcap)
{
    bool seen[EW_CF_CANONICAL_FIELDS + 1] = {false};
    if (n == 0) {
        snprintf(err, errcap, "no fields selected");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        int pos = ew_field_position(names[i]);
        if (!pos) {
            snprintf(err, errcap, "unknown CloudFront real-time log field \"%s\" (entry %zu)", names[i], i + 1);
            return false;
        }
        if (seen[pos]) {
            snprintf(err, errcap, "field \"%s\" is listed twice", names[i]);
            return false;
        }
        seen[pos] = true;
    }
    if (!seen[1]) {
        snprintf(err, errcap, "\"timestamp\" must be selected: windows are keyed on event time");
        return false;
    }
    if (!seen[ew_field_position("x-host-header")] && !seen[ew_field_position("cs-host")] &&
        !seen[ew_field_position("distribution-tenant-id")]) {
        snprintf(err, errcap, "select x-host-header, cs-host or distribution-tenant-id to identify the distribution");
        return false;
    }
    return true;
}

bool ew_cf_decoder_init(ew_cf_decoder *d, const char *const *names, size_t n, size_t max_line_bytes,
                        char *err, size_t errcap)
{
    if (!ew_fieldset_check(names, n, err, errcap))
        return false;
    bool selected[EW_CF_CANONICAL_FIELDS + 1] = {false};
    for (size_t i = 0; i < n; i++)
        selected[ew_field_position(names[i])] = true;
    memset(d, 0, sizeof *d);
    memset(d->slot_of_column, -1, sizeof d->slot_of_column);
    d->max_line_bytes = max_line_bytes;
    /* Columns arrive in canonical order, so column k is the k-th selected
     * field by canonical position, not by its place in the config. */
    size_t col = 0;
    for (int pos = 1; pos <= EW_CF_CANONICAL_FIELDS; pos++) {
        if (!selected[pos])
            continue;
        int slot = ew_field_slot(canonical[pos - 1]);
        if (slot >= 0) {
            d->slot_of_column[col] = (int8_t)slot;
            d->has_field[slot] = true;
        }
        col++;
    }
    d->n_columns = col;
    return true;
}

ew_decode_error ew_cf_decode_tsv(const ew_cf_decoder *d, const char *line, size_t len, ew_cf_record *out)
{
    ew_cf_record_reset(out);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > d->max_line_bytes)
        return EW_DECODE_TOO_LONG;
    ew_decode_error e = ew_cf_put_columns(d->slot_of_column, d->n_columns, d->has_field, line, len, out);
    return e != EW_DECODE_OK ? e : ew_cf_finish(out);
}

ew_decode_error ew_cf_put_columns(const int8_t *slot_of_column, size_t n_columns, const bool *has_field,
                                  const char *line, size_t len, ew_cf_record *out)
{
    ew_str col[EW_F_NEEDED];
    memset(col, 0, sizeof col);
    const char *p = line, *end = line + len;
    size_t c = 0;
    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = tab ? tab : end;
        if (c >= n_columns)
            return EW_DECODE_COLUMNS;
        int slot = slot_of_column[c];
        if (slot >= 0)
            col[slot] = ew_str_make(p, (size_t)(stop - p));
        c++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (c != n_columns)
        return EW_DECODE_COLUMNS;
    /* Slots in a fixed order so the first bad field decides the reason. */
    for (int f = 0; f < EW_F_NEEDED; f++) {
        if (!has_field[f])
            continue;
        ew_decode_error e = ew_cf_put_text(out, (ew_needed_field)f, col[f]);
        if (e != EW_DECODE_OK)
            return e;
    }
    return EW_DECODE_OK;
}

