/* test_notify_route.c -- the notifier's configuration (notify/notify_config.c)
 * and route tree walk (notify/route.c): inheritance, continue, globs, the
 * default receiver, and one clear line per configuration problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "edgewatch/notify.h"

static size_t load(ew_notify_config *nc, ew_config *cfg, const char *notify_json, ew_config_errors *errs)
{
    memset(cfg, 0, sizeof *cfg);
    ew_config_defaults(cfg);
    cfg->notify_json = notify_json ? strdup(notify_json) : NULL;
    memset(errs, 0, sizeof *errs);
    return ew_notify_config_load(nc, cfg, errs);
}

static void unload(ew_notify_config *nc, ew_config *cfg)
{
    ew_notify_config_free(nc);
    ew_config_free(cfg);
}

static ew_notify_alert alert(const char *rule, const char *project, const char *severity)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"alert_id\":\"ew-1\",\"event_id\":\"ew-1-f-1\",\"status\":\"firing\",\"severity\":\"%s\","
             "\"rule\":\"%s\",\"entity_type\":\"distribution\",\"entity_id\":\"E2QWRUHAPOMQZL\",\"project\":%s%s%s,"
             "\"window_start\":60000,\"window_end\":120000}",
             severity, rule, project ? "\"" : "", project ? project : "null", project ? "\"" : "");
    ew_notify_alert a;
    char err[200];
    assert_true(ew_notify_alert_decode(&a, text, strlen(text), NULL, err, sizeof err));
    return a;
}

static const char *receiver_of(const ew_notify_config *nc, const ew_route *r, size_t i)
{
    return nc->receivers[r->receivers[i]].name;
}

static const char TREE[] =
    "{\"receivers\":{\"log\":{\"type\":\"stdout\"},"
    "\"checkout\":{\"type\":\"slack\",\"url\":\"http://127.0.0.1:1/slack\"},"
    "\"pager\":{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:1/pager\",\"batch\":true},"
    "\"finops\":{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:1/finops\"}},"
    "\"route\":{\"receivers\":[\"log\"],\"group_wait\":\"2s\",\"routes\":["
    "{\"match\":{\"severity\":\"critical\"},\"receivers\":[\"pager\"],\"continue\":true},"
    "{\"match\":{\"project\":\"checkout*\"},\"receiver\":\"checkout\",\"repeat_interval\":\"1h\"},"
    "{\"match\":{\"rule\":[\"cost_spike\",\"cost_drop\"]},\"receivers\":[\"finops\"],\"group_by\":[\"project\"]}"
    "]}}";

static void test_first_match_wins_and_continue_goes_on(void **state)
{
    (void)state;
    ew_config cfg;
    ew_notify_config nc;
    ew_config_errors errs;
    assert_int_equal(load(&nc, &cfg, TREE, &errs), 0);
    const ew_route *out[8];

    ew_notify_alert a = alert("request_spike", "checkout-web", "critical");
    size_t n = ew_route_find(&nc.root, &a, out, 8);
    assert_int_equal(n, 2);
    assert_string_equal(receiver_of(&nc, out[0], 0), "pager");
    assert_string_equal(receiver_of(&nc, out[1], 0), "checkout");
    assert_int_equal(out[1]->repeat_interval_ms, 3600000);
    assert_int_equal(out[1]->group_wait_ms, 2000); /* inherited from the root */
    ew_notify_alert_release(&a);

    a = alert("request_spike", "search", "warning");
    n = ew_route_find(&nc.root, &a, out, 8);
    assert_int_equal(n, 1);
    assert_string_equal(out[0]->id, "root"); /* no child matched: the root itself */
    assert_string_equal(receiver_of(&nc, out[0], 0), "log");
    ew_notify_alert_release(&a);

    a = alert("cost_spike", "data-platform", "warning");
    n = ew_route_find(&nc.root, &a, out, 8);
    assert_int_equal(n, 1);
    assert_string_equal(receiver_of(&nc, out[0], 0), "finops");
    assert_int_equal(out[0]->n_group_by, 1);
    assert_string_equal(out[0]->group_by[0], "project");
    ew_notify_alert_release(&a);

    /* A critical alert that no later sibling takes: the continue route
     * delivered it, and the root does not deliver it again. */
    a = alert("error_5xx_rate", "search", "critical");
    n = ew_route_find(&nc.root, &a, out, 8);
    assert_int_equal(n, 1);
    assert_string_equal(receiver_of(&nc, out[0], 0), "pager");
    ew_notify_alert_release(&a);
    unload(&nc, &cfg);
}

static void test_absent_label_is_empty(void **state)
{
    (void)state;
    ew_config cfg;
    ew_notify_config nc;
    ew_config_errors errs;
    assert_int_equal(load(&nc, &cfg,
                          "{\"receivers\":{\"a\":{\"type\":\"stdout\"},\"b\":{\"type\":\"stdout\"}},"
                          "\"route\":{\"receivers\":[\"a\"],\"routes\":[{\"match\":{\"project\":\"\"},"
                          "\"receivers\":[\"b\"]}]}}",
                          &errs),
                     0);
    const ew_route *out[4];
    ew_notify_alert a = alert("request_spike", NULL, "warning");
    assert_int_equal(ew_route_find(&nc.root, &a, out, 4), 1);
    assert_string_equal(receiver_of(&nc, out[0], 0), "b");
    ew_notify_alert_release(&a);
    a = alert("request_spike", "checkout-web", "warning");
    assert_int_equal(ew_route_find(&nc.root, &a, out, 4), 1);
    assert_string_equal(receiver_of(&nc, out[0], 0), "a");
    ew_notify_alert_release(&a);
    unload(&nc, &cfg);
}

static void test_defaults_print_everything(void **state)
{
    (void)state;
    ew_config cfg;
    ew_notify_config nc;
    ew_config_errors errs;
    assert_int_equal(load(&nc, &cfg, NULL, &errs), 0);
    assert_int_equal(nc.n_receivers, 1);
    assert_int_equal(nc.receivers[0].type, EW_RECEIVER_STDOUT);
    assert_int_equal(nc.root.n_receivers, 1);
    assert_int_equal(nc.root.group_wait_ms, 10000);
    assert_int_equal(nc.root.group_interval_ms, 60000);
    assert_int_equal(nc.root.repeat_interval_ms, 4LL * 3600 * 1000);
    assert_true(nc.root.send_resolved);
    assert_false(nc.root.send_suppressed);
    assert_int_equal(nc.dedup_ttl_ms, 7LL * 86400 * 1000);
    assert_string_equal(nc.dead_letter_topic, "edgewatch-dlq");
    assert_string_equal(nc.group_id, "edgewatch-notify");
    unload(&nc, &cfg);

    /* One receiver and no route: the root sends to it. */
    assert_int_equal(load(&nc, &cfg, "{\"receivers\":{\"ops\":{\"type\":\"slack\",\"url\":\"https://x/y\"}}}", &errs),
                     0);
    assert_int_equal(nc.root.n_receivers, 1);
    assert_string_equal(receiver_of(&nc, &nc.root, 0), "ops");
    ew_receiver *r = ew_receiver_new(&nc.receivers[0], nc.link_template); /* the receiver applies defaults */
    assert_int_equal(ew_receiver_config_of(r)->max_batch, 20);
    assert_int_equal(ew_receiver_config_of(r)->timeout_ms, 5000);
    ew_receiver_free(r);
    unload(&nc, &cfg);
}

static bool has_line(const ew_config_errors *errs, const char *text)
{
    for (size_t i = 0; i < errs->n; i++)
        if (strstr(errs->lines[i], text))
            return true;
    return false;
}

static void test_every_problem_named(void **state)
{
    (void)state;
    ew_config cfg;
    ew_notify_config nc;
    ew_config_errors errs;
    size_t n = load(&nc, &cfg,
                    "{\"recievers\":{},\"receivers\":{\"s\":{\"type\":\"slak\"},\"w\":{\"type\":\"webhook\"}},"
                    "\"retry\":{\"initial\":\"soon\"},"
                    "\"route\":{\"group_wait\":\"ten\",\"routes\":[{\"match\":{\"team\":\"x\"},\"receivers\":[\"nope\"],"
                    "\"group_by\":[\"colour\"]}]}}",
                    &errs);
    assert_true(n >= 7);
    assert_true(has_line(&errs, "notify: unknown setting \"recievers\""));
    assert_true(has_line(&errs, "notify.receivers.s.type: \"slak\" is not slack, webhook or stdout"));
    assert_true(has_line(&errs, "notify.receivers.w.url: required"));
    assert_true(has_line(&errs, "notify.retry.initial: not a duration"));
    assert_true(has_line(&errs, "notify.route.group_wait: not a duration"));
    assert_true(has_line(&errs, "notify.route.0.match.team: unknown label"));
    assert_true(has_line(&errs, "no receiver named \"nope\""));
    assert_true(has_line(&errs, "unknown label \"colour\""));
    unload(&nc, &cfg);
}

static void test_decode_requires_the_ids(void **state)
{
    (void)state;
    ew_notify_alert a;
    char err[200];
    const char *no_event = "{\"alert_id\":\"a\",\"status\":\"firing\",\"rule\":\"r\",\"entity_id\":\"e\"}";
    assert_false(ew_notify_alert_decode(&a, no_event, strlen(no_event), NULL, err, sizeof err));
    assert_string_equal(err, "missing_field: event_id");
    const char *bad_status = "{\"alert_id\":\"a\",\"event_id\":\"b\",\"status\":\"open\",\"rule\":\"r\",\"entity_id\":\"e\"}";
    assert_false(ew_notify_alert_decode(&a, bad_status, strlen(bad_status), NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad_status"));
    assert_false(ew_notify_alert_decode(&a, "{\"alert_id\":", 12, NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad_json"));
    assert_false(ew_notify_alert_decode(&a, "\x02\x41", 2, NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad_json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_match_wins_and_continue_goes_on),
        cmocka_unit_test(test_absent_label_is_empty),
        cmocka_unit_test(test_defaults_print_everything),
        cmocka_unit_test(test_every_problem_named),
        cmocka_unit_test(test_decode_requires_the_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
