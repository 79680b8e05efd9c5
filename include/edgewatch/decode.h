/* decode.h -- CloudFront real-time log records into what the pipeline uses.
 *
 * A real-time log line carries only the fields selected in the AWS config,
 * always in AWS's canonical order (whatever order the config listed them).
 * The decoder is built once from the selected field names; decoding a line
 * then splits on TAB, keeps only the columns the pipeline needs, and never
 * allocates: every string in ew_cf_record points into the caller's line.
 */
#ifndef EDGEWATCH_DECODE_H
#define EDGEWATCH_DECODE_H

#include "edgewatch/common.h"

#define EW_CF_CANONICAL_FIELDS 69

typedef enum {
    EW_RESULT_HIT,      /* Hit, RefreshHit, OriginShieldHit */
    EW_RESULT_MISS,
    EW_RESULT_ERROR,
    EW_RESULT_LIMIT,    /* LimitExceeded */
    EW_RESULT_CAPACITY, /* CapacityExceeded */
    EW_RESULT_OTHER,    /* anything else, including unknown future values */
    EW_RESULT_COUNT
} ew_edge_result;

typedef struct {
    int64_t ts_ms;
    uint32_t status;          /* 0 when "-" or "000" */
    uint64_t bytes;
    ew_str host_header;       /* x-host-header: the d….cloudfront.net domain */
    ew_str cs_host;
    ew_str tenant_id;         /* distribution-tenant-id */
    ew_edge_result result;
    int32_t ttfb_ms;          /* -1 when absent */
    int32_t origin_fbl_ms;    /* -1 when absent */
    ew_str client_ip, asn, country, edge_location, uri_stem;
} ew_cf_record;

typedef enum {
    EW_DECODE_OK = 0,
    EW_DECODE_COLUMNS,        /* column count differs from the selected fields */
    EW_DECODE_TIMESTAMP,
    EW_DECODE_STATUS,
    EW_DECODE_BYTES,
    EW_DECODE_LATENCY,
    EW_DECODE_TOO_LONG,
    EW_DECODE_NO_IDENTITY,    /* no host header, host or tenant to key on */
    EW_DECODE_REASONS
} ew_decode_error;

/* Stable, snake_case reason names: used in DLQ headers and metrics. */
const char *ew_decode_error_name(ew_decode_error e);

/* The pipeline's fields; the decoder maps each to a column or -1. */
typedef enum {
    EW_F_TIMESTAMP, EW_F_STATUS, EW_F_BYTES, EW_F_HOST_HEADER, EW_F_CS_HOST,
    EW_F_TENANT, EW_F_RESULT, EW_F_TTFB, EW_F_ORIGIN_FBL, EW_F_CLIENT_IP,
    EW_F_ASN, EW_F_COUNTRY, EW_F_EDGE_LOCATION, EW_F_URI_STEM,
    EW_F_NEEDED
} ew_needed_field;

typedef struct {
    int8_t slot_of_column[EW_CF_CANONICAL_FIELDS + 8]; /* needed slot or -1 */
    size_t n_columns;
    size_t max_line_bytes;
    bool has_field[EW_F_NEEDED];
} ew_cf_decoder;

/* Canonical position (1-based) of an AWS field name, or 0 if unknown. */
int ew_field_position(const char *name);
const char *ew_field_name(int position);
/* Checks a selected-field list: known names, no duplicates, a timestamp and
 * at least one identity field. */
bool ew_fieldset_check(const char *const *names, size_t n, char *err, size_t errcap);
bool ew_cf_decoder_init(ew_cf_decoder *d, const char *const *names, size_t n, size_t max_line_bytes,
                        char *err, size_t errcap);
ew_decode_error ew_cf_decode_tsv(const ew_cf_decoder *d, const char *line, size_t len, ew_cf_record *out);

/* The key a record is aggregated under before metadata: x-host-header,
 * else cs-host, else distribution-tenant-id. */
ew_str ew_cf_identity(const ew_cf_record *r);

#endif
