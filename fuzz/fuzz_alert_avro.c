/* fuzz_alert_avro.c -- libFuzzer target for the alert event codec
 * (ew_alert_from_avro, ew_alert_to_avro).
 *
 * The input is one message of the alert topic: Confluent-framed or bare
 * Avro of schemas/alert_event.avsc. A refusal must come with a message. An
 * event that decodes must encode again (whatever the decoder returns fits
 * the schema) and decode to the same JSON: the two directions agree. The
 * re-encoding is framed, since a bare datum with an empty alert_id starts
 * with the framing's magic byte 0.
 * Seeds (tests/fuzz-corpus/alert_avro): fixtures of tests/fixtures/alerts
 * encoded bare and with schema id 42, a truncated one, one with trailing
 * bytes, and one with a 2^53-byte string length.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgewatch/alert_avro.h"
#include "fuzz_check.h"

/* The codec, built once in LLVMFuzzerInitialize and only used afterwards:
 * the one piece of static state, acceptable in a fuzz harness. */
static ew_alert_codec *codec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    codec = ew_alert_codec_new(err, sizeof err);
    if (!codec)
        abort();
    return 0;
}

static void check_message(const char *err, size_t cap)
{
    FUZZ_CHECK(memchr(err, '\0', cap) != NULL);
    FUZZ_CHECK(err[0] != '\0' && err[0] != 'x');
}

static void check_re_encoding(const json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    unsigned char *avro = NULL;
    char err[256];
    long n = ew_alert_to_avro(codec, text, 0, &avro, err, sizeof err);
    FUZZ_CHECK(n > 5 && avro != NULL);
    json_t *again = ew_alert_from_avro(codec, avro, (size_t)n, err, sizeof err);
    FUZZ_CHECK(again != NULL && json_equal(again, event));
    json_decref(again);
    free(avro);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    memset(err, 'x', sizeof err); /* no NUL: a refusal must write a message */
    json_t *event = ew_alert_from_avro(codec, data, size, err, sizeof err);
    if (!event) {
        check_message(err, sizeof err);
        return 0;
    }
    FUZZ_CHECK(json_is_object(event) && json_is_string(json_object_get(event, "event_id")));
    check_re_encoding(event);
    json_decref(event);
    return 0;
}
