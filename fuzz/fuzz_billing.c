/* fuzz_billing.c -- libFuzzer target for billing messages (ew_billing_decode):
 * JSON objects and Avro datums of schemas/billing_event.avsc, bare or in
 * Confluent framing.
 *
 * Every input is decoded twice (results must be byte-identical: the
 * decoder clears the whole record), once more with max_bytes one below
 * its length (must be too long), and a record that decodes is checked
 * against every rule the pipeline relies on. It is then written back as a
 * Confluent-framed Avro datum with its key and project given, which must
 * decode to the same record: the two readers agree on what a record is.
 * No static state: the decoder needs no setup.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edgewatch/billing.h"
#include "fuzz_check.h"

#define MAX_BYTES 65536
#define COST_MAX_MICROS 9000000000000LL

static const char *const currencies[] = {"USD", "EUR", "JPY"};
static const ew_billing_decoder decoder = {
    .project_tag = "user:project", .currencies = currencies, .n_currencies = 3, .max_bytes = MAX_BYTES};

/* A NUL inside the buffer, and valid UTF-8 before it. */
static size_t check_text(const char *s, size_t cap)
{
    const char *nul = memchr(s, '\0', cap);
    FUZZ_CHECK(nul != NULL);
    size_t n = (size_t)(nul - s);
    FUZZ_CHECK(ew_utf8_valid(s, n));
    return n;
}

static void check_period(const char *p)
{
    FUZZ_CHECK(check_text(p, 8) == 7);
    for (int i = 0; i < 7; i++)
        FUZZ_CHECK(i == 4 ? p[i] == '-' : (p[i] >= '0' && p[i] <= '9'));
    FUZZ_CHECK((p[5] == '0' && p[6] >= '1') || (p[5] == '1' && p[6] <= '2'));
}

static bool empty_line_part(const ew_billing_record *r)
{
    return !r->line_key[0] && !r->usage_account[0] && !r->line_item_type[0] && !r->service[0] &&
           !r->usage_type[0] && !r->operation[0] && !r->resource_id[0] && !r->region[0] && !r->currency[0] &&
           !r->project[0] && r->usage_start_ms == 0 && r->usage_end_ms == 0 && r->cost_micros == 0 &&
           isnan(r->usage_amount);
}

static void check_line(const ew_billing_record *r)
{
    FUZZ_CHECK(check_text(r->line_key, sizeof r->line_key) > 0);
    check_text(r->usage_account, sizeof r->usage_account);
    FUZZ_CHECK(check_text(r->line_item_type, sizeof r->line_item_type) > 0);
    FUZZ_CHECK(check_text(r->service, sizeof r->service) > 0);
    check_text(r->usage_type, sizeof r->usage_type);
    check_text(r->operation, sizeof r->operation);
    check_text(r->resource_id, sizeof r->resource_id);
    check_text(r->region, sizeof r->region);
    FUZZ_CHECK(check_text(r->project, sizeof r->project) > 0);
    bool known = false;
    for (size_t i = 0; i < decoder.n_currencies; i++)
        known |= strcmp(r->currency, currencies[i]) == 0;
    FUZZ_CHECK(known);
    FUZZ_CHECK(r->usage_start_ms >= 0 && r->usage_start_ms <= FUZZ_TS_MAX);
    FUZZ_CHECK(r->usage_end_ms >= r->usage_start_ms);
    FUZZ_CHECK(r->usage_end_ms - r->usage_start_ms <= EW_BILL_MAX_SPAN_MS);
    FUZZ_CHECK(r->cost_micros >= -COST_MAX_MICROS && r->cost_micros <= COST_MAX_MICROS);
    FUZZ_CHECK(isnan(r->usage_amount) || isfinite(r->usage_amount));
    FUZZ_CHECK(!(r->usage_amount < 0 && r->cost_micros > 0));
    FUZZ_CHECK(ew_billing_hours(r->usage_start_ms, r->usage_end_ms) >= 1);
}

static void check_record(const ew_billing_record *r)
{
    FUZZ_CHECK(r->kind == EW_BILL_LINE || r->kind == EW_BILL_REFRESH_END);
    check_period(r->billing_period);
    FUZZ_CHECK(check_text(r->report_version, sizeof r->report_version) > 0);
    if (r->kind == EW_BILL_LINE) {
        FUZZ_CHECK(!r->full);
        check_line(r);
    } else {
        FUZZ_CHECK(empty_line_part(r));
    }
}

/* ---- writing a record back as Avro ---- */

typedef struct {
    uint8_t b[4096];
    size_t len;
} out_buf;

static void put_byte(out_buf *o, uint8_t v)
{
    FUZZ_CHECK(o->len < sizeof o->b);
    o->b[o->len++] = v;
}

static void put_long(out_buf *o, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    for (; z >= 0x80; z >>= 7)
        put_byte(o, (uint8_t)(z | 0x80));
    put_byte(o, (uint8_t)z);
}

static void put_string(out_buf *o, const char *s)
{
    size_t n = strlen(s);
    put_long(o, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        put_byte(o, (uint8_t)s[i]);
}

static void put_opt_string(out_buf *o, const char *s)
{
    put_long(o, 1);
    put_string(o, s);
}

static void put_opt_double(out_buf *o, double d)
{
    uint64_t bits;
    put_long(o, isnan(d) ? 0 : 1);
    if (isnan(d))
        return;
    memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; i++)
        put_byte(o, (uint8_t)(bits >> (8 * i)));
}

static void put_line_fields(out_buf *o, const ew_billing_record *r)
{
    const char *strings[] = {r->line_key,   r->usage_account, r->line_item_type, r->service,
                             r->usage_type, r->operation,     r->resource_id,    r->region};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        put_opt_string(o, strings[i]);
    put_long(o, 1);
    put_long(o, r->usage_start_ms);
    put_long(o, 1);
    put_long(o, r->usage_end_ms);
    put_opt_double(o, r->usage_amount);
    put_opt_double(o, (double)r->cost_micros / 1e6);
    put_opt_string(o, r->currency);
    put_opt_string(o, r->project);
    put_long(o, 0); /* no tags: the project is given */
}

static void encode_record(out_buf *o, const ew_billing_record *r)
{
    for (int i = 0; i < 5; i++) /* magic 0, schema id 0 */
        put_byte(o, 0);
    put_long(o, r->kind == EW_BILL_LINE ? 0 : 1);
    put_string(o, r->billing_period);
    put_string(o, r->report_version);
    put_byte(o, r->full ? 1 : 0);
    if (r->kind == EW_BILL_LINE) {
        put_line_fields(o, r);
    } else {
        for (int i = 0; i < 8 + 2 + 2 + 2 + 1; i++) /* every union null */
            put_long(o, 0);
    }
}

static void check_avro_round_trip(const ew_billing_record *r)
{
    out_buf o = {.len = 0};
    ew_billing_record again;
    encode_record(&o, r);
    ew_decode_error e = ew_billing_decode(&decoder, o.b, o.len, &again);
    FUZZ_CHECK(e == EW_DECODE_OK);
    FUZZ_CHECK(memcmp(r, &again, sizeof again) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ew_billing_record r1, r2;
    ew_decode_error e1 = ew_billing_decode(&decoder, data, size, &r1);
    fuzz_check_error(e1);
    ew_decode_error e2 = ew_billing_decode(&decoder, data, size, &r2);
    FUZZ_CHECK(e1 == e2);
    FUZZ_CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    FUZZ_CHECK((size == 0) == (e1 == EW_DECODE_EMPTY));

    if (size > 0) {
        ew_billing_decoder tight = decoder;
        tight.max_bytes = size - 1;
        FUZZ_CHECK(ew_billing_decode(&tight, data, size, &r2) == EW_DECODE_TOO_LONG);
    }
    if (e1 == EW_DECODE_OK) {
        check_record(&r1);
        check_avro_round_trip(&r1);
    }
    return 0;
}
