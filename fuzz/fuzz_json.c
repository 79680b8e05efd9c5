/* fuzz_json.c -- libFuzzer target for flat JSON objects (ew_cf_decode_json).
 *
 * Every input is decoded in both dialects (real-time names and standard
 * logging v2 names), each twice (the results must agree), and once more
 * with max_bytes one below its length, which must not succeed. No static
 * state: the JSON decoder needs no setup.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"

#define MAX_BYTES 65536

static void one_dialect(ew_json_dialect dialect, const char *buf, size_t len)
{
    ew_cf_record r1, r2;
    ew_decode_error e1 = ew_cf_decode_json(dialect, buf, len, MAX_BYTES, &r1);
    fuzz_check_outcome(e1, &r1, (fuzz_span){buf, len}, len);
    ew_decode_error e2 = ew_cf_decode_json(dialect, buf, len, MAX_BYTES, &r2);
    fuzz_check_same(e1, &r1, e2, &r2);

    /* max_bytes bounds the whole message. */
    if (len > 0) {
        ew_decode_error e3 = ew_cf_decode_json(dialect, buf, len, len - 1, &r2);
        fuzz_check_error(e3);
        FUZZ_CHECK(e3 != EW_DECODE_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    one_dialect(EW_JSON_REALTIME, buf, size);
    one_dialect(EW_JSON_STANDARD, buf, size);
    return 0;
}
