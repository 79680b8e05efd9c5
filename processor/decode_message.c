/* decode_message.c -- one Kafka message, whatever its encoding.
 *
 * A topic can carry TSV lines, JSON objects and Avro datums at once (during
 * a migration from one bridge to another), so the encoding is chosen per
 * message from its first bytes, never configured per topic:
 *
 *   00 + 4-byte id   Confluent wire format v0: the id picks the writer schema
 *   01               Confluent v1 (GUID ids): recognised, not read
 *   C3 01            Avro single-object encoding: recognised, not read
 *   >= 0x80          bare Avro of the builtin schema, whose first field is a
 *                    timestamp-millis long: its zig-zag varint always starts
 *                    with a continuation byte for any date after 1970-01-01
 *   '{'              JSON object (after optional whitespace)
 *   anything else    a real-time TSV line (it starts with the timestamp digits)
 */
#include "edgewatch/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const encoding_names[EW_ENC_COUNT] = {
    "tsv", "json", "avro_confluent", "avro_bare", "unsupported",
};

const char *ew_encoding_name(ew_encoding e)
{
    return (unsigned)e < EW_ENC_COUNT ? encoding_names[e] : "unknown";
}

ew_encoding ew_sniff_encoding(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    if (len == 0)
        return EW_ENC_TSV;
    if (b[0] == 0x00)
        return EW_ENC_AVRO_CONFLUENT;
    if (b[0] == 0x01 || (b[0] == 0xC3 && len > 1 && b[1] == 0x01))
        return EW_ENC_UNSUPPORTED;
    if (b[0] >= 0x80)
        return EW_ENC_AVRO_BARE;
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    return i < len && b[i] == '{' ? EW_ENC_JSON : EW_ENC_TSV;
}

/* ---- schemas ---- */

static char *read_file(const char *path, size_t *len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "cannot open Avro schema %s", path);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            char *grown = realloc(buf, cap = cap * 2 + 8192);
            if (!grown)
                break;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errcap, "cannot read Avro schema %s", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* "builtin" is the schema compiled into the binary; anything else a path. */
static ew_avro_schema *load_schema(const char *where, char *err, size_t errcap)
{
    if (strcmp(where, "builtin") == 0)
        return ew_avro_schema_compile(ew_schema_cloudfront_realtime_log, strlen(ew_schema_cloudfront_realtime_log),
                                      err, errcap);
    size_t len = 0;
    char *text = read_file(where, &len, err, errcap);
    if (!text)
        return NULL;
    char inner[400];
    ew_avro_schema *s = ew_avro_schema_compile(text, len, inner, sizeof inner);
    free(text);
    if (!s)
        snprintf(err, errcap, "%s: %s", where, inner);
    return s;
}

bool ew_message_decoder_init(ew_message_decoder *md, const char *const *fields, size_t n_fields,
                             size_t max_bytes, const int32_t *schema_ids, const char *const *schema_paths,
                             size_t n_schemas, const char *bare_schema, char *err, size_t errcap)
{
    memset(md, 0, sizeof *md);
    md->max_bytes = max_bytes;
    if (!ew_cf_decoder_init(&md->tsv, fields, n_fields, max_bytes, err, errcap))
        return false;
    if (n_schemas > EW_AVRO_MAX_SCHEMAS) {
        snprintf(err, errcap, "at most %d Avro schema ids can be configured", EW_AVRO_MAX_SCHEMAS);
        return false;
    }
    for (size_t i = 0; i < n_schemas; i++) {
        ew_avro_schema *s = load_schema(schema_paths[i], err, errcap);
        if (!s) {
            ew_message_decoder_free(md);
            return false;
        }
        md->confluent[md->n_confluent++] = (ew_avro_schema_id){schema_ids[i], s};
    }
    if (bare_schema && strcmp(bare_schema, "none") != 0 && !(md->bare = load_schema(bare_schema, err, errcap))) {
        ew_message_decoder_free(md);
        return false;
    }
    return true;
}

void ew_message_decoder_free(ew_message_decoder *md)
{
    for (size_t i = 0; i < md->n_confluent; i++)
        ew_avro_schema_free(md->confluent[i].schema);
    md->n_confluent = 0;
    ew_avro_schema_free(md->bare);
    md->bare = NULL;
}

/* ---- decoding ---- */

static ew_decode_error decode_confluent(const ew_message_decoder *md, const unsigned char *b, size_t len,
                                        ew_cf_record *out)
{
    if (len < 5)
        return EW_DECODE_AVRO;
    int32_t id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]);
    for (size_t i = 0; i < md->n_confluent; i++)
        if (md->confluent[i].id == id)
            return ew_cf_decode_avro(md->confluent[i].schema, b + 5, len - 5, out);
    return EW_DECODE_SCHEMA_ID;
}

/* Each decoder resets the record itself; on an error before that, the
 * record's contents are unspecified (callers only read it after OK). */
ew_decode_error ew_decode_message(ew_message_decoder *md, const void *buf, size_t len, ew_cf_record *out)
{
    if (len == 0)
        return EW_DECODE_EMPTY;
    if (len > md->max_bytes + 2) /* +2: a TSV line's own CR LF */
        return EW_DECODE_TOO_LONG;
    ew_encoding enc = ew_sniff_encoding(buf, len);
    md->by_encoding[enc]++;
    switch (enc) {
    case EW_ENC_AVRO_CONFLUENT:
        return decode_confluent(md, buf, len, out);
    case EW_ENC_AVRO_BARE:
        return md->bare ? ew_cf_decode_avro(md->bare, buf, len, out) : EW_DECODE_ENCODING;
    case EW_ENC_JSON:
        return ew_cf_decode_json(EW_JSON_REALTIME, buf, len, md->max_bytes, out);
    case EW_ENC_UNSUPPORTED:
        return EW_DECODE_ENCODING;
    default:
        return ew_cf_decode_tsv(&md->tsv, buf, len, out);
    }
}
