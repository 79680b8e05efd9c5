/* fuzz_avro.c -- libFuzzer target for Avro datums and writer schemas
 * (ew_cf_decode_avro, ew_avro_schema_compile).
 *
 * First byte 0xFF: the rest is a schema text (up to an optional NUL). When
 * it compiles, two datums are decoded with it: a fixed small one, and the
 * bytes after the NUL if there is one. This fuzzes the schema compiler and
 * the decoder's handling of unusual schemas.
 * Anything else: the whole input is one bare datum of the builtin schema
 * (schemas/cloudfront_realtime_log.avsc), decoded twice (the results must
 * agree) and checked against fuzz_check.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"

/* The builtin schema, compiled once in LLVMFuzzerInitialize and only read
 * afterwards: the one piece of static state, acceptable in a fuzz harness. */
static ew_avro_schema *builtin;

/* Varints, string lengths, a union branch, a float and plain text, so a
 * fuzzed schema of almost any shape finds something to read. */
static const uint8_t fixed_datum[] = {
    0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62,           /* long 1700000000000 (ms) */
    0x02, 0x0c, 'd', '1', '.', 'n', 'e', 't',     /* union branch 1, string "d1.net" */
    0x90, 0x03,                                   /* int 200 */
    0x00,                                         /* union branch 0 (null) / false */
    0x08, '/', 'a', '%', '2',                    /* string "/a%2" (a cut escape) */
    0x00, 0x00, 0x80, 0x3f,                       /* float 1.0 */
    0x06, 'H', 'i', 't',                          /* string "Hit" */
    0x01, 0xff, 0x7f, 0x00, 0x02, 0x04, 0x06,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256] = "";
    builtin = ew_avro_schema_compile(ew_schema_cloudfront_realtime_log, strlen(ew_schema_cloudfront_realtime_log),
                                     err, sizeof err);
    if (!builtin)
        abort();
    return 0;
}

/* strict: every string must lie in the datum or the scratch buffer. Not so
 * with a fuzzed schema, where an enum's symbol points into the compiled
 * schema: those strings are only read (ASan checks them). */
static void decode_checked(const ew_avro_schema *s, const uint8_t *datum, size_t len, bool strict)
{
    ew_cf_record r1, r2;
    ew_decode_error e1 = ew_cf_decode_avro(s, datum, len, &r1);
    fuzz_check_outcome(e1, &r1, strict ? (fuzz_span){datum, len} : (fuzz_span){NULL, 0}, len);
    ew_decode_error e2 = ew_cf_decode_avro(s, datum, len, &r2);
    fuzz_check_same(e1, &r1, e2, &r2);
}

static void fuzz_schema(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t text_len = nul ? (size_t)(nul - data) : size;
    char err[256];
    memset(err, 'x', sizeof err); /* no NUL: a failure must write a message */
    ew_avro_schema *s = ew_avro_schema_compile((const char *)data, text_len, err, sizeof err);
    if (!s) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        return;
    }
    /* Copy the fixed datum so ASan catches a read past its end. */
    uint8_t *datum = malloc(sizeof fixed_datum);
    if (!datum)
        abort();
    memcpy(datum, fixed_datum, sizeof fixed_datum);
    for (size_t n = 0; n <= sizeof fixed_datum; n += 7)
        decode_checked(s, datum, n, false);
    decode_checked(s, datum, sizeof fixed_datum, false);
    free(datum);
    if (nul)
        decode_checked(s, nul + 1, size - text_len - 1, false);
    ew_avro_schema_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 0xFF) {
        fuzz_schema(data + 1, size - 1);
        return 0;
    }
    decode_checked(builtin, data, size, true);
    return 0;
}
