/* decode.c -- CloudFront real-time log (TSV) decoding.
 *
 * Hot path: one pass over the line with memchr, a table lookup per column
 * to decide whether the pipeline needs it, and integer parsing without
 * locale or allocation. Values stay URL-encoded; decoding happens only where
 * a value is shown to people, never before splitting (a literal TAB is
 * always a separator because CloudFront encodes TAB and LF).
 */
#include "edgewatch/decode.h"

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

static const struct {
    const char *name;
    ew_needed_field slot;
} needed[] = {
    {"timestamp", EW_F_TIMESTAMP}, {"sc-status", EW_F_STATUS}, {"sc-bytes", EW_F_BYTES},
    {"x-host-header", EW_F_HOST_HEADER}, {"cs-host", EW_F_CS_HOST},
    {"distribution-tenant-id", EW_F_TENANT}, {"x-edge-result-type", EW_F_RESULT},
    {"time-to-first-byte", EW_F_TTFB}, {"origin-fbl", EW_F_ORIGIN_FBL}, {"c-ip", EW_F_CLIENT_IP},
    {"asn", EW_F_ASN}, {"c-country", EW_F_COUNTRY}, {"x-edge-location", EW_F_EDGE_LOCATION},
    {"cs-uri-stem", EW_F_URI_STEM},
};

static const char *const reason_names[EW_DECODE_REASONS] = {
    "ok", "column_count", "bad_timestamp", "bad_status", "bad_bytes",
    "bad_latency", "line_too_long", "no_identity",
};

const char *ew_decode_error_name(ew_decode_error e)
{
    return (unsigned)e < EW_DECODE_REASONS ? reason_names[e] : "unknown";
}

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
        for (size_t k = 0; k < sizeof needed / sizeof needed[0]; k++)
            if (strcmp(needed[k].name, canonical[pos - 1]) == 0) {
                d->slot_of_column[col] = (int8_t)needed[k].slot;
                d->has_field[needed[k].slot] = true;
            }
        col++;
    }
    d->n_columns = col;
    return true;
}

static bool is_dash(ew_str s) { return s.len == 1 && s.ptr[0] == '-'; }

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

/* Seconds with a fraction ("0.042") to whole milliseconds; "-" is absent. */
static bool parse_latency(ew_str s, int32_t *out)
{
    if (s.len == 0 || is_dash(s)) {
        *out = -1;
        return true;
    }
    int64_t ms;
    if (!ew_parse_seconds_ms(s, &ms) || ms > 86400000)
        return false;
    *out = (int32_t)ms;
    return true;
}

static ew_decode_error fill_record(const ew_str *col, const bool *has, ew_cf_record *r)
{
    if (!ew_parse_seconds_ms(col[EW_F_TIMESTAMP], &r->ts_ms))
        return EW_DECODE_TIMESTAMP;
    uint64_t v = 0;
    if (has[EW_F_STATUS] && !is_dash(col[EW_F_STATUS])) {
        if (!ew_parse_u64(col[EW_F_STATUS], &v) || v > 999)
            return EW_DECODE_STATUS;
        r->status = (uint32_t)v;
    }
    if (has[EW_F_BYTES] && !is_dash(col[EW_F_BYTES])) {
        if (!ew_parse_u64(col[EW_F_BYTES], &v))
            return EW_DECODE_BYTES;
        r->bytes = v;
    }
    if (!parse_latency(col[EW_F_TTFB], &r->ttfb_ms) || !parse_latency(col[EW_F_ORIGIN_FBL], &r->origin_fbl_ms))
        return EW_DECODE_LATENCY;
    r->result = has[EW_F_RESULT] ? classify_result(col[EW_F_RESULT]) : EW_RESULT_OTHER;
    r->host_header = is_dash(col[EW_F_HOST_HEADER]) ? ew_str_make(NULL, 0) : col[EW_F_HOST_HEADER];
    r->cs_host = is_dash(col[EW_F_CS_HOST]) ? ew_str_make(NULL, 0) : col[EW_F_CS_HOST];
    r->tenant_id = is_dash(col[EW_F_TENANT]) ? ew_str_make(NULL, 0) : col[EW_F_TENANT];
    r->client_ip = col[EW_F_CLIENT_IP];
    r->asn = col[EW_F_ASN];
    r->country = col[EW_F_COUNTRY];
    r->edge_location = col[EW_F_EDGE_LOCATION];
    r->uri_stem = col[EW_F_URI_STEM];
    return ew_cf_identity(r).len ? EW_DECODE_OK : EW_DECODE_NO_IDENTITY;
}

ew_decode_error ew_cf_decode_tsv(const ew_cf_decoder *d, const char *line, size_t len, ew_cf_record *out)
{
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > d->max_line_bytes)
        return EW_DECODE_TOO_LONG;
    ew_str col[EW_F_NEEDED];
    memset(col, 0, sizeof col);
    memset(out, 0, sizeof *out);
    const char *p = line, *end = line + len;
    size_t c = 0;
    for (;;) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *stop = tab ? tab : end;
        if (c >= d->n_columns)
            return EW_DECODE_COLUMNS;
        int slot = d->slot_of_column[c];
        if (slot >= 0)
            col[slot] = ew_str_make(p, (size_t)(stop - p));
        c++;
        if (!tab)
            break;
        p = tab + 1;
    }
    if (c != d->n_columns)
        return EW_DECODE_COLUMNS;
    return fill_record(col, d->has_field, out);
}

ew_str ew_cf_identity(const ew_cf_record *r)
{
    if (r->host_header.len)
        return r->host_header;
    if (r->cs_host.len)
        return r->cs_host;
    return r->tenant_id;
}
