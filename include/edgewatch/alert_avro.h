/* alert_avro.h -- the alert event in Avro (schemas/alert_event.avsc).
 *
 * The JSON text of ew_alert_json is the contract; the Avro form carries the
 * same fields under the same names. Converting JSON <-> Avro through the
 * schema (avro-c generic values) keeps one source of truth: a field added to
 * the JSON and the .avsc is carried by both directions without new code.
 */
#ifndef EDGEWATCH_ALERT_AVRO_H
#define EDGEWATCH_ALERT_AVRO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ew_alert_codec ew_alert_codec;

/* Compiles the built-in schemas/alert_event.avsc. NULL with err on failure. */
ew_alert_codec *ew_alert_codec_new(char *err, size_t errcap);
void ew_alert_codec_free(ew_alert_codec *c);

/* An alert event (JSON object text of the contract) to Avro binary:
 * Confluent-framed (magic 0, 4-byte big-endian schema_id) when schema_id >= 0,
 * bare when schema_id < 0. Returns the length and a malloc'd buffer in *out,
 * or -1 with err naming the field that does not fit the schema. */
long ew_alert_to_avro(ew_alert_codec *c, const char *json, int32_t schema_id, unsigned char **out, char *err,
                      size_t errcap);

/* Avro (framed when the first byte is 0 and len >= 5, else bare) to the
 * JSON object of the contract: plain values, no Avro union wrappers, null
 * for null branches. NULL with err when the bytes do not decode. */
json_t *ew_alert_from_avro(ew_alert_codec *c, const void *data, size_t len, char *err, size_t errcap);

#endif
