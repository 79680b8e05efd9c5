/* notify.h -- edgewatch-notify: from an alert event on Kafka to the team.
 *
 * The notifier runs consume -> decode (alert event) -> route (route tree)
 * -> group and decide (dispatch) -> render and send (receivers) -> commit.
 * Each stage is one module of notify/:
 *
 *   notify_config.c  the "notify" object of the config: receivers, route tree
 *   alert_event.c    a Kafka message (JSON or Avro) to an ew_notify_alert
 *   route.c          which leaf routes (and so receivers) an alert goes to
 *   dispatch.c       groups, group_wait/interval, repeat, resolved, retries,
 *                    dead letters, and which offsets may be committed
 *   notify_store.c   dedup claims and per-alert notification state (Valkey,
 *                    or memory for --dry-run)
 *   receiver.c       Slack, generic webhook and stdout: bodies and HTTP
 *   render.c         the one-line text of an alert
 *
 * Time is always passed in (now_ms), never read inside the modules, so the
 * dispatcher runs on the wall clock live and on message timestamps in
 * --dry-run, and unit tests drive it step by step.
 */
#ifndef EDGEWATCH_NOTIFY_H
#define EDGEWATCH_NOTIFY_H

#include "edgewatch/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- render.c: one alert as one line ---------------------------------------- */

/* Output capacity that always suffices for an alert of json_len bytes: every
 * rendered string is a decoded JSON string, which is never longer than its
 * source text, and numbers and fixed text stay well under the slack. Sizing
 * the buffer this way means no alert is ever dropped for being long. */
#define EW_RENDER_CAP(json_len) ((json_len) + 1024)

/* Renders one alert event (JSON, contract of architecture.md section 3) as a
 * single human-readable line without a trailing newline:
 *
 *   FIRING critical request_spike distribution E2ABC (checkout-web, owner
 *   team-checkout) window 2026-11-01T12:40:00Z..12:41:00Z observed 2410 vs
 *   expected 301.5 (z=38.2) -> slack:#checkout-oncall [alert ew-1a2b]
 *
 * (shown wrapped; the output is one line). Required: alert_id, rule,
 * entity_id (non-empty strings) and status ("firing" or "resolved").
 * Optional fields that are missing, null, empty or of the wrong type render
 * as "-": a readable alert with a gap beats a dropped one. Control characters
 * in strings become spaces so one alert is always exactly one line.
 *
 * Returns the number of bytes written to out (NUL-terminated), or -1 with a
 * one-line reason in err (if err is non-NULL) when the JSON is invalid, a
 * required field is missing, or the line does not fit in cap bytes; on -1
 * out holds an empty string (when cap > 0) and nothing past cap is written. */
int ew_render_alert_line(const char *json, size_t len, char *out, size_t cap, char *err, size_t errcap);
/* A number as the line shows it: integral values without decimals, up to
 * two decimals from 1 up, three significant digits below 1, "%.6g" from
 * 1e15 or when not finite. 64 bytes always suffice; returns buf. */
char *ew_render_number(double value, char *buf, size_t cap);

/* ---- alert_event.c: the decoded alert event ---------------------------------- */

/* One alert event as the notifier sees it. The string members point into
 * `event` (or at "" when the field is absent or null) and live as long as it;
 * `text` is the event as compact JSON, whatever the wire format was. */
typedef struct {
    json_t *event;
    char *text;
    const char *alert_id, *event_id, *status, *severity, *rule;
    const char *entity_type, *entity_id, *project, *owner, *route, *suppressed_by;
    int64_t window_start, window_end;
    bool firing; /* status == "firing" */
} ew_notify_alert;

struct ew_alert_codec;
/* Decodes a message value: JSON (first non-blank byte '{'), or Avro of
 * schemas/alert_event.avsc, Confluent-framed (magic byte 0) or bare, through
 * codec (may be NULL: then only JSON is accepted). Requires alert_id,
 * event_id, status (firing|resolved), rule and entity_id. false with a
 * one-line reason (the dead-letter reason) otherwise. */
bool ew_notify_alert_decode(ew_notify_alert *a, const void *value, size_t len, struct ew_alert_codec *codec,
                            char *err, size_t errcap);
void ew_notify_alert_release(ew_notify_alert *a);
/* A routing/grouping label by name: rule, project, owner, severity, status,
 * entity_type, entity_id, route, alert_id. NULL for an unknown name. */
const char *ew_notify_alert_label(const ew_notify_alert *a, const char *name);
bool ew_notify_label_known(const char *name);

/* ---- notify_config.c: receivers and the route tree ---------------------------- */

typedef enum { EW_RECEIVER_STDOUT, EW_RECEIVER_SLACK, EW_RECEIVER_WEBHOOK } ew_receiver_type;

typedef struct {
    char *name;
    ew_receiver_type type;
    char *url;               /* slack, webhook */
    int64_t timeout_ms;      /* whole request; 0: 5 s */
    int64_t connect_timeout_ms; /* 0: 2 s */
    size_t max_batch;        /* alerts per request; 0: slack 20, webhook batch 100 / unbatched 1, stdout unlimited */
    bool batch;              /* webhook: one request with many alerts */
    char **headers;          /* "Name: value", extra HTTP headers */
    size_t n_headers;
    char *link_template;     /* {field} placeholders, URL-encoded on substitution; NULL: none */
    char *channel;           /* slack: optional channel override */
} ew_receiver_config;

#define EW_MATCH_LABELS 9

/* One label condition: the label's value must match one of the globs
 * (fnmatch). An absent label has the value "". */
typedef struct {
    char *label;
    char **globs;
    size_t n_globs;
} ew_route_match;

typedef struct ew_route {
    char *id;                /* "root", "root.0", "root.0.1": position in the tree */
    ew_route_match *match;
    size_t n_match;
    size_t *receivers;       /* indexes into ew_notify_config.receivers */
    size_t n_receivers;
    char **group_by;         /* label names; empty: one group per route and receiver */
    size_t n_group_by;
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    bool send_resolved, send_suppressed;
    bool continue_matching;
    struct ew_route *children;
    size_t n_children;
} ew_route;

typedef struct {
    char *group_id;
    char *dead_letter_topic;  /* default: topics.dlq */
    char *instance;           /* claim owner; default "<hostname>:<pid>" */
    int64_t dedup_ttl_ms;
    int64_t retry_initial_ms, retry_max_ms, dead_letter_after_ms;
    char *link_template;      /* default for receivers without their own */
    ew_receiver_config *receivers;
    size_t n_receivers;
    ew_route root;
} ew_notify_config;

/* Parses cfg->notify_json (NULL: defaults, one stdout receiver). Every
 * problem is added to errs as one line naming the setting; returns the
 * number of problems (0 = usable). */
size_t ew_notify_config_load(ew_notify_config *nc, const ew_config *cfg, ew_config_errors *errs);
void ew_notify_config_free(ew_notify_config *nc);

/* ---- route.c ------------------------------------------------------------------ */

/* The leaf routes an alert takes, Alertmanager-style: depth first, the first
 * matching child wins unless it has continue; a matching route whose
 * children all miss is itself the result. Writes at most cap routes. */
size_t ew_route_find(const ew_route *root, const ew_notify_alert *a, const ew_route **out, size_t cap);

/* ---- notify_store.c: dedup claims and what each receiver was told ------------- */

typedef enum {
    EW_CLAIM_TAKEN, /* this instance may send the event now */
    EW_CLAIM_DONE,  /* sent or dead-lettered before: a duplicate, drop it */
    EW_CLAIM_BUSY,  /* another instance is sending it: wait */
} ew_claim;

/* The last notification of one alert to one receiver. */
typedef struct {
    bool known;
    bool firing;
    char severity[16];
    int64_t sent_at;
} ew_alert_note;

typedef struct ew_notify_store ew_notify_store;

/* Keys go under cfg->prefix (nt:ev:..., nt:al:..., state/README.md). The
 * connection is made lazily and re-made after an error, so an outage makes
 * calls fail (false) until Valkey answers again. */
ew_notify_store *ew_notify_store_valkey(const ew_config *cfg, const char *instance, int64_t ttl_ms);
/* Same semantics in process memory: --dry-run and unit tests. */
ew_notify_store *ew_notify_store_memory(const char *instance, int64_t ttl_ms);
void ew_notify_store_free(ew_notify_store *s);
/* The last error, one line ("valkey 127.0.0.1:6379: Connection refused"). */
const char *ew_notify_store_error(const ew_notify_store *s);
/* Each call is one pipelined round trip over n alerts; false when the store
 * is unreachable (nothing is then known to have happened). */
bool ew_notify_store_notes(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                           ew_alert_note *out, int64_t now_ms);
bool ew_notify_store_claim(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                           int64_t lease_ms, ew_claim *out, int64_t now_ms);
/* Gives back this instance's claims (a failed attempt), leaving others'. */
bool ew_notify_store_release(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts,
                             size_t n, int64_t now_ms);
/* Marks the events sent (and notes each alert's status, severity and now)
 * or dead-lettered, for the store's TTL. */
bool ew_notify_store_finish(ew_notify_store *s, const char *receiver, const ew_notify_alert *const *alerts, size_t n,
                            bool sent, int64_t now_ms);

/* ---- receiver.c --------------------------------------------------------------- */

typedef enum { EW_SEND_OK, EW_SEND_RETRY, EW_SEND_PERMANENT } ew_send_result;
typedef struct ew_receiver ew_receiver;

/* One notification: up to max_batch alerts of one group for one receiver. */
typedef struct {
    const ew_notify_alert *const *alerts;
    size_t n;
    const char *group_key;  /* e.g. "root.1/checkout-slack/project=checkout,rule=request_spike" */
    bool repeat;            /* every alert is a repeat of one already notified */
} ew_notification;

/* HTTP is libcurl: main calls curl_global_init(CURL_GLOBAL_DEFAULT) once,
 * before the first ew_receiver_new (curl_global_init is not thread-safe). */
/* Copies rc (rc may be freed afterwards) with defaults applied, which
 * ew_receiver_config_of shows: timeouts <= 0 become 5000 / 2000 ms;
 * max_batch 0 becomes 20 (slack), 100 (batched webhook) or SIZE_MAX
 * (stdout); an unbatched webhook always has 1 and slack at most
 * EW_SLACK_MAX_ALERTS; link_template NULL becomes default_link_template
 * (either may be NULL: no link). HTTP receivers keep one curl handle, so
 * connections are reused; a receiver is used by one thread at a time.
 * NULL when out of memory, curl cannot be set up, or slack/webhook has no
 * url. */
ew_receiver *ew_receiver_new(const ew_receiver_config *rc, const char *default_link_template);
void ew_receiver_free(ew_receiver *r);
const ew_receiver_config *ew_receiver_config_of(const ew_receiver *r);
/* Alerts one Slack message shows, each in its own section: Slack allows 50
 * blocks, and a message takes a header, a section and a divider per alert,
 * and a closing note ("...and 3 more alerts") when the dispatcher sent more. */
#define EW_SLACK_MAX_ALERTS 24
/* The exact body the receiver would send (malloc'd, NUL-terminated):
 *   slack   {"text": ..., "blocks": [...]} (and "channel" when configured):
 *           a header block for the notification, then one section per
 *           alert (status, severity, rule, entity, summary, link, project,
 *           owner, observed vs expected, z, window, top contributors);
 *           "text" (the push/fallback text) is the header line and one
 *           ew_render_alert_line per alert
 *   webhook the alert event itself (n == 1, unbatched: a->text), or
 *           {"version":"1","receiver","group_key","alerts":[events...]}
 *           batched, each event byte for byte as a->text
 *   stdout  one ew_render_alert_line per alert, each ending in '\n'
 * NULL when out of memory, when n is 0 or an unbatched webhook gets n != 1. */
char *ew_receiver_render(const ew_receiver *r, const ew_notification *n);
/* Longest idempotency key ew_receiver_post accepts (printable ASCII). */
#define EW_IDEMPOTENCY_KEY_MAX 255
/* Sends a rendered body: HTTP POST (Content-Type: application/json, the
 * configured headers, Idempotency-Key: idempotency_key when non-NULL;
 * redirects are not followed) or a write + fflush to stdout. OK on 2xx;
 * RETRY on network errors, timeouts, 408, 429 and 5xx, and on a failed
 * stdout write; PERMANENT on other statuses (a bad URL or payload will not
 * heal) and on a key that is empty, too long or not printable ASCII. err gets one
 * line ("HTTP 500", "HTTP 400: invalid_payload" with up to 100 bytes of the
 * response body, "Couldn't connect to server (...)", ...); "" on OK. */
ew_send_result ew_receiver_post(ew_receiver *r, const char *body, const char *idempotency_key, char *err,
                                size_t errcap);
/* The Retry-After of the last answer to ew_receiver_post, in ms; 0 when it
 * had none. The dispatcher waits at least this long (up to retry.max). */
int64_t ew_receiver_retry_after_ms(const ew_receiver *r);
/* Substitutes {field} placeholders of tmpl from the alert's event: strings
 * as they are, integers as integers (window_start: epoch ms), reals as the
 * shortest decimal that reads back the same, booleans as true/false;
 * unknown, null, object and array fields as "". Each value is URL-encoded
 * (everything but RFC 3986 unreserved characters becomes %XX); the
 * template's own text is copied as is. A field name is [A-Za-z0-9_]+: other
 * braces are literal text, and "{{" is a literal "{". Like snprintf: writes
 * at most cap bytes, NUL-terminated when cap > 0, and returns the length
 * it needed (the output is complete only when that is < cap). */
size_t ew_notify_link(const ew_notify_alert *a, const char *tmpl, char *out, size_t cap);

/* ---- dispatch.c: groups, decisions, deliveries, commits ------------------------- */

typedef struct ew_dispatch ew_dispatch;

/* One consumed message. The dispatcher copies what it keeps. */
typedef struct {
    int32_t partition;
    int64_t offset;
    const void *key;
    size_t key_len;
    const void *value;
    size_t len;
} ew_dispatch_msg;

typedef struct {
    void *ctx;
    /* Writes one message to the dead-letter topic with the processor's
     * headers; true only once it is durable (the producer was flushed). */
    bool (*dead_letter)(void *ctx, const ew_dispatch_msg *m, const char *reason);
    /* --dry-run: print each notification instead of sending it. */
    bool dry_run;
    /* The time after a send (live: the wall clock), since a send takes up to
     * the receiver's timeout. NULL: time stands still during a send. */
    int64_t (*clock)(void *ctx);
} ew_dispatch_hooks;

typedef struct {
    uint64_t read, bad;              /* messages, and those that were not alert events */
    uint64_t notifications, alerts_sent;
    uint64_t duplicates;             /* already sent or dead-lettered (claims) */
    uint64_t not_notified;           /* decided: suppressed, repeat not due, resolved not wanted */
    uint64_t retries, dead_letters;  /* failed attempts; alert events dead-lettered */
} ew_dispatch_counts;

/* receivers[i] serves nc->receivers[i]; source_topic names the alert topic
 * in dead-letter headers. Nothing is owned but the dispatcher itself. */
ew_dispatch *ew_dispatch_new(const ew_notify_config *nc, ew_receiver *const *receivers, ew_notify_store *store,
                             struct ew_alert_codec *codec, const char *source_topic, ew_dispatch_hooks hooks);
void ew_dispatch_free(ew_dispatch *d);
/* Decodes, routes and groups one message. One that is not an alert event
 * is dead-lettered with the decoder's reason. */
void ew_dispatch_add(ew_dispatch *d, const ew_dispatch_msg *m, int64_t now_ms);
/* Flushes the groups and runs the deliveries that are due. Returns how long
 * until something is due next (ms, at most 1000). */
int64_t ew_dispatch_run(ew_dispatch *d, int64_t now_ms);
/* Flushes every group now, whatever its wait (the end of --dry-run). */
void ew_dispatch_flush_all(ew_dispatch *d, int64_t now_ms);
/* For each partition whose committable position moved since the last call:
 * the offset to commit (the first not-done message, or last done + 1). */
size_t ew_dispatch_commits(ew_dispatch *d, int32_t *partitions, int64_t *offsets, size_t cap);
/* Drops a revoked partition's pending messages: the next owner re-reads
 * them from the committed offset. */
void ew_dispatch_forget_partition(ew_dispatch *d, int32_t partition);
/* Messages read but not yet done. */
size_t ew_dispatch_pending(const ew_dispatch *d);
ew_dispatch_counts ew_dispatch_counters(const ew_dispatch *d);
/* Alerts delivered to receiver i (index into ew_notify_config.receivers). */
uint64_t ew_dispatch_alerts_sent_to(const ew_dispatch *d, size_t receiver);

#endif
