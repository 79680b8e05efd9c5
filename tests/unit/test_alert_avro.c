/* test_alert_avro.c -- the alert event codec (processor/alert_avro.c):
 * JSON that does not fit the schema is refused naming the field; Avro
 * bytes that do not decode (truncated, wrong magic, trailing garbage,
 * lengths and indexes out of range) are refused without reading outside
 * the buffer; optional fields and the info severity survive both ways.
 * The round trip of every documented example is in test_alert_examples.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>
#include <jansson.h>

#include "edgewatch/alert.h"
#include "edgewatch/alert_avro.h"

#define WS 1793536800000LL

static int setup(void **state)
{
    char err[256];
    *state = ew_alert_codec_new(err, sizeof err);
    if (!*state)
        fail_msg("codec: %s", err);
    return 0;
}

static int teardown(void **state)
{
    ew_alert_codec_free(*state);
    return 0;
}

/* A traffic event with every optional field null: no metadata, no
 * z-scores, no contributors, no report version. */
static char *bare_event_json(ew_severity sev)
{
    ew_alert a = {
        .alert_id = "ew-00c0ffee00c0ffee",
        .kind = EW_EVENT_FIRING,
        .severity = sev,
        .rule = "request_spike",
        .entity_type = "distribution",
        .entity_id = "shop.example.com",
        .window_start_ms = WS,
        .window_end_ms = WS + 60000,
        .observed = 900,
        .expected = 100,
        .threshold = NAN,
        .z_short = NAN,
        .z_long = NAN,
        .emitted_at_ms = WS + 61000,
    };
    return ew_alert_json(&a);
}

/* JSON text with one field replaced (value is JSON text). */
static char *with_field(const char *key, const char *value)
{
    char *base = bare_event_json(EW_SEV_WARNING);
    json_t *o = json_loads(base, 0, NULL);
    free(base);
    json_object_set_new(o, key, json_loads(value, JSON_DECODE_ANY, NULL));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static long encode(ew_alert_codec *c, const char *json, int32_t id, unsigned char **out)
{
    char err[256] = "";
    long n = ew_alert_to_avro(c, json, id, out, err, sizeof err);
    if (n < 0)
        fail_msg("to Avro: %s", err);
    return n;
}

/* Decodes a copy sized exactly, so ASan catches a read past the end. */
static json_t *decode_copy(ew_alert_codec *c, const unsigned char *bytes, size_t len, char *err, size_t cap)
{
    unsigned char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    memset(err, 'x', cap - 1); /* no stale message may pass for a new one */
    err[cap - 1] = '\0';
    json_t *j = ew_alert_from_avro(c, copy, len, err, cap);
    free(copy);
    return j;
}

static void expect_refused(ew_alert_codec *c, const char *json, const char *needle)
{
    unsigned char *out = (unsigned char *)"untouched";
    char err[256] = "";
    long n = ew_alert_to_avro(c, json, -1, &out, err, sizeof err);
    assert_int_equal(n, -1);
    assert_null(out);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" lacks \"%s\" (input %s)", err, needle, json);
}

/* ---- JSON -> Avro refusals ---- */

static void test_wrong_type_names_the_field(void **state)
{
    static const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"observed", "\"lots\"", "field observed: expected null or a number, got a string"},
        {"window_start", "1.5", "field window_start: expected an integer, got a number"},
        {"replay", "\"no\"", "field replay: expected a boolean, got a string"},
        {"project", "7", "field project: expected null or a string, got an integer"},
        {"related_alerts", "[\"ew-1\", 2]", "field related_alerts[1]: expected a string, got an integer"},
        {"top_contributors", "[{\"dimension\":\"uri\",\"value\":\"/\",\"share\":\"half\"}]",
         "field top_contributors[0].share: expected a number, got a string"},
        {"top_contributors", "[{\"dimension\":\"uri\",\"value\":\"/\",\"share\":0.5,\"impact\":\"$3\"}]",
         "field top_contributors[0].impact: expected null or a number, got a string"},
        {"top_contributors", "[{\"dimension\":\"uri\",\"share\":0.5}]", "field top_contributors[0].value: missing"},
        {"top_contributors", "{}", "field top_contributors: expected an array, got an object"},
        {"severity", "\"page\"", "field severity: \"page\" is not one of warning, critical, info"},
        {"status", "\"open\"", "field status: \"open\" is not one of firing, resolved"},
        {"summary", "null", "field summary: expected a string, got null"},
        {"shard", "3", "field shard: not in schemas/alert_event.avsc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *json = with_field(cases[i].key, cases[i].value);
        expect_refused(*state, json, cases[i].want);
        free(json);
    }
}

static void test_missing_and_malformed_json(void **state)
{
    char *base = bare_event_json(EW_SEV_WARNING);
    json_t *o = json_loads(base, 0, NULL);
    json_object_del(o, "event_id");
    char *text = json_dumps(o, JSON_COMPACT);
    expect_refused(*state, text, "field event_id: missing");
    free(text);
    json_decref(o);
    expect_refused(*state, "[1, 2]", "field (event): expected an object, got an array");
    expect_refused(*state, "{\"alert_id\": ", "alert JSON at column");
    expect_refused(*state, "{\"a\": 1, \"a\": 2}", "alert JSON");
    free(base);
}

/* An event from a producer that predates a nullable field still encodes:
 * the missing field is null. */
static void test_missing_nullable_field_is_null(void **state)
{
    char *base = bare_event_json(EW_SEV_WARNING);
    json_t *o = json_loads(base, 0, NULL);
    json_object_del(o, "report_version");
    json_object_set_new(o, "top_contributors",
                        json_pack("[{s:s, s:s, s:f}]", "dimension", "uri", "value", "/a", "share", 0.5));
    char *text = json_dumps(o, JSON_COMPACT);
    unsigned char *avro;
    long n = encode(*state, text, -1, &avro);
    char err[256];
    json_t *back = decode_copy(*state, avro, (size_t)n, err, sizeof err);
    assert_non_null(back);
    assert_true(json_is_null(json_object_get(back, "report_version")));
    json_t *c = json_array_get(json_object_get(back, "top_contributors"), 0);
    assert_true(json_is_null(json_object_get(c, "impact")));
    assert_true(json_real_value(json_object_get(c, "share")) == 0.5);
    json_decref(back);
    json_decref(o);
    free(avro);
    free(text);
    free(base);
}

/* ---- round trips ---- */

static void test_info_severity_and_nulls_round_trip(void **state)
{
    static const ew_severity sevs[] = {EW_SEV_INFO, EW_SEV_WARNING, EW_SEV_CRITICAL};
    for (size_t i = 0; i < 3; i++) {
        char *text = bare_event_json(sevs[i]);
        json_t *want = json_loads(text, 0, NULL);
        unsigned char *avro;
        long n = encode(*state, text, -1, &avro);
        char err[256];
        json_t *back = decode_copy(*state, avro, (size_t)n, err, sizeof err);
        if (!back)
            fail_msg("%s", err);
        assert_true(json_equal(back, want));
        static const char *const nulls[] = {"project", "owner", "route", "threshold", "z_short",
                                            "z_long", "suppressed_by", "report_version"};
        for (size_t k = 0; k < sizeof nulls / sizeof nulls[0]; k++)
            assert_true(json_is_null(json_object_get(back, nulls[k])));
        json_decref(back);
        json_decref(want);
        free(avro);
        free(text);
    }
    char *info = bare_event_json(EW_SEV_INFO);
    assert_non_null(strstr(info, "\"severity\":\"info\""));
    free(info);
}

/* Framing adds exactly the 5-byte header to the same datum. */
static void test_framing(void **state)
{
    char *text = bare_event_json(EW_SEV_CRITICAL);
    unsigned char *bare, *framed;
    long nb = encode(*state, text, -1, &bare), nf = encode(*state, text, 0x01020304, &framed);
    assert_int_equal(nf, nb + 5);
    static const unsigned char head[5] = {0, 1, 2, 3, 4};
    assert_memory_equal(framed, head, 5);
    assert_memory_equal(framed + 5, bare, (size_t)nb);
    /* The bare datum starts with alert_id: zig-zag length 19 -> 38. */
    assert_int_equal(bare[0], 38);
    assert_memory_equal(bare + 1, "ew-00c0ffee00c0ffee", 19);
    free(bare);
    free(framed);
    free(text);
}

/* ---- Avro refusals ---- */

static void test_truncated_avro(void **state)
{
    char *text = bare_event_json(EW_SEV_WARNING);
    unsigned char *avro;
    long n = encode(*state, text, 42, &avro);
    char err[256];
    for (long len = 0; len < n; len++) {
        json_t *j = decode_copy(*state, avro, (size_t)len, err, sizeof err);
        if (j)
            fail_msg("a %ld-byte prefix of %ld bytes decoded", len, n);
        assert_true(strlen(err) > 0 && err[0] != 'x');
    }
    json_t *j = decode_copy(*state, avro, 30, err, sizeof err);
    assert_null(j);
    assert_non_null(strstr(err, "Confluent-framed Avro (schema id 42): field "));
    /* 25 bytes of datum: alert_id takes 1 + 19, event_id declares 35 more. */
    assert_non_null(strstr(err, "field event_id: length past the end of the datum at byte 21"));
    free(avro);
    free(text);
}

static void test_empty_message(void **state)
{
    char err[256] = "";
    assert_null(ew_alert_from_avro(*state, NULL, 0, err, sizeof err));
    assert_string_equal(err, "empty message: no Avro datum");
}

static void test_wrong_magic(void **state)
{
    char *text = bare_event_json(EW_SEV_WARNING);
    unsigned char *avro;
    long n = encode(*state, text, 42, &avro);
    avro[0] = 1;
    char err[256];
    assert_null(decode_copy(*state, avro, (size_t)n, err, sizeof err));
    assert_non_null(strstr(err, "bare Avro (first byte 0x01, not Confluent magic 0): field alert_id: negative length"));
    free(avro);
    free(text);
}

static void test_trailing_garbage(void **state)
{
    char *text = bare_event_json(EW_SEV_WARNING);
    unsigned char *avro;
    long n = encode(*state, text, -1, &avro);
    unsigned char *longer = malloc((size_t)n + 3);
    memcpy(longer, avro, (size_t)n);
    memcpy(longer + n, "\x02\x04\x06", 3);
    char err[256];
    assert_null(decode_copy(*state, longer, (size_t)n + 3, err, sizeof err));
    assert_non_null(strstr(err, "3 bytes of trailing garbage after the datum's end"));
    free(longer);
    free(avro);
    free(text);
}

/* Hand-made datums that would make avro-c 1.11.1 allocate or index
 * out of range if they reached it. */
static void test_hostile_lengths_and_indexes(void **state)
{
    static const struct {
        const char *name;
        unsigned char bytes[16];
        size_t len;
        const char *want;
    } cases[] = {
        {"2^53-byte alert_id", {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 'a'}, 9,
         "field alert_id: length past the end of the datum at byte 8"},
        {"overlong varint", {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11,
         "field alert_id: truncated or overlong varint"},
        {"status index 5", {2, 'a', 2, 'e', 10}, 5, "field status: index out of range at byte 5"},
        {"severity index -1", {2, 'a', 2, 'e', 0, 1}, 6, "field severity: index out of range"},
        {"project branch 2", {2, 'a', 2, 'e', 0, 0, 2, 'r', 2, 'd', 2, 'x', 4}, 13,
         "field project: index out of range"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256];
        json_t *j = decode_copy(*state, cases[i].bytes, cases[i].len, err, sizeof err);
        if (j || !strstr(err, cases[i].want))
            fail_msg("%s: \"%s\" lacks \"%s\"", cases[i].name, j ? "(decoded)" : err, cases[i].want);
    }
}

/* A datum whose string is not UTF-8 is no alert event: JSON cannot carry it. */
static void test_invalid_utf8_names_the_field(void **state)
{
    char *text = bare_event_json(EW_SEV_WARNING);
    unsigned char *avro;
    long n = encode(*state, text, -1, &avro);
    /* alert_id's bytes start at offset 1: make the first one invalid. */
    avro[1] = 0xff;
    char err[256];
    assert_null(decode_copy(*state, avro, (size_t)n, err, sizeof err));
    assert_non_null(strstr(err, "field alert_id: string is not NUL-free UTF-8"));
    free(avro);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wrong_type_names_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_malformed_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_nullable_field_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_severity_and_nulls_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_avro, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_magic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_lengths_and_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_names_the_field, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
