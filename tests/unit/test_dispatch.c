/* test_dispatch.c -- the notifier's dispatcher (notify/dispatch.c), driven
 * step by step on its own clock: group_wait and group_interval, repeat,
 * resolved, suppressed, dedup between two instances sharing one store,
 * commit positions that never pass an undelivered alert, retries with
 * backoff and the dead-letter deadline.
 *
 * The receivers are real: stdout (captured through a temporary file on
 * fd 1) and a webhook aimed at a closed loopback port for failures. The
 * store is the in-memory one that --dry-run uses.
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
#include <curl/curl.h>

#include "edgewatch/notify.h"

typedef struct {
    ew_config cfg;
    ew_notify_config nc;
    ew_receiver **receivers;
    ew_notify_store *store;
    ew_dispatch *d;
    int64_t offset;
    FILE *capture;
    int saved_stdout;
    char dead[8][400];
    size_t n_dead;
} fixture;

static bool record_dead_letter(void *ctx, const ew_dispatch_msg *m, const char *reason)
{
    (void)m;
    fixture *f = ctx;
    if (f->n_dead < 8)
        snprintf(f->dead[f->n_dead++], sizeof f->dead[0], "%s", reason);
    return true;
}

static void setup_with(fixture *f, const char *notify_json, ew_notify_store *shared_store)
{
    memset(f, 0, sizeof *f);
    ew_config_defaults(&f->cfg);
    f->cfg.notify_json = strdup(notify_json);
    ew_config_errors errs = {0};
    assert_int_equal(ew_notify_config_load(&f->nc, &f->cfg, &errs), 0);
    f->receivers = calloc(f->nc.n_receivers, sizeof *f->receivers);
    for (size_t i = 0; i < f->nc.n_receivers; i++)
        f->receivers[i] = ew_receiver_new(&f->nc.receivers[i], NULL);
    f->store = shared_store ? shared_store : ew_notify_store_memory("test-1", f->nc.dedup_ttl_ms);
    ew_dispatch_hooks hooks = {.ctx = f, .dead_letter = record_dead_letter};
    f->d = ew_dispatch_new(&f->nc, f->receivers, f->store, NULL, "alerts", hooks);
    fflush(stdout);
    f->capture = tmpfile();
    f->saved_stdout = dup(1);
    dup2(fileno(f->capture), 1);
}

static void setup(fixture *f, const char *notify_json) { setup_with(f, notify_json, NULL); }

/* Everything written to stdout since the last call. Raw fd calls, not
 * stdio: fd 1 shares the capture file's offset, which stdio's buffered
 * seeks would not move. */
static char *captured(fixture *f)
{
    fflush(stdout);
    int fd = fileno(f->capture);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    assert_int_equal(pread(fd, text, (size_t)size, 0), size);
    assert_int_equal(ftruncate(fd, 0), 0);
    lseek(fd, 0, SEEK_SET);
    return text;
}

static size_t count_lines(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void teardown(fixture *f, bool free_store)
{
    fflush(stdout);
    dup2(f->saved_stdout, 1);
    close(f->saved_stdout);
    fclose(f->capture);
    ew_dispatch_free(f->d);
    for (size_t i = 0; i < f->nc.n_receivers; i++)
        ew_receiver_free(f->receivers[i]);
    free(f->receivers);
    if (free_store)
        ew_notify_store_free(f->store);
    ew_notify_config_free(&f->nc);
    ew_config_free(&f->cfg);
}

/* Adds one alert event at now_ms on partition 0. */
static void add(fixture *f, const char *alert_id, const char *status, const char *severity, const char *project,
                int64_t window, const char *suppressed_by, int64_t now_ms)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"alert_id\":\"%s\",\"event_id\":\"%s-%c-%lld\",\"status\":\"%s\",\"severity\":\"%s\","
             "\"rule\":\"request_spike\",\"entity_type\":\"distribution\",\"entity_id\":\"E2QWRUHAPOMQZL\","
             "\"project\":\"%s\",\"owner\":\"team-x\",\"route\":null,\"window_start\":%lld,\"window_end\":%lld,"
             "\"observed\":2410,\"expected\":301.5,\"z_short\":38.2,\"z_long\":null,\"suppressed_by\":%s%s%s}",
             alert_id, alert_id, status[0], (long long)window, status, severity, project, (long long)window,
             (long long)window + 60000, suppressed_by ? "\"" : "", suppressed_by ? suppressed_by : "null",
             suppressed_by ? "\"" : "");
    ew_dispatch_msg m = {.partition = 0, .offset = f->offset++, .key = alert_id, .key_len = strlen(alert_id),
                         .value = text, .len = strlen(text)};
    ew_dispatch_add(f->d, &m, now_ms);
}

/* The one committable position of partition 0 reported now, or -1. */
static int64_t commit_position(fixture *f)
{
    int32_t p[4];
    int64_t o[4];
    size_t n = ew_dispatch_commits(f->d, p, o, 4);
    return n ? o[0] : -1;
}

static const char STDOUT_ONLY[] =
    "{\"receivers\":{\"log\":{\"type\":\"stdout\"}},"
    "\"route\":{\"group_wait\":\"1s\",\"group_interval\":\"5s\",\"repeat_interval\":\"60s\"}}";

static void test_group_wait_collects_then_interval(void **state)
{
    (void)state;
    fixture f;
    setup(&f, STDOUT_ONLY);
    add(&f, "ew-a", "firing", "warning", "checkout", 60000, NULL, 0);
    add(&f, "ew-b", "firing", "warning", "checkout", 60000, NULL, 300);
    add(&f, "ew-c", "firing", "warning", "search", 60000, NULL, 400);
    ew_dispatch_run(f.d, 900);
    char *out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 0);
    assert_int_equal(commit_position(&f), -1); /* nothing delivered, nothing committed */
    free(out);

    ew_dispatch_run(f.d, 1000); /* checkout's group_wait is over; search's is not */
    out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 2);
    assert_int_equal(commit_position(&f), 2); /* offsets 0 and 1 done, 2 still waits */
    free(out);

    ew_dispatch_run(f.d, 1400);
    out = captured(&f);
    assert_int_equal(count_lines(out, "search"), 1);
    assert_int_equal(commit_position(&f), 3);
    free(out);

    /* A new alert in a group notified at 1000 waits for group_interval. */
    add(&f, "ew-d", "firing", "warning", "checkout", 120000, NULL, 2000);
    ew_dispatch_run(f.d, 5999);
    out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 0);
    free(out);
    ew_dispatch_run(f.d, 6000);
    out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 1);
    free(out);
    ew_dispatch_counts c = ew_dispatch_counters(f.d);
    assert_int_equal(c.alerts_sent, 4);
    assert_int_equal(c.notifications, 3);
    teardown(&f, true);
}

static void test_repeat_and_severity_change(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "{\"receivers\":{\"log\":{\"type\":\"stdout\"}},"
              "\"route\":{\"group_wait\":\"0s\",\"group_interval\":\"1s\",\"repeat_interval\":\"10s\"}}");
    add(&f, "ew-a", "firing", "warning", "checkout", 60000, NULL, 0);
    ew_dispatch_run(f.d, 0);
    add(&f, "ew-a", "firing", "warning", "checkout", 120000, NULL, 5000); /* an update, repeat not due */
    ew_dispatch_run(f.d, 6000);
    char *out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 1);
    assert_int_equal(commit_position(&f), 2); /* the update is done without a notification */
    free(out);

    add(&f, "ew-a", "firing", "critical", "checkout", 180000, NULL, 7000); /* severity changed: at once */
    ew_dispatch_run(f.d, 8000);
    out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING critical"), 1);
    free(out);

    add(&f, "ew-a", "firing", "critical", "checkout", 240000, NULL, 19000); /* 11 s after: a repeat */
    ew_dispatch_run(f.d, 20000);
    out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING critical"), 1);
    free(out);
    assert_int_equal(ew_dispatch_counters(&*f.d).not_notified, 1);
    teardown(&f, true);
}

static void test_resolved_only_after_a_firing_notification(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "{\"receivers\":{\"log\":{\"type\":\"stdout\"}},"
              "\"route\":{\"group_wait\":\"0s\",\"group_interval\":\"1s\"}}");
    add(&f, "ew-a", "firing", "warning", "checkout", 60000, NULL, 0);
    ew_dispatch_run(f.d, 0);
    add(&f, "ew-a", "resolved", "warning", "checkout", 120000, NULL, 2000);
    add(&f, "ew-never", "resolved", "warning", "checkout", 120000, NULL, 2000); /* never notified firing */
    ew_dispatch_run(f.d, 3000);
    char *out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 1);
    assert_int_equal(count_lines(out, "RESOLVED"), 1);
    assert_null(strstr(out, "ew-never"));
    assert_int_equal(commit_position(&f), 3);
    free(out);
    teardown(&f, true);
}

static void test_fired_and_resolved_within_group_wait(void **state)
{
    (void)state;
    fixture f;
    setup(&f, STDOUT_ONLY);
    add(&f, "ew-a", "firing", "critical", "checkout", 60000, NULL, 0);
    add(&f, "ew-a", "firing", "critical", "checkout", 120000, NULL, 100); /* update: replaces the first */
    add(&f, "ew-a", "resolved", "critical", "checkout", 180000, NULL, 200);
    ew_dispatch_run(f.d, 1000);
    char *out = captured(&f);
    char *firing = strstr(out, "FIRING critical"), *resolved = strstr(out, "RESOLVED critical");
    assert_non_null(firing);
    assert_non_null(resolved);
    assert_true(firing < resolved); /* told in order, in one notification */
    assert_int_equal(count_lines(out, "FIRING"), 1);
    assert_int_equal(ew_dispatch_counters(f.d).notifications, 1);
    assert_int_equal(commit_position(&f), 3);
    free(out);
    teardown(&f, true);
}

static void test_suppressed_and_unwanted_resolved(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "{\"receivers\":{\"log\":{\"type\":\"stdout\"},\"audit\":{\"type\":\"stdout\"}},"
              "\"route\":{\"receivers\":[\"log\"],\"group_wait\":\"0s\",\"group_interval\":\"1s\",\"routes\":["
              "{\"match\":{\"project\":\"checkout\"},\"receivers\":[\"audit\"],\"send_suppressed\":true,"
              "\"send_resolved\":false,\"continue\":true},"
              "{\"match\":{\"project\":\"*\"},\"receivers\":[\"log\"]}]}}");
    add(&f, "ew-s", "firing", "warning", "checkout", 60000, "sil-7", 0);
    ew_dispatch_run(f.d, 0);
    char *out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 1); /* audit only; log drops the suppressed alert */
    assert_int_equal(commit_position(&f), 1);
    free(out);
    add(&f, "ew-s", "resolved", "warning", "checkout", 120000, "sil-7", 2000);
    ew_dispatch_run(f.d, 3000);
    out = captured(&f);
    assert_int_equal(count_lines(out, "RESOLVED"), 0); /* audit: send_resolved false; log: suppressed */
    assert_int_equal(commit_position(&f), 2);
    free(out);
    teardown(&f, true);
}

static void test_two_instances_share_claims(void **state)
{
    (void)state;
    /* repeat_interval 0 makes b want to send again, so the claim (not the
     * repeat decision) is what stops the duplicate. */
    static const char config[] = "{\"receivers\":{\"log\":{\"type\":\"stdout\"}},"
                                 "\"route\":{\"group_wait\":\"1s\",\"repeat_interval\":\"0s\"}}";
    fixture a, b;
    setup(&a, config);
    ew_notify_store *shared = a.store;
    setup_with(&b, config, shared);
    add(&a, "ew-x", "firing", "warning", "checkout", 60000, NULL, 0);
    add(&b, "ew-x", "firing", "warning", "checkout", 60000, NULL, 0);
    ew_dispatch_run(a.d, 1000);
    ew_dispatch_run(b.d, 1000);
    char *out_b = captured(&b); /* both capture fd 1: b's file holds both outputs */
    assert_int_equal(count_lines(out_b, "FIRING"), 1);
    free(out_b);
    assert_int_equal(ew_dispatch_counters(a.d).alerts_sent, 1);
    assert_int_equal(ew_dispatch_counters(b.d).duplicates, 1);
    assert_int_equal(commit_position(&b), 1);
    teardown(&b, false);
    teardown(&a, true);
}

static void test_failed_receiver_retries_then_dead_letters(void **state)
{
    (void)state;
    fixture f;
    /* Port 1 on loopback refuses at once: a receiver that is down. */
    setup(&f, "{\"receivers\":{\"down\":{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:1/hook\",\"timeout\":\"1s\"}},"
              "\"retry\":{\"initial\":\"100ms\",\"max\":\"400ms\",\"dead_letter_after\":\"2s\"},"
              "\"route\":{\"group_wait\":\"0s\",\"group_interval\":\"1s\"}}");
    add(&f, "ew-a", "firing", "warning", "checkout", 60000, NULL, 0);
    int64_t now = 0, waits[8];
    size_t n_waits = 0;
    while (f.n_dead == 0 && now < 5000) {
        int64_t wait = ew_dispatch_run(f.d, now);
        if (n_waits < 8 && f.n_dead == 0)
            waits[n_waits++] = wait;
        if (f.n_dead)
            break;
        assert_int_equal(commit_position(&f), -1); /* never committed while undelivered */
        now += wait ? wait : 1;
    }
    assert_int_equal(f.n_dead, 1);
    assert_non_null(strstr(f.dead[0], "notify: receiver down: "));
    assert_true(now >= 2000 && now < 2500);
    /* 100, 200, 400, 400 ms: doubling, capped at retry.max. */
    assert_int_equal(waits[0], 100);
    assert_int_equal(waits[1], 200);
    assert_int_equal(waits[2], 400);
    assert_int_equal(waits[3], 400);
    assert_int_equal(commit_position(&f), 1);
    ew_dispatch_counts c = ew_dispatch_counters(f.d);
    assert_int_equal(c.dead_letters, 1);
    assert_true(c.retries >= 5);
    teardown(&f, true);
}

/* Valkey unreachable: without a claim nothing may be sent (it could be a
 * duplicate), and an outage is not the receiver's failure, so nothing is
 * dead-lettered either, however long it lasts. */
static void test_store_outage_waits(void **state)
{
    (void)state;
    fixture f;
    setup(&f, "{\"receivers\":{\"log\":{\"type\":\"stdout\"}},"
              "\"retry\":{\"initial\":\"100ms\",\"max\":\"400ms\",\"dead_letter_after\":\"1s\"},"
              "\"route\":{\"group_wait\":\"0s\",\"group_interval\":\"1s\"}}");
    ew_notify_store_free(f.store);
    f.cfg.valkey_port = 1; /* refuses at once */
    f.cfg.valkey_timeout_ms = 200;
    f.store = ew_notify_store_valkey(&f.cfg, "test-1", f.nc.dedup_ttl_ms);
    ew_dispatch_free(f.d);
    ew_dispatch_hooks hooks = {.ctx = &f, .dead_letter = record_dead_letter};
    f.d = ew_dispatch_new(&f.nc, f.receivers, f.store, NULL, "alerts", hooks);
    add(&f, "ew-a", "firing", "warning", "checkout", 60000, NULL, 0);
    for (int64_t now = 0; now <= 5000; now += 100)
        ew_dispatch_run(f.d, now);
    char *out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 0);
    free(out);
    assert_int_equal(f.n_dead, 0);
    assert_int_equal(commit_position(&f), -1);
    assert_int_equal(ew_dispatch_pending(f.d), 1);
    assert_non_null(strstr(ew_notify_store_error(f.store), "valkey 127.0.0.1:1"));
    teardown(&f, true);
}

static void test_bad_message_is_dead_lettered(void **state)
{
    (void)state;
    fixture f;
    setup(&f, STDOUT_ONLY);
    ew_dispatch_msg m = {.partition = 0, .offset = 0, .value = "not json", .len = 8};
    ew_dispatch_add(f.d, &m, 0);
    assert_int_equal(f.n_dead, 1);
    assert_non_null(strstr(f.dead[0], "bad_json"));
    assert_int_equal(commit_position(&f), 1);
    assert_int_equal(ew_dispatch_counters(f.d).bad, 1);
    teardown(&f, true);
}

static void test_forgotten_partition_is_not_committed(void **state)
{
    (void)state;
    fixture f;
    setup(&f, STDOUT_ONLY);
    add(&f, "ew-a", "firing", "warning", "checkout", 60000, NULL, 0);
    ew_dispatch_forget_partition(f.d, 0);
    ew_dispatch_run(f.d, 5000);
    char *out = captured(&f);
    assert_int_equal(count_lines(out, "FIRING"), 0);
    free(out);
    assert_int_equal(commit_position(&f), -1);
    assert_int_equal(ew_dispatch_pending(f.d), 0);
    teardown(&f, true);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_wait_collects_then_interval),
        cmocka_unit_test(test_repeat_and_severity_change),
        cmocka_unit_test(test_resolved_only_after_a_firing_notification),
        cmocka_unit_test(test_fired_and_resolved_within_group_wait),
        cmocka_unit_test(test_suppressed_and_unwanted_resolved),
        cmocka_unit_test(test_two_instances_share_claims),
        cmocka_unit_test(test_failed_receiver_retries_then_dead_letters),
        cmocka_unit_test(test_store_outage_waits),
        cmocka_unit_test(test_bad_message_is_dead_lettered),
        cmocka_unit_test(test_forgotten_partition_is_not_committed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
