/* decode.h -- CloudFront log records, in any of their encodings, into what
 * the pipeline uses.
 *
 * One record type (ew_cf_record) whatever the encoding. Each encoding has a
 * decoder that finds field values and hands them to ew_cf_put_text() or
 * ew_cf_put_int(); ew_cf_finish() then derives what needs several fields
 * (date + time, URI path, identity). No decoder allocates per record:
 * strings in the record point into the caller's message, or into the
 * record's own scratch buffer when a value had to be unescaped.
 *
 *   decode.c         field table, record building, real-time TSV lines
 *   decode_json.c    JSON objects (real-time names, or standard-log v2 names)
 *   decode_avro.c    Avro datums described by a writer schema (.avsc)
 *   decode_message.c picks the decoder per Kafka message from its first bytes
 *   decode_stdlog.c  archived standard log files (gzip or plain) for replay
 */
#ifndef EDGEWATCH_DECODE_H
#define EDGEWATCH_DECODE_H

#include "edgewatch/common.h"

#define EW_CF_CANONICAL_FIELDS 69
#define EW_CF_SCRATCH 4096
/* A displayed URI path is cut to this many bytes (after URL-decoding). */
#define EW_CF_URI_MAX 1024

typedef enum {
    EW_RESULT_HIT,      /* Hit, RefreshHit, OriginShieldHit */
    EW_RESULT_MISS,
    EW_RESULT_ERROR,
    EW_RESULT_LIMIT,    /* LimitExceeded */
    EW_RESULT_CAPACITY, /* CapacityExceeded */
    EW_RESULT_OTHER,    /* anything else, including unknown future values */
    EW_RESULT_COUNT
} ew_edge_result;

typedef enum {
    EW_DECODE_OK = 0,
    EW_DECODE_COLUMNS,        /* column count differs from the selected fields */
    EW_DECODE_TIMESTAMP,
    EW_DECODE_STATUS,
    EW_DECODE_BYTES,
    EW_DECODE_LATENCY,
    EW_DECODE_TOO_LONG,
    EW_DECODE_NO_IDENTITY,    /* no distribution id, host header, host or tenant */
    EW_DECODE_UTF8,           /* a displayed field is not valid UTF-8 once URL-decoded */
    EW_DECODE_JSON,           /* not a well-formed flat JSON object */
    EW_DECODE_AVRO,           /* truncated or malformed Avro datum */
    EW_DECODE_SCHEMA_ID,      /* Confluent schema id with no configured schema */
    EW_DECODE_ENCODING,       /* framing we recognise but do not read (Confluent v1, single-object) */
    EW_DECODE_EMPTY,          /* zero-length message */
    /* Billing line items (billing.h): */
    EW_DECODE_MISSING_FIELD,  /* a required field is absent or empty */
    EW_DECODE_AMOUNT,         /* cost or usage amount not a finite number */
    EW_DECODE_CURRENCY,       /* currency not in billing.currencies */
    EW_DECODE_INTERVAL,       /* usage end before start, or longer than 32 days, or a bad time */
    EW_DECODE_USAGE_SIGN,     /* negative usage amount with a positive cost */
    EW_DECODE_REASONS
} ew_decode_error;

/* Stable, snake_case reason names: used in DLQ headers and metrics. */
const char *ew_decode_error_name(ew_decode_error e);

/* The fields the pipeline uses. Each encoding maps its own names onto these
 * slots; the slot keeps one meaning everywhere (EW_F_HOST_HEADER is always
 * the d….cloudfront.net name, which standard logs call cs(Host)). */
typedef enum {
    EW_F_TIMESTAMP,      /* epoch seconds with a fraction ("1607374321.541") */
    EW_F_STATUS,
    EW_F_BYTES,
    EW_F_HOST_HEADER,    /* the distribution's d….cloudfront.net domain */
    EW_F_CS_HOST,        /* the viewer's Host header */
    EW_F_TENANT,
    EW_F_RESULT,
    EW_F_TTFB,           /* seconds with a fraction */
    EW_F_ORIGIN_FBL,     /* seconds with a fraction */
    EW_F_CLIENT_IP,
    EW_F_ASN,
    EW_F_COUNTRY,
    EW_F_EDGE_LOCATION,
    EW_F_URI_STEM,       /* may carry the query (real-time) or not (standard) */
    EW_F_DISTRIBUTION_ID,/* standard logging v2 "distributionid", or a file name */
    EW_F_DATE,           /* standard logs: "2019-12-04" (UTC) */
    EW_F_TIME,           /* standard logs: "21:02:31" (UTC) */
    EW_F_TIMESTAMP_MS,   /* standard logging v2 "timestamp(ms)": integer epoch ms */
    EW_F_NEEDED
} ew_needed_field;

typedef struct {
    int64_t ts_ms;            /* INT64_MIN until set */
    uint32_t status;          /* 0 when "-" or "000" */
    uint64_t bytes;
    ew_str distribution_id;   /* empty for real-time records */
    ew_str host_header;       /* x-host-header (real-time) / cs(Host) (standard) */
    ew_str cs_host;
    ew_str tenant_id;         /* distribution-tenant-id */
    ew_edge_result result;
    int32_t ttfb_ms;          /* -1 when absent */
    int32_t origin_fbl_ms;    /* -1 when absent */
    ew_str client_ip, asn, country, edge_location;
    ew_str uri_stem;          /* as received */
    ew_str uri_path;          /* without the query, URL-decoded, valid UTF-8 */
    /* A new string member goes into ew_cf_record_detach's list too.
     * Parts only ew_cf_finish() reads: */
    int32_t date_days;        /* days since 1970-01-01, or INT32_MIN */
    int32_t time_s;           /* seconds into the day, or -1 */
    size_t scratch_used;
    char scratch[EW_CF_SCRATCH]; /* never cleared: only scratch_used matters */
} ew_cf_record;

/* ---- building a record (used by every decoder) ---- */

/* Clears the fields (not the scratch buffer) before a decode. */
void ew_cf_record_reset(ew_cf_record *r);
/* Sets one slot from its textual form; "-" and "" mean absent. Returns the
 * reason when the text is not valid for the slot. */
ew_decode_error ew_cf_put_text(ew_cf_record *r, ew_needed_field f, ew_str v);
/* Sets one slot from a number, for encodings that carry typed values:
 * EW_F_TIMESTAMP and EW_F_TIMESTAMP_MS take epoch ms, latencies take ms,
 * string slots get the decimal text (written into the scratch buffer). */
ew_decode_error ew_cf_put_int(ew_cf_record *r, ew_needed_field f, int64_t v);
/* Sets a seconds-valued slot (EW_F_TIMESTAMP, EW_F_TTFB, EW_F_ORIGIN_FBL)
 * from a double, as Avro and JSON numbers may carry it. */
ew_decode_error ew_cf_put_seconds(ew_cf_record *r, ew_needed_field f, double seconds);
/* Reserves n bytes of the record's scratch buffer, or NULL when full. */
char *ew_cf_scratch(ew_cf_record *r, size_t n);
/* Completes a record: date + time into ts_ms, the URI path, and checks that
 * there is a timestamp and an identity. */
ew_decode_error ew_cf_finish(ew_cf_record *r);

/* A decoded record handed to another thread needs only what comes before
 * its scratch buffer, once the scratch bytes in use live elsewhere:
 * ew_cf_record_detach copies those r->scratch_used bytes to dst and points
 * the strings that were in the scratch buffer at the copy. The first
 * EW_CF_RECORD_HEAD bytes of r are then the whole record, valid as long as
 * the message and dst are. */
#define EW_CF_RECORD_HEAD offsetof(ew_cf_record, scratch)
void ew_cf_record_detach(ew_cf_record *r, char *dst);

/* ---- field names ---- */

/* Canonical position (1-based) of an AWS real-time field name, or 0. */
int ew_field_position(const char *name);
const char *ew_field_name(int position);
/* The slot a real-time field feeds, or -1 when the pipeline does not use it. */
int ew_field_slot(const char *name);
/* The slot a standard-log field name (#Fields line or v2 JSON key) feeds,
 * or -1: "cs(Host)" -> EW_F_HOST_HEADER, "x-host-header" -> EW_F_CS_HOST,
 * "date", "time", "timestamp(ms)", "distributionid", ... */
int ew_stdlog_field_slot(ew_str name);

/* ---- real-time TSV lines ---- */

typedef struct {
    int8_t slot_of_column[EW_CF_CANONICAL_FIELDS + 8]; /* needed slot or -1 */
    size_t n_columns;
    size_t max_line_bytes;
    bool has_field[EW_F_NEEDED];
} ew_cf_decoder;

/* Checks a selected-field list: known names, no duplicates, a timestamp and
 * at least one identity field. */
bool ew_fieldset_check(const char *const *names, size_t n, char *err, size_t errcap);
bool ew_cf_decoder_init(ew_cf_decoder *d, const char *const *names, size_t n, size_t max_line_bytes,
                        char *err, size_t errcap);
ew_decode_error ew_cf_decode_tsv(const ew_cf_decoder *d, const char *line, size_t len, ew_cf_record *out);
/* The TAB-splitting step shared by real-time lines and standard-log lines:
 * checks the column count and puts each mapped column into its slot, but
 * does not finish the record. */
ew_decode_error ew_cf_put_columns(const int8_t *slot_of_column, size_t n_columns, const bool *has_field,
                                  const char *line, size_t len, ew_cf_record *out);

/* ---- JSON objects (decode_json.c) ---- */

typedef enum {
    EW_JSON_REALTIME,    /* keys are real-time field names ("x-host-header" = d… domain) */
    EW_JSON_STANDARD,    /* keys are standard-log names (standard logging v2 JSON) */
} ew_json_dialect;

/* One flat JSON object per message; values are strings, numbers, true,
 * false or null (null = absent). Nested objects and arrays are skipped.
 * Unknown keys are ignored. max_bytes bounds the whole message. */
ew_decode_error ew_cf_decode_json(ew_json_dialect dialect, const char *buf, size_t len, size_t max_bytes,
                                  ew_cf_record *out);

/* ---- Avro (decode_avro.c) ---- */

typedef struct ew_avro_schema ew_avro_schema;

/* schemas/cloudfront_realtime_log.avsc, compiled into the binary. */
extern const char ew_schema_cloudfront_realtime_log[];

/* Compiles a writer schema (the .avsc JSON text): a record whose fields
 * are matched to slots by name ("x_host_header" is "x-host-header").
 * Fields of any Avro type are accepted; those the pipeline does not use
 * are skipped when decoding. */
ew_avro_schema *ew_avro_schema_compile(const char *json, size_t len, char *err, size_t errcap);
void ew_avro_schema_free(ew_avro_schema *s);
/* A zig-zag varint long at *p, at most 10 bytes (the 10th may only carry
 * bit 63); *p moves past it. False when truncated or too long. Shared by
 * every reader of Avro binary. */
bool ew_avro_read_long(const uint8_t **p, const uint8_t *end, int64_t *out);
/* Decodes one bare binary datum (no framing) written with schema s. */
ew_decode_error ew_cf_decode_avro(const ew_avro_schema *s, const void *datum, size_t len, ew_cf_record *out);
/* The datum at the start of buf, which may be followed by others (an Avro
 * object container block); *used gets its length unless the result is
 * EW_DECODE_AVRO (the datum's end is then unknown). */
ew_decode_error ew_cf_decode_avro_prefix(const ew_avro_schema *s, const void *buf, size_t len, ew_cf_record *out,
                                         size_t *used);

/* ---- Avro object container files (decode_avro_file.c) ---- */

typedef struct ew_avro_file ew_avro_file;

/* True when the first 4 bytes are the container magic "Obj\x01". */
bool ew_avro_file_magic(const void *buf, size_t len);
/* Opens a container file: reads its header, compiles its writer schema
 * (avro.schema), accepts the null and deflate codecs. NULL with err set. */
ew_avro_file *ew_avro_file_open(const char *path, char *err, size_t errcap);
/* Next datum: 1 with *e set (EW_DECODE_OK or why it is bad), 0 at the end,
 * -1 on a broken file (message in err). A datum that is not valid Avro
 * (bad_avro) ends its block: the block's other objects cannot be found. */
int ew_avro_file_next(ew_avro_file *f, ew_cf_record *out, ew_decode_error *e, char *err, size_t errcap);
void ew_avro_file_close(ew_avro_file *f);

/* ---- one Kafka message, any encoding (decode_message.c) ---- */

typedef enum {
    EW_ENC_TSV,
    EW_ENC_JSON,
    EW_ENC_AVRO_CONFLUENT, /* 0x00 + 4-byte big-endian schema id + datum */
    EW_ENC_AVRO_BARE,      /* first byte >= 0x80: the builtin schema's timestamp-millis varint */
    EW_ENC_UNSUPPORTED,    /* Confluent v1 (0x01) or Avro single-object (C3 01) */
    EW_ENC_COUNT
} ew_encoding;

const char *ew_encoding_name(ew_encoding e);
/* Tells encodings apart by their first bytes (docs/decoding.md). */
ew_encoding ew_sniff_encoding(const void *buf, size_t len);

#define EW_AVRO_MAX_SCHEMAS 32

typedef struct {
    int32_t id;
    ew_avro_schema *schema;
} ew_avro_schema_id;

typedef struct {
    ew_cf_decoder tsv;
    size_t max_bytes;
    ew_avro_schema *bare;                         /* writer schema of bare datums */
    ew_avro_schema_id confluent[EW_AVRO_MAX_SCHEMAS];
    size_t n_confluent;
    uint64_t by_encoding[EW_ENC_COUNT];           /* messages seen, per encoding */
} ew_message_decoder;

/* avro_schemas: n pairs of (schema id, .avsc path or "builtin"); bare:
 * path or "builtin" for bare datums. */
bool ew_message_decoder_init(ew_message_decoder *md, const char *const *fields, size_t n_fields,
                             size_t max_bytes, const int32_t *schema_ids, const char *const *schema_paths,
                             size_t n_schemas, const char *bare_schema, char *err, size_t errcap);
void ew_message_decoder_free(ew_message_decoder *md);
ew_decode_error ew_decode_message(ew_message_decoder *md, const void *buf, size_t len, ew_cf_record *out);

/* ---- archived standard logs (decode_stdlog.c) ---- */

typedef struct ew_stdlog_reader ew_stdlog_reader;

/* Opens a gzip or plain standard log file ("-" = stdin). Lines are mapped
 * by the file's "#Fields:" header; lines starting with '{' are standard
 * logging v2 JSON. The distribution id comes from the file name
 * (<prefix>/<DistributionID>.YYYY-MM-DD-HH.<unique>.gz) when it has that
 * shape, else from a "distributionid" field, else from cs(Host). */
ew_stdlog_reader *ew_stdlog_open(const char *path, size_t max_line_bytes, char *err, size_t errcap);
/* Next data line: 1 with *e set (EW_DECODE_OK or the reason the line is
 * bad), 0 at end of file, -1 on a read error (message in err). Strings in
 * out stay valid until the next call. */
int ew_stdlog_next(ew_stdlog_reader *rd, ew_cf_record *out, ew_decode_error *e, char *err, size_t errcap);
/* 1-based line number of the line last returned, for error messages. */
uint64_t ew_stdlog_line(const ew_stdlog_reader *rd);
void ew_stdlog_close(ew_stdlog_reader *rd);
/* The distribution id in a standard-log object name, or an empty slice. */
ew_str ew_stdlog_distribution_from_name(const char *path);

/* ---- identity ---- */

/* The key a record is aggregated under before metadata: distribution id,
 * else x-host-header, else cs-host, else distribution-tenant-id. */
ew_str ew_cf_identity(const ew_cf_record *r);

/* URL-decodes src into dst (at most cap bytes, truncating at a whole
 * input escape); returns the length written. Invalid escapes are copied
 * as they are. */
size_t ew_url_decode(ew_str src, char *dst, size_t cap);
/* True when s is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool ew_utf8_valid(const char *s, size_t len);

#endif
