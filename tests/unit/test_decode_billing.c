/* test_decode_billing.c -- unit tests for billing messages
 * (processor/decode_billing.c): JSON objects with our names or CUR 2.0
 * column names, Avro datums of schemas/billing_event.avsc (bare or in
 * Confluent framing), every rejection reason and the derived line key.
 *
 * Most cases start from one known-good line and change one field, so a
 * failure points at that field. Avro datums are written by a small encoder
 * below, independent of the decoder, and must decode to the very record
 * the JSON form of the same event gives. Truncated inputs are decoded from
 * heap copies of their exact size so ASan sees any read past the end.
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

#include "edgewatch/billing.h"

#define MAX_BYTES 16384
#define T_START 1791205200000LL /* 2026-10-05T13:00:00Z */
#define T_END 1791208800000LL   /* 2026-10-05T14:00:00Z */

static const char *const currencies[] = {"USD", "EUR"};
static const ew_billing_decoder decoder = {
    .project_tag = "user:project", .currencies = currencies, .n_currencies = 2, .max_bytes = MAX_BYTES};

/* ---- JSON helpers ---- */

typedef struct {
    const char *key, *json; /* json: the value as JSON text; NULL drops the key */
} kv;

static const kv base_line[] = {
    {"billing_period", "\"2026-10\""},
    {"usage_account_id", "\"123456789012\""},
    {"line_item_type", "\"Usage\""},
    {"service", "\"AmazonMSK\""},
    {"usage_type", "\"USE1-Kafka.m5.2xlarge\""},
    {"operation", "\"RunBroker\""},
    {"resource_id", "\"arn:aws:kafka:us-east-1:123456789012:cluster/payments/abc\""},
    {"region", "\"us-east-1\""},
    {"usage_start", "\"2026-10-05T13:00:00Z\""},
    {"usage_end", "\"2026-10-05T14:00:00Z\""},
    {"usage_amount", "3.0"},
    {"unblended_cost", "\"12.3400000000\""},
    {"currency", "\"USD\""},
    {"tags", "{\"user:project\":\"payments\"}"},
    {"report_version", "\"2026-10-05T16\""},
};
#define N_BASE (sizeof base_line / sizeof base_line[0])

static ew_decode_error decode(const char *msg, ew_billing_record *r)
{
    return ew_billing_decode(&decoder, msg, strlen(msg), r);
}

/* Decodes exactly len bytes from a heap copy of that size. */
static ew_decode_error decode_exact(const void *msg, size_t len, ew_billing_record *r)
{
    void *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, msg, len);
    ew_decode_error e = ew_billing_decode(&decoder, copy, len, r);
    free(copy);
    return e;
}

static void append(char *out, size_t cap, size_t *len, const char *key, const char *json)
{
    int w = snprintf(out + *len, cap - *len, "%s\"%s\":%s", *len > 1 ? "," : "", key, json);
    assert_true(w > 0 && (size_t)w < cap - *len);
    *len += (size_t)w;
}

/* The base line with changes: a changed key keeps its place, a new one
 * goes last, a NULL value drops the key. */
static void build_line(const kv *changes, size_t n, char *out, size_t cap)
{
    size_t len = 1;
    bool used[8] = {false};
    assert_true(n <= 8);
    strcpy(out, "{");
    for (size_t i = 0; i < N_BASE; i++) {
        const char *json = base_line[i].json;
        for (size_t k = 0; k < n; k++)
            if (strcmp(changes[k].key, base_line[i].key) == 0)
                json = changes[k].json, used[k] = true;
        if (json)
            append(out, cap, &len, base_line[i].key, json);
    }
    for (size_t k = 0; k < n; k++)
        if (!used[k] && changes[k].json)
            append(out, cap, &len, changes[k].key, changes[k].json);
    assert_true(len + 2 <= cap);
    strcpy(out + len, "}");
}

static ew_decode_error line_with(ew_billing_record *r, const kv *changes, size_t n)
{
    char msg[4096];
    build_line(changes, n, msg, sizeof msg);
    return decode(msg, r);
}

#define CHANGES(...) ((const kv[]){__VA_ARGS__}), (sizeof((const kv[]){__VA_ARGS__}) / sizeof(kv))
#define LINE_WITH(r, ...) line_with(r, CHANGES(__VA_ARGS__))

static int64_t cost_of(const char *json)
{
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"unblended_cost", json}), EW_DECODE_OK);
    return r.cost_micros;
}

static ew_decode_error cost_error(const char *json)
{
    ew_billing_record r;
    return LINE_WITH(&r, {"unblended_cost", json});
}

static void assert_same_record(const ew_billing_record *a, const ew_billing_record *b)
{
    /* The decoder clears the whole record first, so bytes compare. */
    assert_string_equal(a->line_key, b->line_key);
    assert_string_equal(a->project, b->project);
    assert_int_equal(a->cost_micros, b->cost_micros);
    assert_memory_equal(a, b, sizeof *a);
}

/* ---- an Avro encoder for schemas/billing_event.avsc ---- */

typedef struct {
    uint8_t b[8192];
    size_t len;
} avro_buf;

static void put_byte(avro_buf *o, uint8_t v)
{
    assert_true(o->len < sizeof o->b);
    o->b[o->len++] = v;
}

static void put_long(avro_buf *o, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        put_byte(o, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    put_byte(o, (uint8_t)z);
}

static void put_string(avro_buf *o, const char *s)
{
    size_t n = strlen(s);
    put_long(o, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        put_byte(o, (uint8_t)s[i]);
}

static void put_opt_string(avro_buf *o, const char *s)
{
    put_long(o, s ? 1 : 0);
    if (s)
        put_string(o, s);
}

static void put_double(avro_buf *o, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; i++)
        put_byte(o, (uint8_t)(bits >> (8 * i)));
}

typedef enum { MAP_ONE_BLOCK, MAP_SIZED_BLOCKS, MAP_BAD_SIZE } map_style;

typedef struct {
    int kind; /* 0 line, 1 refresh_end */
    const char *period, *version;
    bool full;
    const char *line_key, *account, *type, *service, *usage_type, *operation, *resource, *region;
    bool has_start, has_end, has_amount, has_cost;
    int64_t start, end;
    double amount, cost;
    const char *currency, *project;
    const char *const *tags; /* key, value, key, value, ... */
    size_t n_tags;           /* pairs */
    map_style style;
} avro_event;

static void put_tags(avro_buf *o, const avro_event *ev)
{
    put_long(o, ev->tags ? 1 : 0);
    if (!ev->tags)
        return;
    if (ev->style == MAP_ONE_BLOCK) {
        put_long(o, (int64_t)ev->n_tags);
        for (size_t i = 0; i < ev->n_tags; i++) {
            put_string(o, ev->tags[2 * i]);
            put_string(o, ev->tags[2 * i + 1]);
        }
    } else {
        /* one entry per block, each with a negative count and its size */
        for (size_t i = 0; i < ev->n_tags; i++) {
            avro_buf entry = {.len = 0};
            put_string(&entry, ev->tags[2 * i]);
            put_string(&entry, ev->tags[2 * i + 1]);
            put_long(o, -1);
            put_long(o, (int64_t)entry.len + (ev->style == MAP_BAD_SIZE ? 1 : 0));
            for (size_t k = 0; k < entry.len; k++)
                put_byte(o, entry.b[k]);
        }
    }
    put_long(o, 0);
}

static void encode_event(avro_buf *o, const avro_event *ev)
{
    put_long(o, ev->kind);
    put_string(o, ev->period);
    put_string(o, ev->version);
    put_byte(o, ev->full ? 1 : 0);
    const char *strings[] = {ev->line_key,   ev->account,   ev->type,     ev->service,
                             ev->usage_type, ev->operation, ev->resource, ev->region};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        put_opt_string(o, strings[i]);
    put_long(o, ev->has_start);
    if (ev->has_start)
        put_long(o, ev->start);
    put_long(o, ev->has_end);
    if (ev->has_end)
        put_long(o, ev->end);
    put_long(o, ev->has_amount);
    if (ev->has_amount)
        put_double(o, ev->amount);
    put_long(o, ev->has_cost);
    if (ev->has_cost)
        put_double(o, ev->cost);
    put_opt_string(o, ev->currency);
    put_opt_string(o, ev->project);
    put_tags(o, ev);
}

static void frame_confluent(avro_buf *o, int32_t schema_id, const avro_buf *datum)
{
    o->len = 0;
    put_byte(o, 0);
    for (int shift = 24; shift >= 0; shift -= 8)
        put_byte(o, (uint8_t)((uint32_t)schema_id >> shift));
    for (size_t i = 0; i < datum->len; i++)
        put_byte(o, datum->b[i]);
}

static const char *const payments_tags[] = {"user:team", "core", "user:project", "payments"};

/* The base line as an Avro event. */
static avro_event base_event(void)
{
    return (avro_event){
        .kind = 0, .period = "2026-10", .version = "2026-10-05T16", .account = "123456789012",
        .type = "Usage", .service = "AmazonMSK", .usage_type = "USE1-Kafka.m5.2xlarge",
        .operation = "RunBroker", .resource = "arn:aws:kafka:us-east-1:123456789012:cluster/payments/abc",
        .region = "us-east-1", .has_start = true, .start = T_START, .has_end = true, .end = T_END,
        .has_amount = true, .amount = 3.0, .has_cost = true, .cost = 12.34, .currency = "USD",
        .tags = payments_tags, .n_tags = 2};
}

static ew_decode_error decode_event(const avro_event *ev, bool confluent, ew_billing_record *r)
{
    avro_buf datum = {.len = 0}, framed = {.len = 0};
    encode_event(&datum, ev);
    if (!confluent)
        return decode_exact(datum.b, datum.len, r);
    frame_confluent(&framed, 42, &datum);
    return decode_exact(framed.b, framed.len, r);
}

/* ================= tests ================= */

static void test_full_line(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"kind", "\"line\""}), EW_DECODE_OK);
    assert_int_equal(r.kind, EW_BILL_LINE);
    assert_string_equal(r.billing_period, "2026-10");
    assert_string_equal(r.report_version, "2026-10-05T16");
    assert_false(r.full);
    assert_string_equal(r.usage_account, "123456789012");
    assert_string_equal(r.line_item_type, "Usage");
    assert_string_equal(r.service, "AmazonMSK");
    assert_string_equal(r.usage_type, "USE1-Kafka.m5.2xlarge");
    assert_string_equal(r.operation, "RunBroker");
    assert_string_equal(r.resource_id, "arn:aws:kafka:us-east-1:123456789012:cluster/payments/abc");
    assert_string_equal(r.region, "us-east-1");
    assert_string_equal(r.currency, "USD");
    assert_string_equal(r.project, "payments");
    assert_int_equal(r.usage_start_ms, T_START);
    assert_int_equal(r.usage_end_ms, T_END);
    assert_int_equal(r.cost_micros, 12340000);
    assert_true(r.usage_amount == 3.0);
    /* FNV-1a of the identity fields, computed independently: pins the key
     * so it stays the same on every platform and in every release. */
    assert_string_equal(r.line_key, "867997e607cfc583");
}

static void test_optional_fields_absent(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"usage_account_id", NULL}, {"usage_type", NULL}, {"operation", NULL},
                               {"resource_id", NULL}, {"region", "null"}, {"usage_amount", NULL}, {"tags", NULL}),
                     EW_DECODE_OK);
    assert_string_equal(r.usage_account, "");
    assert_string_equal(r.usage_type, "");
    assert_string_equal(r.operation, "");
    assert_string_equal(r.resource_id, "");
    assert_string_equal(r.region, "");
    assert_true(isnan(r.usage_amount));
    assert_string_equal(r.project, EW_BILL_UNTAGGED);
    assert_int_equal(strlen(r.line_key), 16);
}

static void test_cur2_aliases(void **state)
{
    (void)state;
    static const char cur[] =
        "{\"bill_billing_period_start_date\":\"2026-10-01T00:00:00Z\","
        "\"line_item_usage_account_id\":\"123456789012\",\"line_item_line_item_type\":\"Usage\","
        "\"line_item_product_code\":\"AmazonMSK\",\"line_item_usage_type\":\"USE1-Kafka.m5.2xlarge\","
        "\"line_item_operation\":\"RunBroker\","
        "\"line_item_resource_id\":\"arn:aws:kafka:us-east-1:123456789012:cluster/payments/abc\","
        "\"product_region_code\":\"us-east-1\",\"line_item_usage_start_date\":\"2026-10-05T13:00:00.000Z\","
        "\"line_item_usage_end_date\":\"2026-10-05T14:00:00Z\",\"line_item_usage_amount\":\"3.0\","
        "\"line_item_unblended_cost\":\"12.3400000000\",\"line_item_currency_code\":\"USD\","
        "\"resource_tags\":{\"user_project\":\"payments\"},\"refresh_id\":\"2026-10-05T16\","
        "\"identity_line_item_id\":\"changes-every-refresh\",\"product\":{\"sku\":\"X\"}}";
    ew_billing_record ours, theirs;
    assert_int_equal(LINE_WITH(&ours, {"kind", "\"line\""}), EW_DECODE_OK);
    assert_int_equal(decode(cur, &theirs), EW_DECODE_OK);
    assert_same_record(&ours, &theirs);

    /* product_region when product_region_code is absent */
    assert_int_equal(decode("{\"billing_period\":\"2026-10\",\"report_version\":\"v\",\"line_item_type\":\"Tax\","
                            "\"service\":\"S\",\"usage_start\":1,\"usage_end\":2,\"unblended_cost\":1,"
                            "\"currency\":\"USD\",\"product_region\":\"eu-west-1\"}",
                            &theirs),
                     EW_DECODE_OK);
    assert_string_equal(theirs.region, "eu-west-1");
}

static void test_our_names_win(void **state)
{
    (void)state;
    ew_billing_record r;
    /* the alias before and after our key, and an alias for a null value */
    assert_int_equal(decode("{\"line_item_product_code\":\"Theirs\",\"service\":\"Ours\",\"billing_period\":\"2026-10\","
                            "\"report_version\":\"v\",\"refresh_id\":\"theirs\",\"line_item_type\":\"Usage\","
                            "\"usage_start\":1,\"usage_end\":2,\"unblended_cost\":null,"
                            "\"line_item_unblended_cost\":\"2\",\"currency\":\"USD\",\"region\":\"ours\","
                            "\"product_region\":\"b\",\"product_region_code\":\"a\"}",
                            &r),
                     EW_DECODE_OK);
    assert_string_equal(r.service, "Ours");
    assert_string_equal(r.report_version, "v");
    assert_string_equal(r.region, "ours");
    assert_int_equal(r.cost_micros, 2000000);
    assert_int_equal(decode("{\"billing_period\":\"2026-10\",\"report_version\":\"v\",\"line_item_type\":\"Usage\","
                            "\"service\":\"S\",\"usage_start\":1,\"usage_end\":2,\"unblended_cost\":1,"
                            "\"currency\":\"USD\",\"product_region\":\"b\",\"product_region_code\":\"a\"}",
                            &r),
                     EW_DECODE_OK);
    assert_string_equal(r.region, "a");
}

static void test_refresh_end(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"billing_period\":\"2026-10\","
                            "\"report_version\":\"2026-10-05T16\",\"full\":false}",
                            &r),
                     EW_DECODE_OK);
    assert_int_equal(r.kind, EW_BILL_REFRESH_END);
    assert_string_equal(r.billing_period, "2026-10");
    assert_string_equal(r.report_version, "2026-10-05T16");
    assert_false(r.full);
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"billing_period\":\"2026-10\",\"report_version\":\"v\","
                            "\"full\":true}",
                            &r),
                     EW_DECODE_OK);
    assert_true(r.full);
    /* full defaults to false; line fields are not needed */
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"bill_billing_period_start_date\":\"2026-10-01\","
                            "\"refresh_id\":\"r\"}",
                            &r),
                     EW_DECODE_OK);
    assert_false(r.full);
    assert_string_equal(r.billing_period, "2026-10");
    assert_string_equal(r.line_key, "");
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"report_version\":\"v\"}", &r), EW_DECODE_MISSING_FIELD);
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"billing_period\":\"2026-10\"}", &r),
                     EW_DECODE_MISSING_FIELD);
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"billing_period\":\"2026-10\",\"report_version\":\"\"}", &r),
                     EW_DECODE_MISSING_FIELD);
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"billing_period\":\"2026-10\",\"report_version\":\"v\","
                            "\"full\":\"yes\"}",
                            &r),
                     EW_DECODE_JSON);
    assert_int_equal(decode("{\"kind\":\"refresh\",\"billing_period\":\"2026-10\",\"report_version\":\"v\"}", &r),
                     EW_DECODE_JSON);
    assert_int_equal(decode("{\"kind\":1,\"billing_period\":\"2026-10\",\"report_version\":\"v\"}", &r),
                     EW_DECODE_JSON);
}

static void test_project_sources(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"project", "\"top\""}), EW_DECODE_OK);
    assert_string_equal(r.project, "top");
    /* an empty top-level project falls back to the tag */
    assert_int_equal(LINE_WITH(&r, {"project", "\"\""}), EW_DECODE_OK);
    assert_string_equal(r.project, "payments");
    assert_int_equal(LINE_WITH(&r, {"tags", NULL}, {"resource_tags", "{\"user:project\":\"rt\"}"}), EW_DECODE_OK);
    assert_string_equal(r.project, "rt");
    /* tags wins over resource_tags; an exact key over the normalized one */
    assert_int_equal(LINE_WITH(&r, {"resource_tags", "{\"user:project\":\"rt\"}"}), EW_DECODE_OK);
    assert_string_equal(r.project, "payments");
    assert_int_equal(LINE_WITH(&r, {"tags", NULL}, {"resource_tags", "{\"user_project\":\"n\",\"user:project\":\"x\"}"}),
                     EW_DECODE_OK);
    assert_string_equal(r.project, "x");
    assert_int_equal(LINE_WITH(&r, {"tags", NULL}, {"resource_tags", "{\"a\":[1,{}],\"user_project\":\"norm\"}"}),
                     EW_DECODE_OK);
    assert_string_equal(r.project, "norm");
    /* the normalized key is only a CUR 2.0 (resource_tags) spelling */
    assert_int_equal(LINE_WITH(&r, {"tags", "{\"user_project\":\"n\"}"}), EW_DECODE_OK);
    assert_string_equal(r.project, EW_BILL_UNTAGGED);
    assert_int_equal(LINE_WITH(&r, {"tags", "{\"user:project\":\"\",\"other\":\"v\"}"}), EW_DECODE_OK);
    assert_string_equal(r.project, EW_BILL_UNTAGGED);
    assert_int_equal(LINE_WITH(&r, {"tags", "{}"}), EW_DECODE_OK);
    assert_string_equal(r.project, EW_BILL_UNTAGGED);
    assert_int_equal(LINE_WITH(&r, {"tags", "[\"user:project\"]"}), EW_DECODE_JSON);
    /* a tag key written with escapes is the same key */
    assert_int_equal(LINE_WITH(&r, {"tags", "{\"user\\u003aproject\":\"esc\"}"}), EW_DECODE_OK);
    assert_string_equal(r.project, "esc");

    /* normalization lowercases the configured key too */
    const ew_billing_decoder upper = {.project_tag = "user:Project", .currencies = currencies, .n_currencies = 2,
                                      .max_bytes = MAX_BYTES};
    static const char msg[] = "{\"billing_period\":\"2026-10\",\"report_version\":\"v\",\"line_item_type\":\"Usage\","
                              "\"service\":\"S\",\"usage_start\":1,\"usage_end\":2,\"unblended_cost\":1,"
                              "\"currency\":\"USD\",\"resource_tags\":{\"user_project\":\"p\"}}";
    assert_int_equal(ew_billing_decode(&upper, msg, strlen(msg), &r), EW_DECODE_OK);
    assert_string_equal(r.project, "p");
}

static void test_cost_exact_text(void **state)
{
    (void)state;
    assert_int_equal(cost_of("\"12.3400000000\""), 12340000);
    assert_int_equal(cost_of("\"0.1\""), 100000);
    assert_int_equal(cost_of("\"8999999.999999\""), 8999999999999LL);
    assert_int_equal(cost_of("\"9000000\""), 9000000000000LL);
    assert_int_equal(cost_of("\"-9000000\""), -9000000000000LL);
    /* As a double this is 1.0000005, which would round up to 1000001:
     * text must never go through one. */
    assert_int_equal(cost_of("\"1.0000004999999999999999\""), 1000000);
    assert_int_equal(cost_of("\"0.0000002900000000000000000000001\""), 0);
    assert_int_equal(cost_of("\"+2\""), 2000000);
    assert_int_equal(cost_of("\"0\""), 0);
    assert_int_equal(cost_of("\"-0.0\""), 0);
}

static void test_cost_rounding(void **state)
{
    (void)state;
    /* half away from zero, in both directions */
    assert_int_equal(cost_of("\"-0.0000005\""), -1);
    assert_int_equal(cost_of("\"0.0000005\""), 1);
    assert_int_equal(cost_of("\"0.00000049999\""), 0);
    assert_int_equal(cost_of("\"-0.00000049999\""), 0);
    assert_int_equal(cost_of("\"1.2345675\""), 1234568);
    assert_int_equal(cost_of("\"-1.2345665\""), -1234567);
    assert_int_equal(cost_of("\"0.0000015\""), 2);
}

static void test_cost_exponent_and_numbers(void **state)
{
    (void)state;
    assert_int_equal(cost_of("\"1.234E+2\""), 123400000);
    assert_int_equal(cost_of("\"1.234e2\""), 123400000);
    assert_int_equal(cost_of("\"5E-7\""), 1);
    assert_int_equal(cost_of("\"-2.5e-6\""), -3);
    assert_int_equal(cost_of("\"1e-999999999\""), 0);
    assert_int_equal(cost_of("\"0e999999999\""), 0);
    assert_int_equal(cost_of("12"), 12000000);
    assert_int_equal(cost_of("-3"), -3000000);
    assert_int_equal(cost_of("0"), 0);
    assert_int_equal(cost_of("12.34"), 12340000);
    assert_int_equal(cost_of("1.5e1"), 15000000);
    assert_int_equal(cost_of("-0.0000005"), -1);
}

static void test_cost_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\"NaN\"", "\"nan\"", "\"Infinity\"", "\"-inf\"", "\"abc\"", "\"1.2.3\"", "\" 1\"", "\"1 \"",
        "\"0x10\"", "\"--1\"", "\"+-1\"", "\"1e\"", "\".5\"", "\"5.\"", "\"01\"", "\"1,5\"", "\"1e400\"",
        "\"9000000.0000006\"", "\"9000000.000001\"", "\"-9000001\"", "1e400", "123456789012345678901234567890",
        "true", "[1]", "{\"v\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("cost %s\n", bad[i]);
        assert_int_equal(cost_error(bad[i]), EW_DECODE_AMOUNT);
    }
    assert_int_equal(cost_error("null"), EW_DECODE_MISSING_FIELD);
    assert_int_equal(cost_error("\"\""), EW_DECODE_MISSING_FIELD);
    assert_int_equal(cost_error(NULL), EW_DECODE_MISSING_FIELD);
}

static void test_usage_amount(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "\"2.5\""}), EW_DECODE_OK);
    assert_true(r.usage_amount == 2.5);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "1e3"}), EW_DECODE_OK);
    assert_true(r.usage_amount == 1000.0);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "\"\""}), EW_DECODE_OK);
    assert_true(isnan(r.usage_amount));
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "\"abc\""}), EW_DECODE_AMOUNT);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "\"nan\""}), EW_DECODE_AMOUNT);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "\"NaN\""}), EW_DECODE_AMOUNT);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "1e999"}), EW_DECODE_AMOUNT);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "false"}), EW_DECODE_AMOUNT);
}

static void test_missing_required(void **state)
{
    (void)state;
    static const char *const required[] = {"billing_period", "report_version", "line_item_type", "service",
                                           "usage_start",    "usage_end",      "unblended_cost", "currency"};
    ew_billing_record r;
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        print_message("required %s\n", required[i]);
        assert_int_equal(LINE_WITH(&r, {required[i], NULL}), EW_DECODE_MISSING_FIELD);
        assert_int_equal(LINE_WITH(&r, {required[i], "null"}), EW_DECODE_MISSING_FIELD);
        assert_int_equal(LINE_WITH(&r, {required[i], "\"\""}), EW_DECODE_MISSING_FIELD);
    }
    /* a failed decode leaves no half record behind */
    assert_string_equal(r.service, "");
    assert_int_equal(r.cost_micros, 0);
}

static void test_currency(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"currency", "\"EUR\""}), EW_DECODE_OK);
    assert_string_equal(r.currency, "EUR");
    assert_int_equal(LINE_WITH(&r, {"currency", "\"usd\""}), EW_DECODE_CURRENCY);
    assert_int_equal(LINE_WITH(&r, {"currency", "\"GBP\""}), EW_DECODE_CURRENCY);
    assert_int_equal(LINE_WITH(&r, {"currency", "\"USDX\""}), EW_DECODE_CURRENCY);
    assert_int_equal(LINE_WITH(&r, {"currency", "\"US\""}), EW_DECODE_CURRENCY);
    assert_int_equal(LINE_WITH(&r, {"currency", "840"}), EW_DECODE_CURRENCY);
    assert_int_equal(LINE_WITH(&r, {"currency", "\"\\u0055SD\""}), EW_DECODE_OK);
}

static void test_interval(void **state)
{
    (void)state;
    ew_billing_record r;
    /* epoch ms integers, fractions and offsets */
    assert_int_equal(LINE_WITH(&r, {"usage_start", "1791205200000"}, {"usage_end", "\"2026-10-05T15:00:00+01:00\""}),
                     EW_DECODE_OK);
    assert_int_equal(r.usage_start_ms, T_START);
    assert_int_equal(r.usage_end_ms, T_END);
    assert_int_equal(LINE_WITH(&r, {"usage_start", "\"2026-10-05T13:00:00.250Z\""},
                               {"usage_end", "\"2026-10-05 14:00:00\""}),
                     EW_DECODE_OK);
    assert_int_equal(r.usage_start_ms, T_START + 250);
    assert_int_equal(r.usage_end_ms, T_END);
    /* end == start is a point in time, allowed */
    assert_int_equal(LINE_WITH(&r, {"usage_end", "\"2026-10-05T13:00:00Z\""}), EW_DECODE_OK);
    /* exactly 32 days is allowed, a millisecond more is not */
    assert_int_equal(LINE_WITH(&r, {"usage_start", "0"}, {"usage_end", "2764800000"}), EW_DECODE_OK);
    assert_int_equal(LINE_WITH(&r, {"usage_start", "0"}, {"usage_end", "2764800001"}), EW_DECODE_INTERVAL);
    assert_int_equal(LINE_WITH(&r, {"usage_end", "\"2026-11-07T13:00:00Z\""}), EW_DECODE_INTERVAL);
    assert_int_equal(LINE_WITH(&r, {"usage_end", "\"2026-10-05T12:59:59.999Z\""}), EW_DECODE_INTERVAL);
    static const char *const bad[] = {
        "\"2026-10-05\"", "\"2026-02-29T00:00:00Z\"", "\"2026-10-05T24:00:00Z\"", "\"2026-10-05T13:00:00+1:00\"",
        "\"2026-10-05T13:00:00Zjunk\"", "\"yesterday\"", "\"1791205200\"", "1.7912052E12", "1791205200000.5",
        "-1", "true", "{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("usage_start %s\n", bad[i]);
        assert_int_equal(LINE_WITH(&r, {"usage_start", bad[i]}), EW_DECODE_INTERVAL);
    }
    assert_int_equal(LINE_WITH(&r, {"usage_start", "\"2028-02-29T13:00:00Z\""}, {"usage_end", "\"2028-03-01T00:00:00Z\""}),
                     EW_DECODE_OK);
}

static void test_billing_period(void **state)
{
    (void)state;
    ew_billing_record r;
    static const char *const good[] = {"\"2026-10\"", "\"2026-10-01\"", "\"2026-10-01T00:00:00Z\"",
                                       "\"2026-10-01T00:00:00.000Z\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(LINE_WITH(&r, {"billing_period", good[i]}), EW_DECODE_OK);
        assert_string_equal(r.billing_period, "2026-10");
    }
    static const char *const bad[] = {"\"2026-13\"", "\"2026-1\"", "\"202610\"", "\"2026-10x\"", "\"2026-10-32\"",
                                      "\"October\"", "202610"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("billing_period %s\n", bad[i]);
        assert_int_equal(LINE_WITH(&r, {"billing_period", bad[i]}), EW_DECODE_INTERVAL);
    }
}

static void test_usage_sign(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "-1"}), EW_DECODE_USAGE_SIGN);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "\"-0.5\""}), EW_DECODE_USAGE_SIGN);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "-1e-9"}, {"unblended_cost", "\"0.000001\""}),
                     EW_DECODE_USAGE_SIGN);
    /* credits and refunds: negative cost is fine, with any usage */
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "-1"}, {"unblended_cost", "\"-12.34\""}), EW_DECODE_OK);
    assert_int_equal(r.cost_micros, -12340000);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "-1"}, {"unblended_cost", "0"}), EW_DECODE_OK);
    assert_int_equal(LINE_WITH(&r, {"usage_amount", "0"}, {"unblended_cost", "1"}), EW_DECODE_OK);
}

static void test_bad_json(void **state)
{
    (void)state;
    ew_billing_record r;
    static const char *const bad[] = {
        "{", "}", "[]", "\"str\"", "1", "null", "   ", "{\"billing_period\":\"2026-10\"} x", "{} {}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"abc}",
        "{\"a\":1,}", "{,}", "{\"a\"}", "{\"a\":01}", "{\"a\":tru}", "{\"a\":\"x\ny\"}", "{'a':1}", "{\"a\":-}",
        "{\"a\":[1,2}", "{\"tags\":\"payments\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("json %s\n", bad[i]);
        assert_int_equal(decode(bad[i], &r), EW_DECODE_JSON);
    }
    /* nesting is bounded */
    char deep[300];
    memset(deep, '[', sizeof deep);
    memcpy(deep, "{\"a\":", 5);
    assert_int_equal(decode_exact(deep, sizeof deep, &r), EW_DECODE_JSON);
}

static void test_truncated_json(void **state)
{
    (void)state;
    char msg[4096];
    ew_billing_record r;
    build_line(CHANGES({"project", "\"caf\\u00e9\""}), msg, sizeof msg);
    size_t len = strlen(msg);
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(decode_exact(msg, n, &r), EW_DECODE_OK);
    assert_int_equal(decode_exact(msg, len, &r), EW_DECODE_OK);
}

static void test_too_long_and_empty(void **state)
{
    (void)state;
    ew_billing_record r;
    char value[300], json[310];
    memset(value, 'x', sizeof value);
    value[63] = '\0'; /* service[64]: 63 bytes fit */
    snprintf(json, sizeof json, "\"%s\"", value);
    assert_int_equal(LINE_WITH(&r, {"service", json}), EW_DECODE_OK);
    value[63] = 'x';
    value[64] = '\0';
    snprintf(json, sizeof json, "\"%s\"", value);
    assert_int_equal(LINE_WITH(&r, {"service", json}), EW_DECODE_TOO_LONG);
    assert_int_equal(LINE_WITH(&r, {"line_key", json}), EW_DECODE_TOO_LONG);
    assert_int_equal(LINE_WITH(&r, {"project", json}), EW_DECODE_OK);
    memset(value, 'x', sizeof value);
    value[256] = '\0'; /* resource_id[256] */
    snprintf(json, sizeof json, "\"%s\"", value);
    assert_int_equal(LINE_WITH(&r, {"resource_id", json}), EW_DECODE_TOO_LONG);
    /* an escape that unescapes to 2 bytes at the end of the room */
    snprintf(json, sizeof json, "\"%.62s\\u00e9\"", value);
    assert_int_equal(LINE_WITH(&r, {"service", json}), EW_DECODE_TOO_LONG);

    /* the whole message */
    char msg[4096];
    build_line(NULL, 0, msg, sizeof msg);
    size_t len = strlen(msg);
    ew_billing_decoder small = decoder;
    small.max_bytes = len;
    assert_int_equal(ew_billing_decode(&small, msg, len, &r), EW_DECODE_OK);
    small.max_bytes = len - 1;
    assert_int_equal(ew_billing_decode(&small, msg, len, &r), EW_DECODE_TOO_LONG);

    assert_int_equal(ew_billing_decode(&decoder, msg, 0, &r), EW_DECODE_EMPTY);
    assert_int_equal(ew_billing_decode(&decoder, NULL, 0, &r), EW_DECODE_EMPTY);
}

static void test_strings(void **state)
{
    (void)state;
    ew_billing_record r;
    assert_int_equal(LINE_WITH(&r, {"project", "\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\\""}), EW_DECODE_OK);
    assert_string_equal(r.project, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\");
    /* an account id given as a number keeps its digits */
    assert_int_equal(LINE_WITH(&r, {"usage_account_id", "123456789012"}), EW_DECODE_OK);
    assert_string_equal(r.usage_account, "123456789012");
    /* escaped key names are the same keys */
    assert_int_equal(LINE_WITH(&r, {"service", NULL}, {"s\\u0065rvice", "\"Esc\""}), EW_DECODE_OK);
    assert_string_equal(r.service, "Esc");
    /* text must be UTF-8 without NUL */
    assert_int_equal(LINE_WITH(&r, {"service", "\"\xff\""}), EW_DECODE_UTF8);
    assert_int_equal(LINE_WITH(&r, {"service", "\"a\\u0000b\""}), EW_DECODE_UTF8);
    assert_int_equal(LINE_WITH(&r, {"service", "true"}), EW_DECODE_JSON);
    assert_int_equal(LINE_WITH(&r, {"service", "{}"}), EW_DECODE_JSON);
}

static void test_unknown_and_repeated_keys(void **state)
{
    (void)state;
    ew_billing_record a, b;
    assert_int_equal(LINE_WITH(&a, {"kind", "\"line\""}), EW_DECODE_OK);
    assert_int_equal(LINE_WITH(&b, {"x", "{\"service\":\"nested\",\"a\":[[{}],1.5e3,null,true]}"},
                               {"identity_time_interval", "\"2026-10-05T13:00:00Z/2026-10-05T14:00:00Z\""}),
                     EW_DECODE_OK);
    assert_same_record(&a, &b);
    /* the last of a repeated key counts */
    assert_int_equal(decode("{\"service\":\"first\",\"service\":\"second\",\"billing_period\":\"2026-10\","
                            "\"report_version\":\"v\",\"line_item_type\":\"Usage\",\"usage_start\":1,"
                            "\"usage_end\":2,\"unblended_cost\":1,\"currency\":\"USD\"}",
                            &b),
                     EW_DECODE_OK);
    assert_string_equal(b.service, "second");
    /* whitespace around everything */
    assert_int_equal(decode(" \t\r\n{ \"billing_period\" : \"2026-10\" , \"report_version\":\"v\", "
                            "\"line_item_type\":\"Usage\",\"service\":\"S\",\"usage_start\":1,\"usage_end\":2,"
                            "\"unblended_cost\":1,\"currency\":\"USD\" } \n",
                            &b),
                     EW_DECODE_OK);
}

static void test_line_key_stability(void **state)
{
    (void)state;
    ew_billing_record base, r;
    assert_int_equal(LINE_WITH(&base, {"kind", "\"line\""}), EW_DECODE_OK);
    /* cost, project, report version and usage amount are not identity */
    assert_int_equal(LINE_WITH(&r, {"unblended_cost", "\"99\""}, {"project", "\"other\""},
                               {"report_version", "\"2026-10-06T04\""}, {"usage_amount", "7"}),
                     EW_DECODE_OK);
    assert_string_equal(r.line_key, base.line_key);
    /* the same instants written differently are the same line */
    assert_int_equal(LINE_WITH(&r, {"usage_start", "1791205200000"}, {"usage_end", "\"2026-10-05T16:00:00+02:00\""}),
                     EW_DECODE_OK);
    assert_string_equal(r.line_key, base.line_key);

    static const kv identity[] = {
        {"billing_period", "\"2026-09\""},   {"usage_account_id", "\"210987654321\""},
        {"line_item_type", "\"Credit\""},    {"service", "\"AmazonS3\""},
        {"usage_type", "\"USE1-Other\""},    {"operation", "\"Other\""},
        {"resource_id", "\"arn:other\""},    {"region", "\"eu-west-1\""},
        {"usage_start", "\"2026-10-05T12:00:00Z\""}, {"usage_end", "\"2026-10-05T15:00:00Z\""},
    };
    for (size_t i = 0; i < sizeof identity / sizeof identity[0]; i++) {
        print_message("identity %s\n", identity[i].key);
        assert_int_equal(line_with(&r, &identity[i], 1), EW_DECODE_OK);
        assert_string_not_equal(r.line_key, base.line_key);
    }
    /* the separator keeps neighbouring fields apart */
    ew_billing_record x, y;
    assert_int_equal(LINE_WITH(&x, {"usage_type", "\"ab\""}, {"operation", "\"c\""}), EW_DECODE_OK);
    assert_int_equal(LINE_WITH(&y, {"usage_type", "\"a\""}, {"operation", "\"bc\""}), EW_DECODE_OK);
    assert_string_not_equal(x.line_key, y.line_key);

    /* a given key is kept as it is */
    assert_int_equal(LINE_WITH(&r, {"line_key", "\"optional-given-key\""}), EW_DECODE_OK);
    assert_string_equal(r.line_key, "optional-given-key");
    /* the function itself, on the decoded record */
    char key[64];
    ew_billing_line_key(&base, key);
    assert_string_equal(key, base.line_key);
    assert_int_equal(strspn(key, "0123456789abcdef"), 16);
    assert_int_equal(strlen(key), 16);
}

static void test_avro_equals_json(void **state)
{
    (void)state;
    ew_billing_record json, framed, bare;
    assert_int_equal(LINE_WITH(&json, {"tags", "{\"user:team\":\"core\",\"user:project\":\"payments\"}"}), EW_DECODE_OK);
    avro_event ev = base_event();
    assert_int_equal(decode_event(&ev, true, &framed), EW_DECODE_OK);
    assert_same_record(&json, &framed);
    /* a bare line datum starts with 00 too (enum index 0) */
    assert_int_equal(decode_event(&ev, false, &bare), EW_DECODE_OK);
    assert_same_record(&json, &bare);

    /* blocks with negative counts and byte sizes; the normalized tag key */
    static const char *const cur_tags[] = {"aws:createdBy", "x", "user_project", "payments"};
    ev.tags = cur_tags;
    ev.style = MAP_SIZED_BLOCKS;
    assert_int_equal(decode_event(&ev, true, &framed), EW_DECODE_OK);
    assert_same_record(&json, &framed);

    /* refresh ends, framed and bare (a bare one starts with 02) */
    assert_int_equal(decode("{\"kind\":\"refresh_end\",\"billing_period\":\"2026-10\",\"report_version\":\"v7\","
                            "\"full\":true}",
                            &json),
                     EW_DECODE_OK);
    avro_event end = {.kind = 1, .period = "2026-10", .version = "v7", .full = true};
    assert_int_equal(decode_event(&end, true, &framed), EW_DECODE_OK);
    assert_same_record(&json, &framed);
    assert_int_equal(decode_event(&end, false, &bare), EW_DECODE_OK);
    assert_same_record(&json, &bare);
}

static void test_avro_values(void **state)
{
    (void)state;
    ew_billing_record r;
    avro_event ev = base_event();
    ev.line_key = "given";
    ev.project = "top";
    ev.cost = -0.0000005;
    ev.has_amount = false;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_OK);
    assert_string_equal(r.line_key, "given");
    assert_string_equal(r.project, "top");
    assert_int_equal(r.cost_micros, -1);
    assert_true(isnan(r.usage_amount));
    /* Avro carries no escapes: a backslash is a backslash */
    ev.project = "a\\u0041";
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_OK);
    assert_string_equal(r.project, "a\\u0041");

    /* the same rules as JSON */
    ev = base_event();
    ev.cost = NAN;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_AMOUNT);
    ev.cost = 9000001.0;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_AMOUNT);
    ev = base_event();
    ev.amount = INFINITY;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_AMOUNT);
    ev.amount = -1;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_USAGE_SIGN);
    ev = base_event();
    ev.service = NULL;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_MISSING_FIELD);
    ev = base_event();
    ev.has_start = false;
    assert_int_equal(decode_event(&ev, false, &r), EW_DECODE_MISSING_FIELD);
    ev = base_event();
    ev.end = ev.start - 1;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_INTERVAL);
    ev.end = ev.start + EW_BILL_MAX_SPAN_MS + 1;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_INTERVAL);
    ev = base_event();
    ev.currency = "JPY";
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_CURRENCY);
    ev = base_event();
    ev.period = "2026-13";
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_INTERVAL);
    ev.period = "";
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_MISSING_FIELD);
    ev = base_event();
    ev.tags = NULL;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_OK);
    assert_string_equal(r.project, EW_BILL_UNTAGGED);
    ev.service = "\xc3";
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_UTF8);
}

static void test_avro_malformed(void **state)
{
    (void)state;
    ew_billing_record r;
    avro_event ev = base_event();
    avro_buf datum = {.len = 0}, framed = {.len = 0};
    encode_event(&datum, &ev);
    frame_confluent(&framed, 7, &datum);
    /* every proper prefix: framed ones, and bare ones from 2 bytes on */
    for (size_t n = 1; n < framed.len; n++)
        assert_int_equal(decode_exact(framed.b, n, &r), EW_DECODE_AVRO);
    for (size_t n = 1; n < datum.len; n++)
        assert_int_equal(decode_exact(datum.b, n, &r), EW_DECODE_AVRO);
    /* a trailing byte */
    framed.b[framed.len++] = 0;
    assert_int_equal(decode_exact(framed.b, framed.len, &r), EW_DECODE_AVRO);

    /* a wrong map block size */
    ev.style = MAP_BAD_SIZE;
    assert_int_equal(decode_event(&ev, true, &r), EW_DECODE_AVRO);

    /* a bad enum index, union branch or boolean */
    avro_event end = {.kind = 1, .period = "2026-10", .version = "v"};
    avro_buf bad = {.len = 0};
    encode_event(&bad, &end);
    bad.b[0] = 0x04; /* kind 2 */
    assert_int_equal(decode_exact(bad.b, bad.len, &r), EW_DECODE_AVRO);
    bad.b[0] = 0x02;
    bad.b[1 + 1 + 7 + 1 + 1] = 2; /* full: neither 0 nor 1 */
    assert_int_equal(decode_exact(bad.b, bad.len, &r), EW_DECODE_AVRO);
    bad.b[1 + 1 + 7 + 1 + 1] = 0;
    bad.b[1 + 1 + 7 + 1 + 1 + 1] = 4; /* line_key: union branch 2 */
    assert_int_equal(decode_exact(bad.b, bad.len, &r), EW_DECODE_AVRO);
    bad.b[1 + 1 + 7 + 1 + 1 + 1] = 0;
    assert_int_equal(decode_exact(bad.b, bad.len, &r), EW_DECODE_OK);

    /* too short for framing, and a string length past the end */
    static const uint8_t short_frame[] = {0, 0, 0, 1};
    assert_int_equal(decode_exact(short_frame, sizeof short_frame, &r), EW_DECODE_AVRO);
    static const uint8_t long_string[] = {0, 0, 0, 0, 1, 0x02, 0x7e, '2', '0'};
    assert_int_equal(decode_exact(long_string, sizeof long_string, &r), EW_DECODE_AVRO);
    /* neither JSON nor a datum */
    static const uint8_t garbage[] = {0xC3, 0x01, 0x02};
    assert_int_equal(decode_exact(garbage, sizeof garbage, &r), EW_DECODE_AVRO);
}

static void test_decode_is_repeatable(void **state)
{
    (void)state;
    ew_billing_record a, b;
    memset(&a, 0xAA, sizeof a);
    memset(&b, 0x55, sizeof b);
    assert_int_equal(LINE_WITH(&a, {"project", "\"p\""}), EW_DECODE_OK);
    assert_int_equal(LINE_WITH(&b, {"project", "\"p\""}), EW_DECODE_OK);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_schema_is_embedded(void **state)
{
    (void)state;
    /* The schema the Avro reader follows must itself be a valid schema,
     * with the field order the reader assumes. */
    char err[256] = "";
    ew_avro_schema *schema = ew_avro_schema_compile(ew_schema_billing_event, strlen(ew_schema_billing_event), err,
                                                   sizeof err);
    assert_non_null(schema);
    ew_avro_schema_free(schema);
    static const char *const order[] = {
        "kind", "billing_period", "report_version", "full", "line_key", "usage_account_id", "line_item_type",
        "service", "usage_type", "operation", "resource_id", "region", "usage_start", "usage_end",
        "usage_amount", "unblended_cost", "currency", "project", "tags",
    };
    const char *at = ew_schema_billing_event;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "{\"name\": \"%s\"", order[i]);
        const char *next = strstr(at, name);
        print_message("field %s\n", order[i]);
        assert_non_null(next);
        at = next + 1;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_line),
        cmocka_unit_test(test_optional_fields_absent),
        cmocka_unit_test(test_cur2_aliases),
        cmocka_unit_test(test_our_names_win),
        cmocka_unit_test(test_refresh_end),
        cmocka_unit_test(test_project_sources),
        cmocka_unit_test(test_cost_exact_text),
        cmocka_unit_test(test_cost_rounding),
        cmocka_unit_test(test_cost_exponent_and_numbers),
        cmocka_unit_test(test_cost_rejected),
        cmocka_unit_test(test_usage_amount),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_currency),
        cmocka_unit_test(test_interval),
        cmocka_unit_test(test_billing_period),
        cmocka_unit_test(test_usage_sign),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_truncated_json),
        cmocka_unit_test(test_too_long_and_empty),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_unknown_and_repeated_keys),
        cmocka_unit_test(test_line_key_stability),
        cmocka_unit_test(test_avro_equals_json),
        cmocka_unit_test(test_avro_values),
        cmocka_unit_test(test_avro_malformed),
        cmocka_unit_test(test_decode_is_repeatable),
        cmocka_unit_test(test_schema_is_embedded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
