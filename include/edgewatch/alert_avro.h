/* alert_avro.h -- the alert event in Avro (schemas/alert_event.avsc).
 *
 * The JSON text of ew_alert_json is the contract; the Avro form carries the
 * same fields under the same names, in the same order. Converting JSON <->
 * Avro through the schema (avro-c generic values) keeps one source of truth:
 * a field added to the JSON and the .avsc is carried by both directions
 * without new code. docs/alerts.md describes the topic for consumers.
 */
#ifndef EDGEWATCH_ALERT_AVRO_H
#define EDGEWATCH_ALERT_AVRO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* schemas/alert_event.avsc, compiled into the binary (build/gen/schemas.c). */
extern const char ew_schema_alert_event[];

typedef struct ew_alert_codec ew_alert_codec;

/* Compiles the built-in schemas/alert_event.avsc. NULL with err on failure.
 * A codec is used by one thread at a time (each sink owns its own). */
ew_alert_codec *ew_alert_codec_new(char *err, size_t errcap);
void ew_alert_codec_free(ew_alert_codec *c);

/* An alert event (JSON object text of the contract) to Avro binary:
 * Confluent-framed (magic 0, 4-byte big-endian schema_id) when schema_id >= 0,
 * bare when schema_id < 0. Returns the length and a malloc'd buffer in *out,
 * or -1 with err naming the field that does not fit the schema. A field the
 * schema lacks is an error too (the two would have drifted apart); a field
 * missing from the JSON is null when the schema allows null. */
long ew_alert_to_avro(ew_alert_codec *c, const char *json, int32_t schema_id, unsigned char **out, char *err,
                      size_t errcap);

/* Avro (framed when the first byte is 0 and len >= 5, else bare) to the
 * JSON object of the contract: plain values, no Avro union wrappers, null
 * for null branches, fields in schema order. NULL with err (naming the
 * field and the byte offset) when the bytes do not decode, including bytes
 * left over after the datum; never reads outside data[0..len). */
json_t *ew_alert_from_avro(ew_alert_codec *c, const void *data, size_t len, char *err, size_t errcap);

#endif
