/* test_suppress.c -- unit tests for silences and expected events
 * (processor/suppress.c): the JSON format and its rules, ids, matching,
 * and suppression files. The Valkey side is covered by
 * tests/integration/test_suppress.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edgewatch/suppress.h"

static ew_suppression silence(const char *id, const char *project, const char *distribution, const char *rule,
                              int64_t from, int64_t to)
{
    ew_suppression s = {.kind = EW_SUPPRESS_SILENCE, .from_ms = from, .to_ms = to, .created_ms = 1};
    snprintf(s.id, sizeof s.id, "%s", id);
    snprintf(s.project, sizeof s.project, "%s", project ? project : "");
    snprintf(s.distribution, sizeof s.distribution, "%s", distribution ? distribution : "");
    snprintf(s.rule, sizeof s.rule, "%s", rule ? rule : "");
    snprintf(s.reason, sizeof s.reason, "test");
    return s;
}

static ew_suppression event(const char *id, const char *project, double multiplier, int64_t from, int64_t to)
{
    ew_suppression s = silence(id, project, NULL, NULL, from, to);
    s.kind = EW_SUPPRESS_EVENT;
    s.multiplier = multiplier;
    return s;
}

static void assert_same(const ew_suppression *a, const ew_suppression *b)
{
    assert_string_equal(a->id, b->id);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->project, b->project);
    assert_string_equal(a->distribution, b->distribution);
    assert_string_equal(a->rule, b->rule);
    assert_int_equal(a->from_ms, b->from_ms);
    assert_int_equal(a->to_ms, b->to_ms);
    assert_true(a->multiplier == b->multiplier);
    assert_string_equal(a->reason, b->reason);
    assert_int_equal(a->created_ms, b->created_ms);
}

static void round_trip(const ew_suppression *in)
{
    char *json = ew_suppression_to_json(in);
    assert_non_null(json);
    ew_suppression out;
    char err[256] = "";
    if (!ew_suppression_from_json(json, strlen(json), &out, err, sizeof err))
        fail_msg("%s: %s", json, err);
    assert_same(in, &out);
    free(json);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    ew_suppression s = silence("sil-0123456789ab", "checkout-web", NULL, NULL, 1000, 2000);
    round_trip(&s);
    s = silence("sil-abcdefabcdef", NULL, "E2QWRUHAPOMQZL", "error_5xx_rate", -5, 7);
    snprintf(s.reason, sizeof s.reason, "quotes \" and \\ and caf\xc3\xa9 and a\ttab");
    round_trip(&s);
    s = event("evt-000000000001", "media", 3, 1793534400000, 1793538000000);
    round_trip(&s);
    s.multiplier = 1.1;
    round_trip(&s);
    s.multiplier = 0.1 + 0.2; /* needs 17 digits to read back the same */
    round_trip(&s);
    memset(s.reason, 'r', EW_SUPPRESS_REASON_MAX);
    s.reason[EW_SUPPRESS_REASON_MAX] = '\0';
    round_trip(&s);
}

static void test_json_shape(void **state)
{
    (void)state;
    ew_suppression s = event("evt-0123456789ab", "shop", 2.5, 1000, 2000);
    snprintf(s.rule, sizeof s.rule, "request_spike");
    s.created_ms = 500;
    char *json = ew_suppression_to_json(&s);
    assert_string_equal(json, "{\"id\":\"evt-0123456789ab\",\"kind\":\"event\",\"project\":\"shop\","
                              "\"distribution\":null,\"rule\":\"request_spike\",\"from_ms\":1000,\"to_ms\":2000,"
                              "\"multiplier\":2.5,\"reason\":\"test\",\"created_ms\":500}");
    free(json);
    s = silence("sil-0123456789ab", NULL, "E1", NULL, 1, 2);
    json = ew_suppression_to_json(&s);
    assert_non_null(strstr(json, "\"project\":null,\"distribution\":\"E1\",\"rule\":null"));
    assert_non_null(strstr(json, "\"multiplier\":null"));
    free(json);
}

static void test_json_optional_members(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\","
                       "\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}";
    ew_suppression s;
    char err[256] = "";
    assert_true(ew_suppression_from_json(text, strlen(text), &s, err, sizeof err));
    assert_string_equal(s.distribution, "");
    assert_string_equal(s.rule, "");
    assert_true(s.multiplier == 0);
    assert_int_equal(s.created_ms, 0);
}

/* Each case breaks one rule of a valid silence or event. */
static const struct {
    const char *json;
    const char *error; /* expected substring */
} invalid[] = {
    {"not json", "invalid JSON"},
    {"[1]", "not a JSON object"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
     "\"reason\":\"r\",\"extra\":1}",
     "unknown key \"extra\""},
    {"{\"id\":\"sil-0123456789ab\",\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\","
     "\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "duplicate"},
    {"{\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}", "id is missing"},
    {"{\"id\":\"sil-0123456789AB\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "id must be \"sil-\""},
    {"{\"id\":\"sil-0123456789a\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "id must be \"sil-\""},
    {"{\"id\":\"evt-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "id must be \"sil-\""},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"mute\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "kind must be"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "exactly one of project and distribution"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"distribution\":\"d\",\"from_ms\":1,"
     "\"to_ms\":2,\"reason\":\"r\"}",
     "exactly one of project and distribution"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":5,\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "project must be a string"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"rule\":\"spike\",\"from_ms\":1,"
     "\"to_ms\":2,\"reason\":\"r\"}",
     "unknown rule \"spike\""},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":2,\"to_ms\":2,\"reason\":\"r\"}",
     "to_ms must be after from_ms"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":3,\"to_ms\":2,\"reason\":\"r\"}",
     "to_ms must be after from_ms"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1.5,\"to_ms\":2,"
     "\"reason\":\"r\"}",
     "from_ms must be an integer"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"to_ms\":2,\"reason\":\"r\"}",
     "from_ms is missing"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
     "\"multiplier\":2,\"reason\":\"r\"}",
     "multiplier must be null for a silence"},
    {"{\"id\":\"evt-0123456789ab\",\"kind\":\"event\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"r\"}",
     "multiplier must be a finite number > 0"},
    {"{\"id\":\"evt-0123456789ab\",\"kind\":\"event\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
     "\"multiplier\":0,\"reason\":\"r\"}",
     "multiplier must be a finite number > 0"},
    {"{\"id\":\"evt-0123456789ab\",\"kind\":\"event\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
     "\"multiplier\":-2,\"reason\":\"r\"}",
     "multiplier must be a finite number > 0"},
    {"{\"id\":\"evt-0123456789ab\",\"kind\":\"event\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
     "\"multiplier\":\"3\",\"reason\":\"r\"}",
     "multiplier must be a number"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,\"reason\":\"\"}",
     "reason must not be empty"},
    {"{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2}",
     "reason is missing"},
};

static void test_json_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        ew_suppression s;
        char err[256] = "";
        if (ew_suppression_from_json(invalid[i].json, strlen(invalid[i].json), &s, err, sizeof err))
            fail_msg("accepted: %s", invalid[i].json);
        if (!strstr(err, invalid[i].error))
            fail_msg("%s: got \"%s\", want \"%s\"", invalid[i].json, err, invalid[i].error);
    }
}

static void test_json_long_strings(void **state)
{
    (void)state;
    char reason[EW_SUPPRESS_REASON_MAX + 2], project[130], text[1024], err[256];
    memset(reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    memset(project, 'p', sizeof project - 1);
    project[sizeof project - 1] = '\0';
    ew_suppression s;
    snprintf(text, sizeof text,
             "{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
             "\"reason\":\"%s\"}",
             reason);
    assert_false(ew_suppression_from_json(text, strlen(text), &s, err, sizeof err));
    assert_string_equal(err, "reason is longer than 200 bytes");
    snprintf(text, sizeof text,
             "{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"%s\",\"from_ms\":1,\"to_ms\":2,"
             "\"reason\":\"r\"}",
             project);
    assert_false(ew_suppression_from_json(text, strlen(text), &s, err, sizeof err));
    assert_string_equal(err, "project is longer than 127 bytes");
}

static void test_make_id(void **state)
{
    (void)state;
    ew_suppression a = silence("", "p", NULL, NULL, 1, 2), b = a;
    char err[256];
    ew_suppression_make_id(&a, 1000);
    ew_suppression_make_id(&b, 1001);
    assert_int_equal(strlen(a.id), 16);
    assert_memory_equal(a.id, "sil-", 4);
    assert_true(ew_suppression_check(&a, err, sizeof err));
    assert_string_not_equal(a.id, b.id);
    ew_suppression c = a;
    ew_suppression_make_id(&c, 1000);
    assert_string_equal(a.id, c.id); /* same fields, same time: same id */
    ew_suppression e = event("", "p", 2, 1, 2);
    ew_suppression_make_id(&e, 1000);
    assert_memory_equal(e.id, "evt-", 4);
    assert_true(ew_suppression_check(&e, err, sizeof err));
}

static void test_rules(void **state)
{
    (void)state;
    const char *rules[] = {"request_spike", "request_drop", "error_403_rate", "error_5xx_rate",
                           "cache_hit_drop", "origin_latency", "cost_spike"};
    for (size_t i = 0; i < 7; i++)
        assert_true(ew_suppress_rule_known(rules[i]));
    assert_false(ew_suppress_rule_known(""));
    assert_false(ew_suppress_rule_known("request"));
}

/* ---- matching ---- */

static void test_match_target(void **state)
{
    (void)state;
    ew_suppressions s;
    ew_suppressions_init(&s);
    ew_suppression by_project = silence("sil-000000000001", "shop", NULL, NULL, 0, 100);
    ew_suppression by_dist = silence("sil-000000000002", NULL, "E2QWRUHAPOMQZL", NULL, 0, 100);
    ew_suppressions_add(&s, &by_project);
    ew_suppressions_add(&s, &by_dist);
    const ew_suppression *m;
    m = ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "EOTHER", "shop", 10, 20);
    assert_non_null(m);
    assert_string_equal(m->id, "sil-000000000001");
    m = ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "E2QWRUHAPOMQZL", "media", 10, 20);
    assert_non_null(m);
    assert_string_equal(m->id, "sil-000000000002");
    /* Distribution ids, like domains, are compared without case. */
    m = ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "e2qwruhapomqzl", NULL, 10, 20);
    assert_non_null(m);
    assert_string_equal(m->id, "sil-000000000002");
    /* An unmapped entity has no project: only distribution entries match. */
    assert_null(ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "shop", NULL, 10, 20));
    assert_null(ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "EOTHER", "media", 10, 20));
    /* Project names are exact. */
    assert_null(ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "EOTHER", "Shop", 10, 20));
    /* Silences never answer for events, nor the reverse. */
    assert_null(ew_suppression_match(&s, EW_SUPPRESS_EVENT, "request_spike", "E2QWRUHAPOMQZL", "shop", 10, 20));
    ew_suppressions_free(&s);
}

static void test_match_rule(void **state)
{
    (void)state;
    ew_suppressions s;
    ew_suppressions_init(&s);
    ew_suppression only_5xx = silence("sil-000000000001", "shop", NULL, "error_5xx_rate", 0, 100);
    ew_suppressions_add(&s, &only_5xx);
    assert_non_null(ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "error_5xx_rate", "E1", "shop", 0, 10));
    assert_null(ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "E1", "shop", 0, 10));
    assert_null(ew_suppression_match(&s, EW_SUPPRESS_SILENCE, NULL, "E1", "shop", 0, 10));
    ew_suppression any = silence("sil-000000000002", "shop", NULL, NULL, 0, 100);
    ew_suppressions_add(&s, &any);
    const ew_suppression *m = ew_suppression_match(&s, EW_SUPPRESS_SILENCE, "request_spike", "E1", "shop", 0, 10);
    assert_non_null(m);
    assert_string_equal(m->id, "sil-000000000002");
    ew_suppressions_free(&s);
}

static void test_match_overlap_edges(void **state)
{
    (void)state;
    ew_suppressions s;
    ew_suppressions_init(&s);
    ew_suppression e = event("evt-000000000001", "shop", 3, 1000, 2000);
    ew_suppressions_add(&s, &e);
    const struct {
        int64_t start, end;
        bool match;
    } cases[] = {
        {0, 1000, false},    /* window ends where the event starts */
        {0, 1001, true},     /* one ms inside */
        {1000, 1060, true},  /* starts with the event */
        {1500, 1560, true},  /* inside */
        {1999, 2059, true},  /* last ms of the event */
        {2000, 2060, false}, /* starts where the event ends: [from, to) */
        {500, 2500, true},   /* window covers the event */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const ew_suppression *m =
            ew_suppression_match(&s, EW_SUPPRESS_EVENT, "request_spike", "E1", "shop", cases[i].start, cases[i].end);
        if ((m != NULL) != cases[i].match)
            fail_msg("window [%lld, %lld): match %d", (long long)cases[i].start, (long long)cases[i].end, m != NULL);
    }
    ew_suppressions_free(&s);
}

static void test_match_deterministic(void **state)
{
    (void)state;
    ew_suppression items[] = {
        event("evt-00000000000c", "shop", 2, 500, 3000),
        event("evt-00000000000b", "shop", 2, 100, 3000),
        event("evt-00000000000a", "shop", 2, 100, 3000),
        event("evt-000000000000", "shop", 2, 50, 60), /* earliest, but does not overlap */
    };
    size_t n = sizeof items / sizeof *items;
    /* Every rotation of the load order gives the same answer. */
    for (size_t r = 0; r < n; r++) {
        ew_suppressions s;
        ew_suppressions_init(&s);
        for (size_t i = 0; i < n; i++)
            ew_suppressions_add(&s, &items[(i + r) % n]);
        const ew_suppression *m = ew_suppression_match(&s, EW_SUPPRESS_EVENT, "request_spike", "E1", "shop", 1000,
                                                       1060);
        assert_non_null(m);
        assert_string_equal(m->id, "evt-00000000000a");
        ew_suppressions_sort(&s);
        assert_string_equal(s.items[0].id, "evt-000000000000");
        assert_string_equal(s.items[1].id, "evt-00000000000a");
        assert_string_equal(s.items[2].id, "evt-00000000000b");
        assert_string_equal(s.items[3].id, "evt-00000000000c");
        ew_suppressions_free(&s);
    }
}

/* ---- files ---- */

static void write_file(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/ew-test-suppress-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static void test_file_load(void **state)
{
    (void)state;
    char path[64], err[512] = "";
    write_file("# maintenance calendar\n"
               "\n"
               "{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
               "\"reason\":\"r\"}\n"
               "   \n"
               "  # indented comment\n"
               "{\"id\":\"evt-0123456789ab\",\"kind\":\"event\",\"distribution\":\"E1\",\"from_ms\":1,\"to_ms\":2,"
               "\"multiplier\":4,\"reason\":\"push\"}\r\n"
               "{\"id\":\"sil-0123456789ac\",\"kind\":\"silence\",\"project\":\"q\",\"from_ms\":1,\"to_ms\":2,"
               "\"reason\":\"no newline at the end\"}",
               path);
    ew_suppressions s;
    ew_suppressions_init(&s);
    bool ok = ew_suppressions_load_file(path, &s, err, sizeof err);
    unlink(path);
    if (!ok)
        fail_msg("%s", err);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.items[1].kind, EW_SUPPRESS_EVENT);
    assert_true(s.items[1].multiplier == 4);
    assert_string_equal(s.items[2].reason, "no newline at the end");
    ew_suppressions_free(&s);
}

static void test_file_bad_line(void **state)
{
    (void)state;
    char path[64], err[512] = "", want[128];
    write_file("{\"id\":\"sil-0123456789ab\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":1,\"to_ms\":2,"
               "\"reason\":\"r\"}\n"
               "# comment\n"
               "{\"id\":\"sil-0123456789ac\",\"kind\":\"silence\",\"project\":\"p\",\"from_ms\":5,\"to_ms\":2,"
               "\"reason\":\"r\"}\n",
               path);
    ew_suppressions s;
    ew_suppressions_init(&s);
    ew_suppression kept = silence("sil-ffffffffffff", "x", NULL, NULL, 1, 2);
    ew_suppressions_add(&s, &kept);
    bool ok = ew_suppressions_load_file(path, &s, err, sizeof err);
    unlink(path);
    assert_false(ok);
    snprintf(want, sizeof want, "%s:3: to_ms must be after from_ms", path);
    assert_string_equal(err, want);
    assert_int_equal(s.n, 1); /* what was there before, nothing of the file */
    assert_string_equal(s.items[0].id, "sil-ffffffffffff");
    ew_suppressions_free(&s);

    ew_suppressions_init(&s);
    assert_false(ew_suppressions_load_file("/nonexistent/suppressions.jsonl", &s, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/suppressions.jsonl: "));
    ew_suppressions_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip),     cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_json_optional_members), cmocka_unit_test(test_json_invalid),
        cmocka_unit_test(test_json_long_strings),   cmocka_unit_test(test_make_id),
        cmocka_unit_test(test_rules),               cmocka_unit_test(test_match_target),
        cmocka_unit_test(test_match_rule),          cmocka_unit_test(test_match_overlap_edges),
        cmocka_unit_test(test_match_deterministic), cmocka_unit_test(test_file_load),
        cmocka_unit_test(test_file_bad_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
