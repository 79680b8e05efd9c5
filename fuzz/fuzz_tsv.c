/* fuzz_tsv.c -- libFuzzer target for real-time TSV lines (ew_cf_decode_tsv).
 *
 * The first input byte chooses the configuration, the rest is the line:
 *   bit 0   0 = the 43 default fields, 1 = all 69 canonical fields
 *   bit 1   max_line_bytes 16384 (the default) or 256 (reaches "too long")
 * Each line is decoded twice (the results must agree) and checked against
 * the invariants in fuzz_check.h, plus the TSV-specific ones: an OK record
 * has exactly n_columns columns and fits max_line_bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edgewatch/config.h"
#include "fuzz_check.h"

/* Decoders built once in LLVMFuzzerInitialize and only read afterwards:
 * the one piece of static state, acceptable in a fuzz harness (building
 * them per input would mostly fuzz ew_cf_decoder_init's strcmp loop). */
static ew_cf_decoder decoders[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *all[EW_CF_CANONICAL_FIELDS];
    size_t n_all = fuzz_all_fields(all), n_default;
    const char *const *defaults = ew_default_fields(&n_default);
    char err[256] = "";
    for (int k = 0; k < 4; k++) {
        size_t max_line = (k & 2) ? 256 : 16384;
        bool ok = (k & 1) ? ew_cf_decoder_init(&decoders[k], all, n_all, max_line, err, sizeof err)
                          : ew_cf_decoder_init(&decoders[k], defaults, n_default, max_line,
                                               err, sizeof err);
        if (!ok)
            abort();
    }
    if (decoders[0].n_columns != n_default || decoders[1].n_columns != EW_CF_CANONICAL_FIELDS)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const ew_cf_decoder *d = &decoders[data[0] & 3];
    const char *line = (const char *)data + 1;
    size_t len = size - 1;

    ew_cf_record r1, r2;
    ew_decode_error e1 = ew_cf_decode_tsv(d, line, len, &r1);
    fuzz_check_outcome(e1, &r1, (fuzz_span){line, len}, len);
    ew_decode_error e2 = ew_cf_decode_tsv(d, line, len, &r2);
    fuzz_check_same(e1, &r1, e2, &r2);

    if (e1 == EW_DECODE_OK) {
        size_t n = len;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        FUZZ_CHECK(n <= d->max_line_bytes);
        size_t columns = 1;
        for (const char *p = line, *end = line + n; (p = memchr(p, '\t', (size_t)(end - p))) != NULL; p++)
            columns++;
        FUZZ_CHECK(columns == d->n_columns);
        /* Real-time records carry no distribution id. */
        FUZZ_CHECK(r1.distribution_id.len == 0);
    }
    return 0;
}
