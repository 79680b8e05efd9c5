/* test_metadata.c -- unit tests for the distribution metadata file and its
 * domain/alias index (processor/metadata.c).
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

#include "edgewatch/metadata.h"

#include <math.h>

static ew_str S(const char *s) { return ew_str_make(s, strlen(s)); }

/* Writes text to a temporary file and loads it; err gets the reason. */
static ew_metadata *load_text(const char *text, char *err, size_t errcap, char path[64])
{
    snprintf(path, 64, "/tmp/ew-test-metadata-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    err[0] = '\0';
    ew_metadata *m = ew_metadata_load(path, err, errcap);
    unlink(path);
    return m;
}

static const char two_distributions[] =
    "{\"distributions\": [\n"
    "  {\"id\": \"E2QWRUHAPOMQZL\", \"domain\": \"d111111abcdef8.cloudfront.net\",\n"
    "   \"aliases\": [\"www.example.com\", \"Example.com\"], \"project\": \"checkout-web\",\n"
    "   \"owner\": \"team-checkout\", \"route\": \"slack:#checkout-oncall\"},\n"
    "  {\"id\": \"E1KZ8VX3QYB7JD\", \"domain\": \"D222222ABCDEF8.cloudfront.net\",\n"
    "   \"aliases\": [\"static.example.com\"], \"project\": \"static-assets\",\n"
    "   \"owner\": \"team-web-platform\", \"route\": \"slack:#web-platform\"}\n"
    "]}\n";

/* Names of every length around the 8-byte steps of the lookup, made of
 * letters and of the bytes next to A-Z ('@', '[', '`', '{'), one with a
 * byte above 0x7f: found in any ASCII case, and not found when one byte
 * differs otherwise. */
static void test_lookup_case_and_lengths(void **state)
{
    (void)state;
    static const char alphabet[] = "aZ@[`{0-.Q";
    enum { N = 40 };
    char names[N][N + 8], text[8192], err[256], path[64];
    size_t at = (size_t)snprintf(text, sizeof text, "{\"distributions\": [");
    for (size_t d = 0; d < N; d++) {
        size_t len = d + 1;
        for (size_t k = 0; k < len; k++)
            names[d][k] = alphabet[(k * 7 + d) % (sizeof alphabet - 1)];
        names[d][len] = '\0';
        if (len == 20)
            memcpy(names[d] + 9, "\xc3\xa9", 2); /* é */
        at += (size_t)snprintf(text + at, sizeof text - at, "%s{\"id\": \"id%zu\", \"domain\": \"%s\"}",
                               d ? ", " : "", d, names[d]);
    }
    snprintf(text + at, sizeof text - at, "]}");
    ew_metadata *m = load_text(text, err, sizeof err, path);
    if (!m)
        fail_msg("load failed: %s", err);
    for (size_t d = 0; d < N; d++) {
        size_t len = strlen(names[d]);
        char q[N + 8];
        memcpy(q, names[d], len + 1);
        const ew_distribution *found = ew_metadata_by_domain(m, ew_str_make(q, len));
        assert_non_null(found);
        assert_int_equal(ew_metadata_index_of(m, found), d);
        for (size_t k = 0; k < len; k++) /* the other case */
            if ((q[k] >= 'a' && q[k] <= 'z') || (q[k] >= 'A' && q[k] <= 'Z'))
                q[k] ^= 0x20;
        found = ew_metadata_by_domain(m, ew_str_make(q, len));
        assert_non_null(found);
        assert_int_equal(ew_metadata_index_of(m, found), d);
        for (size_t k = 0; k < len; k++) {
            char saved = q[k];
            bool letter = (saved >= 'a' && saved <= 'z') || (saved >= 'A' && saved <= 'Z');
            /* A letter turned into '@', or bit 5 of anything else flipped. */
            q[k] = letter ? '@' : (char)(saved ^ 0x20);
            assert_null(ew_metadata_by_domain(m, ew_str_make(q, len)));
            q[k] = saved;
        }
        if (len > 1) { /* a part of the name is not the name */
            found = ew_metadata_by_domain(m, ew_str_make(q + 1, len - 1));
            assert_true(found != ew_metadata_at(m, d));
        }
    }
    ew_metadata_free(m);
}

static void test_load_and_lookup(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text(two_distributions, err, sizeof err, path);
    if (!m)
        fail_msg("load failed: %s", err);
    assert_int_equal(ew_metadata_count(m), 2);

    const ew_distribution *d = ew_metadata_by_domain(m, S("d111111abcdef8.cloudfront.net"));
    assert_non_null(d);
    assert_string_equal(d->id, "E2QWRUHAPOMQZL");
    assert_string_equal(d->project, "checkout-web");
    assert_string_equal(d->owner, "team-checkout");
    assert_string_equal(d->route, "slack:#checkout-oncall");

    const ew_distribution *e = ew_metadata_by_domain(m, S("d222222abcdef8.cloudfront.net"));
    assert_non_null(e);
    assert_string_equal(e->id, "E1KZ8VX3QYB7JD");
    assert_string_equal(e->project, "static-assets");
    assert_ptr_not_equal(d, e);

    /* By id. */
    assert_ptr_equal(ew_metadata_by_id(m, "E2QWRUHAPOMQZL"), d);
    assert_ptr_equal(ew_metadata_by_id(m, "E1KZ8VX3QYB7JD"), e);
    assert_null(ew_metadata_by_id(m, "E000000000000"));
    ew_metadata_free(m);
}

static void test_lookup_is_case_insensitive(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text(two_distributions, err, sizeof err, path);
    assert_non_null(m);
    const ew_distribution *d = ew_metadata_by_domain(m, S("d111111abcdef8.cloudfront.net"));
    assert_non_null(d);
    assert_ptr_equal(ew_metadata_by_domain(m, S("D111111ABCDEF8.CLOUDFRONT.NET")), d);
    assert_ptr_equal(ew_metadata_by_domain(m, S("D111111abcdef8.CloudFront.Net")), d);
    /* The file's own case does not matter either. */
    const ew_distribution *e = ew_metadata_by_id(m, "E1KZ8VX3QYB7JD");
    assert_ptr_equal(ew_metadata_by_domain(m, S("D222222ABCDEF8.CLOUDFRONT.NET")), e);
    assert_ptr_equal(ew_metadata_by_domain(m, S("example.com")), d);   /* listed "Example.com" */
    assert_ptr_equal(ew_metadata_by_domain(m, S("EXAMPLE.COM")), d);
    ew_metadata_free(m);
}

static void test_alias_lookup(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text(two_distributions, err, sizeof err, path);
    assert_non_null(m);
    const ew_distribution *d = ew_metadata_by_domain(m, S("www.example.com"));
    assert_non_null(d);
    assert_string_equal(d->id, "E2QWRUHAPOMQZL");
    d = ew_metadata_by_domain(m, S("Static.Example.com"));
    assert_non_null(d);
    assert_string_equal(d->id, "E1KZ8VX3QYB7JD");
    /* A borrowed slice of a longer buffer (the hot path's case). */
    const char line[] = "1700000000.000\twww.example.com\t200";
    d = ew_metadata_by_domain(m, ew_str_make(line + 15, 15));
    assert_non_null(d);
    assert_string_equal(d->id, "E2QWRUHAPOMQZL");
    ew_metadata_free(m);
}

/* Standard-log records carry the id itself: it resolves like a domain. */
static void test_id_lookup(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text(two_distributions, err, sizeof err, path);
    assert_non_null(m);
    const ew_distribution *d = ew_metadata_by_domain(m, S("E2QWRUHAPOMQZL"));
    assert_non_null(d);
    assert_string_equal(d->id, "E2QWRUHAPOMQZL");
    assert_null(ew_metadata_by_domain(m, S("E2QWRUHAPOMQZ")));
    ew_metadata_free(m);
    /* An id that is also another distribution's alias is ambiguous. */
    m = load_text("{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1.cloudfront.net\"},"
                  "{\"id\": \"E2\", \"domain\": \"d2.cloudfront.net\", \"aliases\": [\"e1\"]}]}",
                  err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "belongs to two distributions"));
}

static void test_unknown_is_null(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text(two_distributions, err, sizeof err, path);
    assert_non_null(m);
    assert_null(ew_metadata_by_domain(m, S("d999999abcdef8.cloudfront.net")));
    assert_null(ew_metadata_by_domain(m, S("www.example.co")));   /* prefix */
    assert_null(ew_metadata_by_domain(m, S("www.example.comm")));  /* longer */
    assert_null(ew_metadata_by_domain(m, S("example.com.")));
    assert_null(ew_metadata_by_domain(m, ew_str_make("www.example.com", 0)));
    ew_metadata_free(m);
}

static void test_null_path_is_empty(void **state)
{
    (void)state;
    char err[256] = "";
    ew_metadata *m = ew_metadata_load(NULL, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(ew_metadata_count(m), 0);
    assert_null(ew_metadata_by_domain(m, S("d111111abcdef8.cloudfront.net")));
    assert_null(ew_metadata_by_id(m, "E2QWRUHAPOMQZL"));
    ew_metadata_free(m);
}

static void test_missing_optional_fields(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text("{\"distributions\": [{\"id\": \"E3\", \"domain\": \"d3.cloudfront.net\"}]}", err,
                               sizeof err, path);
    if (!m)
        fail_msg("load failed: %s", err);
    const ew_distribution *d = ew_metadata_by_domain(m, S("d3.cloudfront.net"));
    assert_non_null(d);
    assert_string_equal(d->id, "E3");
    assert_string_equal(d->project, "");
    assert_string_equal(d->owner, "");
    assert_string_equal(d->route, "");
    ew_metadata_free(m);
}

static void test_many_distributions(void **state)
{
    (void)state;
    enum { N = 300 };
    size_t cap = (size_t)N * 160 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, "{\"distributions\": [");
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "%s{\"id\": \"E%05d\", \"domain\": \"d%05d.cloudfront.net\", \"aliases\": [\"a%05d.example.com\"]}",
                                i ? "," : "", i, i, i);
    snprintf(text + len, cap - len, "]}");
    char err[256], path[64];
    ew_metadata *m = load_text(text, err, sizeof err, path);
    free(text);
    if (!m)
        fail_msg("load failed: %s", err);
    assert_int_equal(ew_metadata_count(m), N);
    for (int i = 0; i < N; i++) {
        char name[64], id[16];
        snprintf(id, sizeof id, "E%05d", i);
        snprintf(name, sizeof name, "D%05d.CLOUDFRONT.NET", i);
        const ew_distribution *d = ew_metadata_by_domain(m, S(name));
        assert_non_null(d);
        assert_string_equal(d->id, id);
        snprintf(name, sizeof name, "a%05d.example.com", i);
        assert_ptr_equal(ew_metadata_by_domain(m, S(name)), d);
    }
    ew_metadata_free(m);
}

static void test_duplicate_domain_fails(void **state)
{
    (void)state;
    char err[256], path[64];
    /* The same d… domain in two distributions (different case). */
    ew_metadata *m = load_text(
        "{\"distributions\": ["
        "{\"id\": \"E1\", \"domain\": \"d111.cloudfront.net\"},"
        "{\"id\": \"E2\", \"domain\": \"D111.cloudfront.net\"}]}",
        err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "D111.cloudfront.net"));
    assert_non_null(strstr(err, "E1"));
    assert_non_null(strstr(err, "E2"));

    /* An alias of one is the domain of the other. */
    m = load_text(
        "{\"distributions\": ["
        "{\"id\": \"E1\", \"domain\": \"d111.cloudfront.net\", \"aliases\": [\"www.example.com\"]},"
        "{\"id\": \"E2\", \"domain\": \"d222.cloudfront.net\", \"aliases\": [\"img.example.com\", \"www.example.com\"]}]}",
        err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "www.example.com"));
}

static void test_bad_files_fail(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text("{\"distributions\": [{\"domain\": \"d1.cloudfront.net\", \"project\": \"p\"}]}", err,
                               sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "\"id\""));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "distributions[0]"));

    /* The second entry lacks its id: the first one's memory is released. */
    m = load_text("{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1.cloudfront.net\", \"aliases\": [\"a.example.com\"]},"
                  " {\"id\": 7, \"domain\": \"d2.cloudfront.net\"}]}",
                  err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "distributions[1]"));

    m = load_text("{\"distributions\": [{\"id\": \"E1\"}]}", err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "\"domain\""));

    m = load_text("{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1.cloudfront.net\", \"aliases\": [3]}]}", err,
                  sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "aliases[0]"));

    m = load_text("{\"dists\": []}", err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, "distributions"));

    m = load_text("{\"distributions\": [", err, sizeof err, path);
    assert_null(m);
    assert_non_null(strstr(err, path));

    err[0] = '\0';
    assert_null(ew_metadata_load("/nonexistent/metadata.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/metadata.json"));
}

static void test_example_metadata_loads(void **state)
{
    (void)state;
    const char *path = "config/metadata.example.json";
    if (access(path, R_OK) != 0)
        skip();
    char err[256] = "";
    ew_metadata *m = ew_metadata_load(path, err, sizeof err);
    if (!m)
        fail_msg("load failed: %s", err);
    assert_true(ew_metadata_count(m) >= 1);
    ew_metadata_free(m);
}


static const char policies[] =
    "{\"projects\": {\"shop\": {\"floor\": 50, \"rules\": {\"error_403_rate\": {\"min_change\": 0.02},\n"
    "                                                  \"request_spike\": {\"z_warning\": 5}}},\n"
    "              \"legacy\": {\"excluded\": true}},\n"
    " \"distributions\": [\n"
    "  {\"id\": \"E1\", \"domain\": \"d1.cloudfront.net\", \"project\": \"shop\",\n"
    "   \"rules\": {\"request_spike\": {\"z_warning\": 6, \"short_window\": \"8h\", \"enabled\": false}}},\n"
    "  {\"id\": \"E2\", \"domain\": \"d2.cloudfront.net\", \"project\": \"shop\", \"floor\": 2.5},\n"
    "  {\"id\": \"E3\", \"domain\": \"d3.cloudfront.net\", \"project\": \"legacy\"},\n"
    "  {\"id\": \"E4\", \"domain\": \"d4.cloudfront.net\", \"project\": \"legacy\", \"excluded\": false},\n"
    "  {\"id\": \"E5\", \"domain\": \"d5.cloudfront.net\"}\n"
    "]}\n";

/* A distribution inherits its project's floor, exclusion and overrides,
 * and its own keys win. */
static void test_policies_inherit_and_override(void **state)
{
    (void)state;
    char err[256], path[64];
    ew_metadata *m = load_text(policies, err, sizeof err, path);
    if (!m)
        fail_msg("load failed: %s", err);
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_true(ew_metadata_resolve_rules(m, &cfg, err, sizeof err));
    const ew_distribution *e1 = ew_metadata_by_id(m, "E1"), *e2 = ew_metadata_by_id(m, "E2");
    const ew_distribution *e3 = ew_metadata_by_id(m, "E3"), *e4 = ew_metadata_by_id(m, "E4");
    const ew_distribution *e5 = ew_metadata_by_id(m, "E5");
    assert_true(e1->floor_per_min == 50);
    assert_true(e2->floor_per_min == 2.5);
    assert_true(isnan(e5->floor_per_min));
    assert_true(e3->excluded);
    assert_false(e4->excluded);
    assert_false(e1->excluded);
    assert_non_null(e1->rules);
    assert_true(e1->rules[EW_RULE_REQUEST_SPIKE].z_warning == 6);
    assert_false(e1->rules[EW_RULE_REQUEST_SPIKE].enabled);
    assert_int_equal(e1->rules[EW_RULE_REQUEST_SPIKE].short_window_ms, 8LL * 3600 * 1000);
    assert_true(e1->rules[EW_RULE_ERROR_403_RATE].min_change == 0.02);
    assert_true(e1->rules[EW_RULE_REQUEST_DROP].z_warning == cfg.rules[EW_RULE_REQUEST_DROP].z_warning);
    assert_non_null(e2->rules);
    assert_true(e2->rules[EW_RULE_REQUEST_SPIKE].z_warning == 5);
    assert_true(e2->rules[EW_RULE_REQUEST_SPIKE].enabled);
    assert_null(e5->rules);
    ew_config_free(&cfg);
    ew_metadata_free(m);
}

static void test_bad_policies_fail(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"floor\": -1}]}", "floor"},
        {"{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"floor\": \"x\"}]}", "floor"},
        {"{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"excluded\": 1}]}", "excluded"},
        {"{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"rules\": {\"nope\": {}}}]}", "rules.nope"},
        {"{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"rules\": []}]}", "rules"},
        {"{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"project\": \"p\"}],"
         " \"projects\": {\"p\": {\"floor\": -3}}}", "projects.p"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256], path[64];
        ew_metadata *m = load_text(cases[i].text, err, sizeof err, path);
        if (m)
            fail_msg("case %zu loaded", i);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" does not name %s", i, err, cases[i].want);
    }
}

/* Overrides are checked against the rule settings when resolved. */
static void test_bad_override_values_fail_to_resolve(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"rules\": {\"request_spike\": {\"nope\": 1}}}]}",
        "{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"rules\": {\"request_spike\": {\"z_warning\": \"x\"}}}]}",
        "{\"distributions\": [{\"id\": \"E1\", \"domain\": \"d1\", \"rules\": {\"request_drop\": {\"fire_after\": 9}}}]}",
    };
    ew_config cfg;
    ew_config_defaults(&cfg);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char err[256], path[64];
        ew_metadata *m = load_text(texts[i], err, sizeof err, path);
        if (!m)
            fail_msg("case %zu did not load: %s", i, err);
        assert_false(ew_metadata_resolve_rules(m, &cfg, err, sizeof err));
        if (!strstr(err, "E1"))
            fail_msg("case %zu: \"%s\" does not name the distribution", i, err);
        ew_metadata_free(m);
    }
    ew_config_free(&cfg);
}

/* Projects: named under "projects" or only by distributions; cost rule
 * overrides per project; owner and route fall back to the first distribution. */
static void test_projects_for_cost(void **state)
{
    (void)state;
    static const char text[] =
        "{\"distributions\": [\n"
        "  {\"id\": \"E1\", \"domain\": \"d1.cloudfront.net\", \"project\": \"web\", \"owner\": \"team-web\",\n"
        "   \"route\": \"slack:#web\"},\n"
        "  {\"id\": \"E2\", \"domain\": \"d2.cloudfront.net\", \"project\": \"shop\", \"owner\": \"team-shop\"}],\n"
        " \"projects\": {\"shop\": {\"route\": \"slack:#shop-cost\", \"rules\": {\"cost_spike\": {\"min_impact\": 250}}},\n"
        "              \"lab\": {\"excluded\": true, \"owner\": \"team-lab\"}}}\n";
    char err[256], path[64];
    ew_metadata *m = load_text(text, err, sizeof err, path);
    if (!m)
        fail_msg("load failed: %s", err);
    ew_config cfg;
    ew_config_defaults(&cfg);
    assert_true(ew_metadata_resolve_rules(m, &cfg, err, sizeof err));
    const ew_project *web = ew_metadata_project(m, "web"), *shop = ew_metadata_project(m, "shop");
    const ew_project *lab = ew_metadata_project(m, "lab");
    assert_non_null(web);
    assert_non_null(shop);
    assert_non_null(lab);
    assert_null(ew_metadata_project(m, "nobody"));
    assert_string_equal(web->owner, "team-web");
    assert_string_equal(web->route, "slack:#web");
    assert_null(web->rules);
    assert_string_equal(shop->owner, "team-shop");
    assert_string_equal(shop->route, "slack:#shop-cost");
    assert_non_null(shop->rules);
    assert_true(shop->rules[EW_RULE_COST_SPIKE].min_impact == 250);
    assert_true(shop->rules[EW_RULE_COST_DROP].min_impact == 1000);
    assert_true(lab->excluded);
    assert_string_equal(lab->route, "");
    ew_config_free(&cfg);
    ew_metadata_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_lookup),
        cmocka_unit_test(test_lookup_case_and_lengths),
        cmocka_unit_test(test_lookup_is_case_insensitive),
        cmocka_unit_test(test_alias_lookup),
        cmocka_unit_test(test_id_lookup),
        cmocka_unit_test(test_unknown_is_null),
        cmocka_unit_test(test_null_path_is_empty),
        cmocka_unit_test(test_missing_optional_fields),
        cmocka_unit_test(test_many_distributions),
        cmocka_unit_test(test_duplicate_domain_fails),
        cmocka_unit_test(test_bad_files_fail),
        cmocka_unit_test(test_example_metadata_loads),
        cmocka_unit_test(test_policies_inherit_and_override),
        cmocka_unit_test(test_projects_for_cost),
        cmocka_unit_test(test_bad_policies_fail),
        cmocka_unit_test(test_bad_override_values_fail_to_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
