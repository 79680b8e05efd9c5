/* dispatch.c -- from routed alerts to notifications, and which offsets are safe.
 *
 * Three kinds of object:
 *
 *   message   one consumed Kafka message with its decoded alert. `pending`
 *             counts the (route, receiver) destinations still owed; at zero
 *             the message is done. Each partition keeps its messages in
 *             offset order, and the committable position is the first one
 *             not done: an offset is committed only when it and everything
 *             before it was delivered, decided or dead-lettered.
 *   group     (route, receiver, group_by values): the latest event of each
 *             of its alerts, waiting for group_wait / group_interval.
 *   delivery  up to max_batch alerts of one flushed group for one receiver,
 *             with its attempts and next attempt time (capped exponential
 *             backoff), until sent, found duplicate, or dead-lettered.
 *
 * Sending is synchronous (libcurl with the receiver's timeout): notifications
 * are rare next to records, and one thread keeps ordering and commits simple.
 * Messages and alerts are allocated per message: this is not a hot path.
 */
#include "edgewatch/notify.h"

#include "edgewatch/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_RECHECK_MS 1000
#define MAX_DESTINATIONS 32
#define MAX_IDLE_WAIT_MS 1000
#define CLAIM_LEASE_SLACK_MS 10000

typedef struct {
    int32_t partition;
    int64_t offset;
    void *key, *value;
    size_t key_len, len;
    ew_notify_alert alert;
    bool decoded;
    int pending;
} message;

typedef struct {
    int32_t partition;
    message **items;
    size_t head, n, cap;
    int64_t reported; /* last position returned by ew_dispatch_commits */
} partition_queue;

typedef struct {
    char *key;
    const ew_route *route;
    size_t receiver;
    message **entries;
    size_t n, cap;
    int64_t next_flush; /* when the waiting entries are due */
    int64_t last_flush;
    bool flushed;       /* last_flush is meaningful */
} group;

typedef struct {
    char *group_key;
    size_t receiver;
    message **entries;
    size_t n;
    bool repeat;
    bool sent_unmarked;   /* sent, but Valkey did not take the mark yet */
    int attempts;
    int64_t first_attempt, next_attempt;
    char last_error[256];
} delivery;

struct ew_dispatch {
    const ew_notify_config *nc;
    ew_receiver *const *receivers;
    ew_notify_store *store;
    struct ew_alert_codec *codec;
    const char *source_topic;
    ew_dispatch_hooks hooks;
    partition_queue *partitions;
    size_t n_partitions;
    group *groups;
    size_t n_groups, cap_groups;
    delivery *deliveries;
    size_t n_deliveries, cap_deliveries;
    ew_dispatch_counts counts;
    uint64_t *alerts_by_receiver;
};

static void *grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return items;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    *cap = c;
    return realloc(items, c * size);
}

/* ---- messages and partitions ---------------------------------------------------- */

static partition_queue *queue_of(ew_dispatch *d, int32_t partition)
{
    for (size_t i = 0; i < d->n_partitions; i++)
        if (d->partitions[i].partition == partition)
            return &d->partitions[i];
    d->partitions = realloc(d->partitions, (d->n_partitions + 1) * sizeof *d->partitions);
    d->partitions[d->n_partitions] = (partition_queue){.partition = partition, .reported = -1};
    return &d->partitions[d->n_partitions++];
}

static message *message_new(const ew_dispatch_msg *m)
{
    message *msg = calloc(1, sizeof *msg);
    msg->partition = m->partition;
    msg->offset = m->offset;
    msg->key_len = m->key_len;
    msg->len = m->len;
    msg->key = m->key_len ? malloc(m->key_len) : NULL;
    msg->value = malloc(m->len ? m->len : 1);
    if (m->key_len)
        memcpy(msg->key, m->key, m->key_len);
    memcpy(msg->value, m->value, m->len);
    return msg;
}

static void message_free(message *msg)
{
    if (msg->decoded)
        ew_notify_alert_release(&msg->alert);
    free(msg->key);
    free(msg->value);
    free(msg);
}

static ew_dispatch_msg wire_of(const message *msg)
{
    return (ew_dispatch_msg){.partition = msg->partition, .offset = msg->offset, .key = msg->key,
                             .key_len = msg->key_len, .value = msg->value, .len = msg->len};
}

/* One destination of msg is settled. */
static void settle(message *msg) { msg->pending--; }

/* ---- dead letters ------------------------------------------------------------------ */

static bool dead_letter(ew_dispatch *d, const message *msg, const char *reason)
{
    ew_dispatch_msg wire = wire_of(msg);
    if (d->hooks.dry_run) {
        printf("== dry-run: dead letter partition %d offset %lld: %s\n", msg->partition, (long long)msg->offset,
               reason);
        return true;
    }
    if (!d->hooks.dead_letter(d->hooks.ctx, &wire, reason))
        return false;
    d->counts.dead_letters++;
    ew_warn("dead-lettered %s partition %d offset %lld: %s", d->source_topic, msg->partition,
            (long long)msg->offset, reason);
    return true;
}

/* ---- adding: decode, route, group ------------------------------------------------------ */

static void group_key(const ew_route *r, const ew_receiver_config *rc, const ew_notify_alert *a, char *out,
                      size_t cap)
{
    int n = snprintf(out, cap, "%s/%s/{", r->id, rc->name);
    for (size_t i = 0; i < r->n_group_by && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%s%s=\"%s\"", i ? "," : "", r->group_by[i],
                      ew_notify_alert_label(&*a, r->group_by[i]));
    if (n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "}");
}

static group *find_group(ew_dispatch *d, const char *key, const ew_route *r, size_t receiver, int64_t now_ms)
{
    for (size_t i = 0; i < d->n_groups; i++)
        if (strcmp(d->groups[i].key, key) == 0)
            return &d->groups[i];
    d->groups = grow(d->groups, &d->cap_groups, d->n_groups + 1, sizeof *d->groups);
    group *g = &d->groups[d->n_groups++];
    *g = (group){.key = strdup(key), .route = r, .receiver = receiver, .next_flush = now_ms + r->group_wait_ms};
    return g;
}

/* Puts msg in g, replacing an older event of the same alert (which is then
 * settled: the newer event says everything it did). A resolved event does
 * not replace a waiting firing one: an incident that fired and resolved
 * within one group_wait (a backlog after an outage) is still told, firing
 * then resolved, in one notification. */
static void group_put(group *g, message *msg, int64_t now_ms)
{
    for (size_t i = g->n; i-- > 0;)
        if (strcmp(g->entries[i]->alert.alert_id, msg->alert.alert_id) == 0) {
            if (g->entries[i]->alert.firing && !msg->alert.firing)
                break;
            settle(g->entries[i]);
            g->entries[i] = msg;
            return;
        }
    g->entries = grow(g->entries, &g->cap, g->n + 1, sizeof *g->entries);
    g->entries[g->n++] = msg;
    if (g->n == 1 && g->flushed) {
        int64_t after_interval = g->last_flush + g->route->group_interval_ms;
        g->next_flush = after_interval > now_ms ? after_interval : now_ms;
    }
}

/* Whether a route wants this event at all, before any grouping. */
static bool route_wants(const ew_route *r, const ew_notify_alert *a)
{
    if (*a->suppressed_by && !r->send_suppressed)
        return false;
    return a->firing || r->send_resolved;
}

static void route_message(ew_dispatch *d, message *msg, int64_t now_ms)
{
    const ew_route *routes[MAX_DESTINATIONS];
    size_t n = ew_route_find(&d->nc->root, &msg->alert, routes, MAX_DESTINATIONS);
    for (size_t i = 0; i < n; i++) {
        if (!route_wants(routes[i], &msg->alert)) {
            d->counts.not_notified++;
            continue;
        }
        for (size_t j = 0; j < routes[i]->n_receivers; j++) {
            size_t rx = routes[i]->receivers[j];
            char key[1024];
            group_key(routes[i], &d->nc->receivers[rx], &msg->alert, key, sizeof key);
            msg->pending++;
            group_put(find_group(d, key, routes[i], rx, now_ms), msg, now_ms);
        }
    }
}

void ew_dispatch_add(ew_dispatch *d, const ew_dispatch_msg *m, int64_t now_ms)
{
    partition_queue *q = queue_of(d, m->partition);
    message *msg = message_new(m);
    q->items = grow(q->items, &q->cap, q->n + 1, sizeof *q->items);
    q->items[q->n++] = msg;
    d->counts.read++;
    char err[256];
    msg->decoded = ew_notify_alert_decode(&msg->alert, m->value, m->len, d->codec, err, sizeof err);
    if (!msg->decoded) {
        d->counts.bad++;
        /* A message that cannot be dead-lettered stays pending, which holds
         * the commit back: losing it silently would be worse. */
        msg->pending = dead_letter(d, msg, err) ? 0 : 1;
        return;
    }
    route_message(d, msg, now_ms);
}

/* ---- flushing a group into deliveries ------------------------------------------------- */

static bool severity_changed(const ew_alert_note *note, const ew_notify_alert *a)
{
    return strcmp(note->severity, a->severity) != 0;
}

/* The decision table of docs/notify.md, "What is notified, and when". */
static bool should_notify(const ew_route *r, const ew_alert_note *note, const ew_notify_alert *a, int64_t now_ms)
{
    if (!a->firing)
        return note->known && note->firing;
    if (!note->known || !note->firing || severity_changed(note, a))
        return true;
    return now_ms - note->sent_at >= r->repeat_interval_ms;
}

/* Whether this flush already sends a firing event of a's alert: its
 * resolution then goes with it, whatever the stored note says. */
static bool fired_in(message *const *send, size_t n, const ew_notify_alert *a)
{
    if (a->firing)
        return false;
    for (size_t i = 0; i < n; i++)
        if (send[i]->alert.firing && strcmp(send[i]->alert.alert_id, a->alert_id) == 0)
            return true;
    return false;
}

static void add_delivery(ew_dispatch *d, const group *g, message **entries, size_t n, bool repeat, int64_t now_ms)
{
    d->deliveries = grow(d->deliveries, &d->cap_deliveries, d->n_deliveries + 1, sizeof *d->deliveries);
    delivery *dl = &d->deliveries[d->n_deliveries++];
    *dl = (delivery){.group_key = strdup(g->key), .receiver = g->receiver, .n = n, .repeat = repeat,
                     .first_attempt = now_ms, .next_attempt = now_ms};
    dl->entries = malloc(n * sizeof *dl->entries);
    memcpy(dl->entries, entries, n * sizeof *entries);
}

/* Splits the alerts to notify into deliveries of at most max_batch. */
static void plan_deliveries(ew_dispatch *d, const group *g, message **send, size_t n, bool repeat, int64_t now_ms)
{
    size_t batch = ew_receiver_config_of(d->receivers[g->receiver])->max_batch;
    for (size_t i = 0; i < n; i += batch)
        add_delivery(d, g, send + i, n - i < batch ? n - i : batch, repeat, now_ms);
}

static void flush_group(ew_dispatch *d, group *g, int64_t now_ms)
{
    const char *receiver = d->nc->receivers[g->receiver].name;
    const ew_notify_alert **alerts = malloc(g->n * sizeof *alerts);
    ew_alert_note *notes = calloc(g->n, sizeof *notes);
    for (size_t i = 0; i < g->n; i++)
        alerts[i] = &g->entries[i]->alert;
    if (!ew_notify_store_notes(d->store, receiver, alerts, g->n, notes, now_ms)) {
        ew_warn("notify: %s: %s; group %s waits", receiver, ew_notify_store_error(d->store), g->key);
        g->next_flush = now_ms + d->nc->retry_initial_ms;
        free(alerts);
        free(notes);
        return;
    }
    message **send = malloc(g->n * sizeof *send);
    size_t n_send = 0;
    bool all_repeats = true;
    for (size_t i = 0; i < g->n; i++) {
        message *msg = g->entries[i];
        if (!should_notify(g->route, &notes[i], &msg->alert, now_ms) && !fired_in(send, n_send, &msg->alert)) {
            d->counts.not_notified++;
            settle(msg);
            continue;
        }
        all_repeats = all_repeats && msg->alert.firing && notes[i].known && notes[i].firing &&
                      !severity_changed(&notes[i], &msg->alert);
        send[n_send++] = msg;
    }
    if (n_send)
        plan_deliveries(d, g, send, n_send, all_repeats, now_ms);
    g->n = 0;
    g->last_flush = now_ms;
    g->flushed = true;
    free(send);
    free(alerts);
    free(notes);
}

/* ---- running a delivery ------------------------------------------------------------------ */

static int64_t backoff_ms(const ew_notify_config *nc, int attempts)
{
    int64_t wait = nc->retry_initial_ms;
    for (int i = 1; i < attempts && wait < nc->retry_max_ms; i++)
        wait *= 2;
    return wait < nc->retry_max_ms ? wait : nc->retry_max_ms;
}

/* Removes entries [i] for which keep[i] is false, settling them. */
static void drop_entries(delivery *dl, const bool *keep)
{
    size_t w = 0;
    for (size_t i = 0; i < dl->n; i++)
        if (keep[i])
            dl->entries[w++] = dl->entries[i];
        else
            settle(dl->entries[i]);
    dl->n = w;
}

/* The same for every attempt of one notification: the receiver and the
 * event ids it carries, chained through ew_hash64's seed. */
static uint64_t idempotency_hash(const delivery *dl, const char *receiver)
{
    uint64_t h = ew_hash64(receiver, strlen(receiver), EW_HASH_SEED);
    for (size_t i = 0; i < dl->n; i++)
        h = ew_hash64(dl->entries[i]->alert.event_id, strlen(dl->entries[i]->alert.event_id), h);
    return h;
}

static ew_send_result send_now(ew_dispatch *d, delivery *dl, const ew_notify_alert **alerts, size_t n, char *err,
                               size_t errcap)
{
    ew_receiver *r = d->receivers[dl->receiver];
    const ew_receiver_config *rc = &d->nc->receivers[dl->receiver];
    ew_notification note = {.alerts = alerts, .n = n, .group_key = dl->group_key, .repeat = dl->repeat};
    char *body = ew_receiver_render(r, &note);
    if (!body) {
        snprintf(err, errcap, "could not render the notification");
        return EW_SEND_PERMANENT;
    }
    ew_send_result res = EW_SEND_OK;
    if (d->hooks.dry_run) {
        printf("== dry-run: %s (%s) group %s: %zu alert%s%s\n%s%s", rc->name,
               rc->type == EW_RECEIVER_SLACK ? "slack" : rc->type == EW_RECEIVER_WEBHOOK ? "webhook" : "stdout",
               dl->group_key, n, n == 1 ? "" : "s", dl->repeat ? " (repeat)" : "", body,
               body[0] && body[strlen(body) - 1] == '\n' ? "" : "\n");
        fflush(stdout);
    } else {
        char key[40];
        snprintf(key, sizeof key, "ew-%016llx", (unsigned long long)idempotency_hash(dl, rc->name));
        res = ew_receiver_post(r, body, key, err, errcap);
    }
    free(body);
    return res;
}

/* Dead-letters every entry; false if the dead-letter topic is unreachable
 * (the delivery then waits and tries again). */
static bool dead_letter_delivery(ew_dispatch *d, delivery *dl, const char *why, int64_t now_ms)
{
    const ew_receiver_config *rc = &d->nc->receivers[dl->receiver];
    char reason[400];
    snprintf(reason, sizeof reason, "notify: receiver %s: %s after %d attempt%s", rc->name, why, dl->attempts,
             dl->attempts == 1 ? "" : "s");
    bool *keep = calloc(dl->n ? dl->n : 1, sizeof *keep);
    const ew_notify_alert **alerts = malloc((dl->n ? dl->n : 1) * sizeof *alerts);
    size_t n_dead = 0;
    for (size_t i = 0; i < dl->n; i++) {
        keep[i] = !dead_letter(d, dl->entries[i], reason);
        if (!keep[i])
            alerts[n_dead++] = &dl->entries[i]->alert;
    }
    /* A missing "dead" mark only means another instance may try later. */
    if (n_dead && !d->hooks.dry_run)
        ew_notify_store_finish(d->store, rc->name, alerts, n_dead, false, now_ms);
    drop_entries(dl, keep);
    free(keep);
    free(alerts);
    return dl->n == 0;
}

static void failed_attempt(ew_dispatch *d, delivery *dl, ew_send_result res, const char *err, int64_t now_ms)
{
    const ew_receiver_config *rc = &d->nc->receivers[dl->receiver];
    dl->attempts++;
    d->counts.retries++;
    snprintf(dl->last_error, sizeof dl->last_error, "%s", err);
    if (res == EW_SEND_PERMANENT || now_ms - dl->first_attempt >= d->nc->dead_letter_after_ms) {
        if (!dead_letter_delivery(d, dl, err, now_ms))
            dl->next_attempt = now_ms + backoff_ms(d->nc, dl->attempts);
        return;
    }
    /* A server's Retry-After is honoured, but never beyond retry.max: a
     * bad header must not park notifications for hours. */
    int64_t wait = backoff_ms(d->nc, dl->attempts);
    int64_t asked = ew_receiver_retry_after_ms(d->receivers[dl->receiver]);
    if (asked > wait)
        wait = asked < d->nc->retry_max_ms ? asked : d->nc->retry_max_ms;
    dl->next_attempt = now_ms + wait;
    ew_warn("notify: %s: %s (attempt %d, next in %lld ms) group %s", rc->name, err, dl->attempts,
            (long long)(dl->next_attempt - now_ms), dl->group_key);
}

/* Marks a sent delivery; true when the marks are in (entries settled). */
static bool mark_sent(ew_dispatch *d, delivery *dl, int64_t now_ms)
{
    const ew_receiver_config *rc = &d->nc->receivers[dl->receiver];
    const ew_notify_alert **alerts = malloc((dl->n ? dl->n : 1) * sizeof *alerts);
    for (size_t i = 0; i < dl->n; i++)
        alerts[i] = &dl->entries[i]->alert;
    bool ok = ew_notify_store_finish(d->store, rc->name, alerts, dl->n, true, now_ms);
    free(alerts);
    if (!ok) {
        ew_warn("notify: %s: sent, but %s; marking again later", rc->name, ew_notify_store_error(d->store));
        dl->sent_unmarked = true;
        dl->next_attempt = now_ms + backoff_ms(d->nc, 1);
        return false;
    }
    bool *keep = calloc(dl->n ? dl->n : 1, sizeof *keep);
    drop_entries(dl, keep);
    free(keep);
    return true;
}

/* Claims the entries; settles duplicates; returns the claimed ones in
 * alerts/taken_idx order. -1 when the store is unreachable. */
static long claim_entries(ew_dispatch *d, delivery *dl, const ew_notify_alert **alerts, bool *taken, int64_t now_ms)
{
    const ew_receiver_config *rc = ew_receiver_config_of(d->receivers[dl->receiver]);
    ew_claim *claims = malloc((dl->n ? dl->n : 1) * sizeof *claims);
    for (size_t i = 0; i < dl->n; i++)
        alerts[i] = &dl->entries[i]->alert;
    int64_t lease = rc->timeout_ms + CLAIM_LEASE_SLACK_MS;
    if (!ew_notify_store_claim(d->store, rc->name, alerts, dl->n, lease, claims, now_ms)) {
        free(claims);
        return -1;
    }
    bool *keep = malloc((dl->n ? dl->n : 1) * sizeof *keep);
    for (size_t i = 0; i < dl->n; i++) {
        keep[i] = claims[i] != EW_CLAIM_DONE;
        d->counts.duplicates += claims[i] == EW_CLAIM_DONE;
    }
    /* Compact claims alongside the entries before dropping duplicates. */
    size_t w = 0;
    for (size_t i = 0; i < dl->n; i++)
        if (keep[i])
            claims[w++] = claims[i];
    drop_entries(dl, keep);
    long n_taken = 0;
    for (size_t i = 0; i < dl->n; i++) {
        taken[i] = claims[i] == EW_CLAIM_TAKEN;
        if (taken[i])
            alerts[n_taken++] = &dl->entries[i]->alert;
    }
    free(claims);
    free(keep);
    return n_taken;
}

/* Moves the entries another instance holds into a delivery of their own, so
 * that dl holds exactly what this attempt sends. May move d->deliveries:
 * callers re-fetch by index. */
static void split_busy(ew_dispatch *d, size_t idx, const bool *taken, int64_t now_ms)
{
    delivery *dl = &d->deliveries[idx];
    size_t n_busy = 0;
    for (size_t i = 0; i < dl->n; i++)
        n_busy += !taken[i];
    if (n_busy == 0)
        return;
    message **busy = malloc(n_busy * sizeof *busy);
    size_t w = 0, b = 0;
    for (size_t i = 0; i < dl->n; i++)
        if (taken[i])
            dl->entries[w++] = dl->entries[i];
        else
            busy[b++] = dl->entries[i];
    dl->n = w;
    d->deliveries = grow(d->deliveries, &d->cap_deliveries, d->n_deliveries + 1, sizeof *d->deliveries);
    dl = &d->deliveries[idx];
    delivery *rest = &d->deliveries[d->n_deliveries++];
    *rest = (delivery){.group_key = strdup(dl->group_key), .receiver = dl->receiver, .entries = busy, .n = n_busy,
                       .repeat = dl->repeat, .first_attempt = dl->first_attempt,
                       .next_attempt = now_ms + BUSY_RECHECK_MS};
}

static void attempt(ew_dispatch *d, size_t idx, int64_t now_ms)
{
    delivery *dl = &d->deliveries[idx];
    const ew_receiver_config *rc = &d->nc->receivers[dl->receiver];
    if (dl->sent_unmarked) {
        if (mark_sent(d, dl, now_ms))
            dl->sent_unmarked = false;
        return;
    }
    const ew_notify_alert **alerts = malloc((dl->n ? dl->n : 1) * sizeof *alerts);
    bool *taken = calloc(dl->n ? dl->n : 1, sizeof *taken);
    long n_taken = claim_entries(d, dl, alerts, taken, now_ms);
    if (n_taken < 0) {
        ew_warn("notify: %s: %s; delivery of group %s waits", rc->name, ew_notify_store_error(d->store),
                dl->group_key);
        dl->next_attempt = now_ms + backoff_ms(d->nc, dl->attempts + 1);
    } else if (n_taken == 0) {
        dl->next_attempt = now_ms + BUSY_RECHECK_MS; /* another instance holds them */
    } else {
        split_busy(d, idx, taken, now_ms);
        dl = &d->deliveries[idx];
        char err[256] = "";
        ew_send_result res = send_now(d, dl, alerts, dl->n, err, sizeof err);
        /* A send can take up to the receiver's timeout: backoff and
         * sent_at count from when it ended, not from when the pass began. */
        if (d->hooks.clock)
            now_ms = d->hooks.clock(d->hooks.ctx);
        if (res == EW_SEND_OK) {
            d->counts.notifications++;
            d->counts.alerts_sent += dl->n;
            d->alerts_by_receiver[dl->receiver] += dl->n;
            if (!d->hooks.dry_run)
                ew_info("notify: sent %zu alert%s to %s group %s", dl->n, dl->n == 1 ? "" : "s", rc->name,
                        dl->group_key);
            mark_sent(d, dl, now_ms);
        } else {
            if (!d->hooks.dry_run)
                ew_notify_store_release(d->store, rc->name, alerts, dl->n, now_ms);
            failed_attempt(d, dl, res, err, now_ms);
        }
    }
    free(alerts);
    free(taken);
}

static void remove_delivery(ew_dispatch *d, size_t i)
{
    free(d->deliveries[i].group_key);
    free(d->deliveries[i].entries);
    d->deliveries[i] = d->deliveries[--d->n_deliveries];
}

/* ---- the loop's entry points ------------------------------------------------------------- */

static void run_deliveries(ew_dispatch *d, int64_t now_ms)
{
    for (size_t i = 0; i < d->n_deliveries;) {
        if (d->deliveries[i].next_attempt <= now_ms)
            attempt(d, i, now_ms);
        if (d->deliveries[i].n == 0)
            remove_delivery(d, i);
        else
            i++;
    }
}

/* Groups with nothing waiting are forgotten once group_interval has passed:
 * a later alert then starts a new group with group_wait, as a first one. */
static void flush_groups(ew_dispatch *d, int64_t now_ms, bool all)
{
    for (size_t i = 0; i < d->n_groups;) {
        group *g = &d->groups[i];
        if (g->n && (all || g->next_flush <= now_ms))
            flush_group(d, g, now_ms);
        if (g->n == 0 && (!g->flushed || now_ms - g->last_flush >= g->route->group_interval_ms)) {
            free(g->key);
            free(g->entries);
            d->groups[i] = d->groups[--d->n_groups];
        } else
            i++;
    }
}

static int64_t next_due(const ew_dispatch *d, int64_t now_ms)
{
    int64_t due = now_ms + MAX_IDLE_WAIT_MS;
    for (size_t i = 0; i < d->n_groups; i++)
        if (d->groups[i].n && d->groups[i].next_flush < due)
            due = d->groups[i].next_flush;
    for (size_t i = 0; i < d->n_deliveries; i++)
        if (d->deliveries[i].next_attempt < due)
            due = d->deliveries[i].next_attempt;
    return due > now_ms ? due - now_ms : 0;
}

int64_t ew_dispatch_run(ew_dispatch *d, int64_t now_ms)
{
    flush_groups(d, now_ms, false);
    run_deliveries(d, now_ms);
    return next_due(d, now_ms);
}

void ew_dispatch_flush_all(ew_dispatch *d, int64_t now_ms)
{
    flush_groups(d, now_ms, true);
    run_deliveries(d, now_ms);
}

size_t ew_dispatch_commits(ew_dispatch *d, int32_t *partitions, int64_t *offsets, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_partitions && n < cap; i++) {
        partition_queue *q = &d->partitions[i];
        int64_t position = -1;
        while (q->head < q->n && q->items[q->head]->pending <= 0) {
            position = q->items[q->head]->offset + 1;
            message_free(q->items[q->head++]);
        }
        if (q->head == q->n)
            q->head = q->n = 0;
        if (position < 0 || position == q->reported)
            continue;
        q->reported = position;
        partitions[n] = q->partition;
        offsets[n++] = position;
    }
    return n;
}

static bool in_partition(const message *m, int32_t partition) { return m->partition == partition; }

/* Removes a partition's entries from a list without settling them: their
 * messages are about to be freed with the partition. */
static size_t without_partition(message **entries, size_t n, int32_t partition)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!in_partition(entries[i], partition))
            entries[w++] = entries[i];
    return w;
}

void ew_dispatch_forget_partition(ew_dispatch *d, int32_t partition)
{
    for (size_t i = 0; i < d->n_groups; i++)
        d->groups[i].n = without_partition(d->groups[i].entries, d->groups[i].n, partition);
    for (size_t i = 0; i < d->n_deliveries;) {
        delivery *dl = &d->deliveries[i];
        dl->n = without_partition(dl->entries, dl->n, partition);
        if (dl->n == 0)
            remove_delivery(d, i);
        else
            i++;
    }
    for (size_t i = 0; i < d->n_partitions; i++) {
        partition_queue *q = &d->partitions[i];
        if (q->partition != partition)
            continue;
        for (size_t j = q->head; j < q->n; j++)
            message_free(q->items[j]);
        free(q->items);
        d->partitions[i] = d->partitions[--d->n_partitions];
        return;
    }
}

size_t ew_dispatch_pending(const ew_dispatch *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_partitions; i++)
        for (size_t j = d->partitions[i].head; j < d->partitions[i].n; j++)
            n += d->partitions[i].items[j]->pending > 0;
    return n;
}

ew_dispatch_counts ew_dispatch_counters(const ew_dispatch *d) { return d->counts; }

uint64_t ew_dispatch_alerts_sent_to(const ew_dispatch *d, size_t receiver)
{
    return receiver < d->nc->n_receivers ? d->alerts_by_receiver[receiver] : 0;
}

ew_dispatch *ew_dispatch_new(const ew_notify_config *nc, ew_receiver *const *receivers, ew_notify_store *store,
                             struct ew_alert_codec *codec, const char *source_topic, ew_dispatch_hooks hooks)
{
    ew_dispatch *d = calloc(1, sizeof *d);
    *d = (ew_dispatch){.nc = nc, .receivers = receivers, .store = store, .codec = codec,
                       .source_topic = source_topic, .hooks = hooks,
                       .alerts_by_receiver = calloc(nc->n_receivers + 1, sizeof *d->alerts_by_receiver)};
    return d;
}

void ew_dispatch_free(ew_dispatch *d)
{
    if (!d)
        return;
    while (d->n_partitions)
        ew_dispatch_forget_partition(d, d->partitions[0].partition);
    for (size_t i = 0; i < d->n_groups; i++) {
        free(d->groups[i].key);
        free(d->groups[i].entries);
    }
    while (d->n_deliveries)
        remove_delivery(d, 0);
    free(d->groups);
    free(d->deliveries);
    free(d->partitions);
    free(d->alerts_by_receiver);
    free(d);
}
