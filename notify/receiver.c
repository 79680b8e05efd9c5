/* receiver.c -- the notifier's receivers: Slack, generic webhook, stdout.
 *
 * Rendering and sending are separate (ew_receiver_render, ew_receiver_post)
 * so the dispatcher can log, dead-letter or retry the exact bytes it sent,
 * and tests can check a body without a network.
 *
 * Slack bodies are built from bounded texts: every value of the alert is cut
 * to a per-value budget and every text to Slack's limit, always at a UTF-8
 * boundary and never inside an escape or a link, so a hostile or huge alert
 * still yields a valid message instead of a 400 from Slack.
 *
 * Sending keeps one curl easy handle per HTTP receiver: curl keeps the
 * connection alive between notifications, which saves a TLS handshake per
 * message to Slack. The response body is only kept (first bytes) for the
 * error line.
 */
#include "edgewatch/notify.h"

#include "edgewatch/common.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_SLACK_BATCH 20
#define DEFAULT_WEBHOOK_BATCH 100
#define USER_AGENT "edgewatch-notify/" EW_VERSION

/* Slack's limits (Block Kit): section text 3000 characters, header text
 * 150, 50 blocks; message text is cut by Slack at 40000. Counting bytes
 * keeps us under the character limits whatever the script. */
#define SLACK_SECTION_MAX 3000
#define SLACK_HEADER_MAX 150
#define SLACK_TEXT_MAX 40000
#define SLACK_TOP_CONTRIBUTORS 5

/* Budgets per value inside a section (escaped bytes). They add up to well
 * under SLACK_SECTION_MAX before the link, so the link (line three) always
 * fits and is never cut; a link longer than LINK_MAX is left out, since a
 * cut URL would lead somewhere wrong. */
#define NAME_MAX_BYTES 100
#define SUMMARY_MAX_BYTES 700
#define LINK_MAX 1500
#define CONTRIBUTOR_MAX_BYTES 100

/* What the error line keeps of a response body. */
#define RESPONSE_KEEP 256
#define ERROR_BODY_MAX 100

#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 "…" */
#define ELLIPSIS_LEN 3

struct ew_receiver {
    ew_receiver_config cfg; /* own copy, defaults applied */
    CURL *curl;
    struct curl_slist *headers; /* Content-Type, Expect, configured headers */
    char curl_error[CURL_ERROR_SIZE];
    char response[RESPONSE_KEEP + 1];
    size_t response_len;
    int64_t retry_after_ms; /* the last answer's Retry-After, 0 when none */
};

/* ---- bounded text ------------------------------------------------------------ */

/* A growing string with an optional limit. When a piece does not fit, the
 * text ends in "…" and takes nothing more: a cut message is better than a
 * rejected one, and the ellipsis tells the reader something is missing. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t limit;  /* most bytes, the ellipsis included; SIZE_MAX: unbounded */
    bool mrkdwn;   /* escape &, < and > as Slack requires */
    bool full;
    bool oom;
} text;

static text text_make(size_t limit, bool mrkdwn)
{
    text t = {NULL, 0, 0, limit, mrkdwn, false, false};
    return t;
}

static bool text_grow(text *t, size_t n)
{
    if (t->len + n < t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap <= t->len + n)
        cap *= 2;
    char *buf = realloc(t->buf, cap);
    if (!buf) {
        t->oom = true;
        return false;
    }
    t->buf = buf;
    t->cap = cap;
    return true;
}

static void text_append(text *t, const char *s, size_t n)
{
    if (t->oom || !text_grow(t, n))
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* Appends s whole, or ends the text. While not full, len stays at most
 * limit - ELLIPSIS_LEN, so the ellipsis always fits. */
static void text_put(text *t, const char *s, size_t n)
{
    if (t->full)
        return;
    if (n > t->limit - ELLIPSIS_LEN - t->len) {
        text_append(t, ELLIPSIS, ELLIPSIS_LEN);
        t->full = true;
        return;
    }
    text_append(t, s, n);
}

static void text_str(text *t, const char *s) { text_put(t, s, strlen(s)); }

static void text_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For our own short pieces (numbers, times); never for alert values. */
static void text_printf(text *t, const char *fmt, ...)
{
    char piece[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    if (n > 0)
        text_put(t, piece, (size_t)n < sizeof piece ? (size_t)n : sizeof piece - 1);
}

/* The text as a NUL-terminated string owned by the caller; NULL if memory
 * ran out (an empty text is ""). */
static char *text_take(text *t)
{
    if (!t->oom && !t->buf)
        text_append(t, "", 0);
    if (t->oom) {
        free(t->buf);
        return NULL;
    }
    return t->buf;
}

/* Length of the UTF-8 sequence starting at s, or 0 when it is not one
 * (a stray continuation byte, a truncated sequence). */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 0x6 ? 2 : (s[0] >> 4) == 0xe ? 3 : (s[0] >> 3) == 0x1e ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* One character of an alert value as it goes into a text: control
 * characters become a space (a value must not start a line of its own),
 * invalid UTF-8 becomes '?' (Slack rejects it), and in mrkdwn &, <, > become
 * entities so a value can never form a link or an @channel mention.
 * Returns the source bytes consumed; the piece is written to out. */
static size_t next_piece(const char *s, bool mrkdwn, char out[8], size_t *out_len)
{
    unsigned char c = (unsigned char)*s;
    size_t n = utf8_len((const unsigned char *)s);
    const char *entity = !mrkdwn ? NULL : c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
    if (entity) {
        *out_len = strlen(entity);
        memcpy(out, entity, *out_len);
    } else if (n == 0 || c < 0x20 || c == 0x7f) {
        *out_len = 1;
        out[0] = n == 0 ? '?' : ' ';
    } else {
        *out_len = n;
        memcpy(out, s, n);
    }
    return n ? n : 1;
}

static size_t value_len(const char *s, bool mrkdwn)
{
    size_t total = 0, n;
    char piece[8];
    while (*s) {
        s += next_piece(s, mrkdwn, piece, &n);
        total += n;
    }
    return total;
}

/* Appends an alert value, cut to max bytes (with "…") when longer; an
 * absent value shows as "-" as on the alert line. */
static void text_value(text *t, const char *s, size_t max)
{
    if (!s || !*s) {
        text_str(t, "-");
        return;
    }
    bool cut = max < SIZE_MAX && value_len(s, t->mrkdwn) > max;
    size_t budget = cut ? max - ELLIPSIS_LEN : SIZE_MAX, used = 0, n;
    char piece[8];
    while (*s && !t->full) {
        size_t step = next_piece(s, t->mrkdwn, piece, &n);
        if (n > budget - used)
            break;
        text_put(t, piece, n);
        used += n;
        s += step;
    }
    if (cut)
        text_put(t, ELLIPSIS, ELLIPSIS_LEN);
}

/* ---- configuration ------------------------------------------------------------- */

static bool dup_string(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

static void free_config(ew_receiver_config *c)
{
    free(c->name);
    free(c->url);
    for (size_t i = 0; c->headers && i < c->n_headers; i++)
        free(c->headers[i]);
    free(c->headers);
    free(c->link_template);
    free(c->channel);
}

static bool copy_headers(ew_receiver_config *dst, const ew_receiver_config *src)
{
    dst->headers = NULL;
    if (src->n_headers == 0)
        return true;
    dst->headers = calloc(src->n_headers, sizeof *dst->headers);
    if (!dst->headers)
        return false;
    for (size_t i = 0; i < src->n_headers; i++)
        if (!dup_string(&dst->headers[i], src->headers[i]))
            return false;
    return true;
}

/* The receiver owns its copy, defaults applied, so it never depends on how
 * long the caller keeps its config. */
static bool copy_config(ew_receiver_config *dst, const ew_receiver_config *src, const char *default_link)
{
    *dst = *src;
    dst->name = dst->url = dst->link_template = dst->channel = NULL;
    dst->headers = NULL;
    bool ok = dup_string(&dst->name, src->name) && dup_string(&dst->url, src->url) &&
              dup_string(&dst->link_template, src->link_template ? src->link_template : default_link) &&
              dup_string(&dst->channel, src->channel) && copy_headers(dst, src);
    if (!ok)
        free_config(dst);
    return ok;
}

static size_t default_batch(const ew_receiver_config *c)
{
    switch (c->type) {
    case EW_RECEIVER_SLACK:
        return DEFAULT_SLACK_BATCH;
    case EW_RECEIVER_WEBHOOK:
        return c->batch ? DEFAULT_WEBHOOK_BATCH : 1;
    case EW_RECEIVER_STDOUT:
        break;
    }
    return SIZE_MAX;
}

static void apply_defaults(ew_receiver_config *c)
{
    if (c->timeout_ms <= 0)
        c->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (c->connect_timeout_ms <= 0)
        c->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
    if (c->max_batch == 0)
        c->max_batch = default_batch(c);
    if (c->type == EW_RECEIVER_WEBHOOK && !c->batch)
        c->max_batch = 1;
    if (c->type == EW_RECEIVER_SLACK && c->max_batch > EW_SLACK_MAX_ALERTS)
        c->max_batch = EW_SLACK_MAX_ALERTS;
}

/* ---- curl setup ------------------------------------------------------------------ */

/* True when the configured headers set name themselves, so ours would be a
 * second, conflicting copy. */
static bool configured_header(const ew_receiver_config *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->n_headers; i++)
        if (c->headers[i] && strncasecmp(c->headers[i], name, n) == 0 && c->headers[i][n] == ':')
            return true;
    return false;
}

static bool add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (next)
        *list = next;
    return next != NULL;
}

/* "Expect:" turns off curl's 100-continue for bodies over 1 KiB, which
 * would cost a round trip (or a 1 s wait) on every larger notification. */
static bool build_headers(ew_receiver *r)
{
    const ew_receiver_config *c = &r->cfg;
    bool ok = configured_header(c, "Content-Type") || add_header(&r->headers, "Content-Type: application/json");
    ok = ok && add_header(&r->headers, "Expect:");
    for (size_t i = 0; ok && i < c->n_headers; i++)
        ok = !c->headers[i] || add_header(&r->headers, c->headers[i]);
    return ok;
}

/* Keeps the first RESPONSE_KEEP bytes for the error line and swallows the
 * rest, so the connection stays reusable and no allocation is needed. */
static size_t keep_response_head(char *data, size_t size, size_t nmemb, void *userdata)
{
    ew_receiver *r = userdata;
    size_t n = size * nmemb, room = RESPONSE_KEEP - r->response_len;
    size_t take = n < room ? n : room;
    memcpy(r->response + r->response_len, data, take);
    r->response_len += take;
    r->response[r->response_len] = '\0';
    return n;
}

/* NOSIGNAL: timeouts must not use SIGALRM in a multi-threaded process.
 * Redirects are not followed (a webhook answering 3xx is misconfigured, and
 * following could re-POST an alert elsewhere); only http(s) URLs work, so a
 * config cannot make the notifier read file:// or talk to other schemes. */
static bool setup_curl(ew_receiver *r)
{
    CURL *h = r->curl;
    return curl_easy_setopt(h, CURLOPT_URL, r->cfg.url) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->cfg.timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)r->cfg.connect_timeout_ms) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_response_head) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_WRITEDATA, r) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_error) == CURLE_OK;
}

static bool is_http(const ew_receiver_config *c) { return c->type != EW_RECEIVER_STDOUT; }

ew_receiver *ew_receiver_new(const ew_receiver_config *rc, const char *default_link_template)
{
    if (!rc || (is_http(rc) && (!rc->url || !*rc->url)))
        return NULL;
    ew_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (!copy_config(&r->cfg, rc, default_link_template)) {
        free(r);
        return NULL;
    }
    apply_defaults(&r->cfg);
    if (is_http(&r->cfg)) {
        r->curl = curl_easy_init();
        if (!r->curl || !build_headers(r) || !setup_curl(r)) {
            ew_receiver_free(r);
            return NULL;
        }
    }
    return r;
}

void ew_receiver_free(ew_receiver *r)
{
    if (!r)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
    free_config(&r->cfg);
    free(r);
}

const ew_receiver_config *ew_receiver_config_of(const ew_receiver *r) { return &r->cfg; }

/* ---- links ----------------------------------------------------------------------- */

/* Counts every byte, writes those that fit: snprintf semantics. */
typedef struct {
    char *out;
    size_t cap, len;
} sink;

static void sink_byte(sink *s, char c)
{
    if (s->len + 1 < s->cap)
        s->out[s->len] = c;
    s->len++;
}

/* RFC 3986 unreserved characters stay; everything else is %XX, so a value
 * can neither end the path nor add a query parameter. */
static void sink_encoded(sink *s, const char *value, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("-._~", c))) {
            sink_byte(s, (char)c);
            continue;
        }
        sink_byte(s, '%');
        sink_byte(s, hex[c >> 4]);
        sink_byte(s, hex[c & 0xf]);
    }
}

/* The shortest "%.*g" that reads back as the same double: 301.5, not
 * 301.50000000000000. Whole values print as integers first, or "%g" would
 * find 2.41e+03 for 2410 shortest. */
static void shortest_real(double v, char *buf, size_t cap)
{
    if (v == trunc(v) && fabs(v) < 1e15) {
        snprintf(buf, cap, "%.0f", v);
        return;
    }
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(buf, cap, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void sink_field(sink *s, const ew_notify_alert *a, const char *name, size_t name_len)
{
    const json_t *v = a->event ? json_object_getn(a->event, name, name_len) : NULL;
    char number[64] = "";
    if (json_is_string(v)) {
        sink_encoded(s, json_string_value(v), json_string_length(v));
        return;
    }
    if (json_is_integer(v))
        snprintf(number, sizeof number, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        shortest_real(json_real_value(v), number, sizeof number);
    else if (json_is_boolean(v))
        snprintf(number, sizeof number, "%s", json_is_true(v) ? "true" : "false");
    sink_encoded(s, number, strlen(number));
}

/* Length of the field name of a "{name}" placeholder at p, 0 if p does not
 * start one: braces around anything else stay literal text. */
static size_t placeholder_len(const char *p)
{
    if (*p != '{')
        return 0;
    size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    return n > 0 && p[1 + n] == '}' ? n : 0;
}

size_t ew_notify_link(const ew_notify_alert *a, const char *tmpl, char *out, size_t cap)
{
    sink s = {out, cap, 0};
    for (const char *p = tmpl ? tmpl : ""; *p;) {
        size_t name_len = placeholder_len(p);
        if (name_len) {
            sink_field(&s, a, p + 1, name_len);
            p += name_len + 2;
        } else {
            sink_byte(&s, *p);
            p += p[0] == '{' && p[1] == '{' ? 2 : 1;
        }
    }
    if (cap > 0)
        out[s.len < cap ? s.len : cap - 1] = '\0';
    return s.len;
}

/* ---- Slack: pieces of an alert ----------------------------------------------------- */

static const char *event_string(const ew_notify_alert *a, const char *key)
{
    const char *v = a->event ? json_string_value(json_object_get(a->event, key)) : NULL;
    return v ? v : "";
}

static const json_t *event_number(const ew_notify_alert *a, const char *key)
{
    const json_t *v = a->event ? json_object_get(a->event, key) : NULL;
    return json_is_number(v) ? v : NULL;
}

static bool is_cost_rule(const char *rule) { return strncmp(rule, "cost_", 5) == 0; }

/* A value in the rule's unit, as the processor's summaries write it:
 * dollars per day for cost, percent for rates and ratios, ms for latency. */
static void format_measure(const char *rule, double v, char *buf, size_t cap)
{
    char num[64];
    if (is_cost_rule(rule))
        snprintf(buf, cap, "%s$%s/day", v < 0 ? "-" : "", ew_render_number(fabs(v), num, sizeof num));
    else if (strstr(rule, "_rate") || strcmp(rule, "cache_hit_drop") == 0)
        snprintf(buf, cap, "%s%%", ew_render_number(100 * v, num, sizeof num));
    else if (strcmp(rule, "origin_latency") == 0)
        snprintf(buf, cap, "%s ms", ew_render_number(v, num, sizeof num));
    else
        snprintf(buf, cap, "%s", ew_render_number(v, num, sizeof num));
}

/* Latest epoch ms with a four-digit year; later windows are not shown. */
#define MAX_WINDOW_MS 253402300799999LL

/* "2026-11-01 12:40–12:41 UTC": seconds only when a bound has them, the
 * end's date only when it differs from the start's. False when the alert
 * has no usable window. */
static bool format_window(int64_t start, int64_t end, char *buf, size_t cap)
{
    if (start <= 0 || start > MAX_WINDOW_MS)
        return false;
    char s[32], e[32];
    bool has_end = end > start && end <= MAX_WINDOW_MS;
    ew_format_time(start, s, sizeof s);
    ew_format_time(has_end ? end : start, e, sizeof e);
    int t = (start / 1000) % 60 || (has_end && (end / 1000) % 60) ? 8 : 5;
    if (!has_end)
        snprintf(buf, cap, "%.10s %.*s UTC", s, t, s + 11);
    else if (strncmp(s, e, 10) == 0)
        snprintf(buf, cap, "%.10s %.*s–%.*s UTC", s, t, s + 11, t, e + 11);
    else
        snprintf(buf, cap, "%.10s %.*s–%.10s %.*s UTC", s, t, s + 11, e, t, e + 11);
    return true;
}

/* "*FIRING* critical · *request_spike* · distribution E2ABC (suppressed by X)" */
static void section_title(text *t, const ew_notify_alert *a)
{
    text_str(t, a->firing ? "*FIRING*" : "*RESOLVED*");
    if (*a->severity) {
        text_str(t, " ");
        text_value(t, a->severity, NAME_MAX_BYTES);
    }
    text_str(t, " · *");
    text_value(t, a->rule, NAME_MAX_BYTES);
    text_str(t, "* · ");
    if (*a->entity_type) {
        text_value(t, a->entity_type, NAME_MAX_BYTES);
        text_str(t, " ");
    }
    text_value(t, a->entity_id, NAME_MAX_BYTES);
    if (*a->suppressed_by) {
        text_str(t, " (suppressed by ");
        text_value(t, a->suppressed_by, NAME_MAX_BYTES);
        text_str(t, ")");
    }
}

/* Inside <url|text> only &, <, > and the | separator would break the link;
 * they are escaped, or percent-encoded where an entity would not do. */
static bool escape_link(const char *url, char *out, size_t cap)
{
    sink s = {out, cap, 0};
    for (const char *p = url; *p; p++) {
        const char *sub = *p == '&' ? "&amp;" : *p == '<' ? "%3C" : *p == '>' ? "%3E" : *p == '|' ? "%7C" : NULL;
        if (!sub)
            sink_byte(&s, *p);
        for (; sub && *sub; sub++)
            sink_byte(&s, *sub);
    }
    if (cap > 0)
        out[s.len < cap ? s.len : cap - 1] = '\0';
    return s.len < cap;
}

static void section_link(text *t, const ew_notify_alert *a, const char *tmpl)
{
    char url[LINK_MAX + 1], escaped[LINK_MAX + 1];
    if (!tmpl || !*tmpl || ew_notify_link(a, tmpl, url, sizeof url) >= sizeof url || !*url ||
        !escape_link(url, escaped, sizeof escaped))
        return;
    text_str(t, "\n<");
    text_str(t, escaped);
    text_str(t, "|Open details>");
}

static void section_people(text *t, const ew_notify_alert *a)
{
    text_str(t, "\n*Project:* ");
    text_value(t, a->project, NAME_MAX_BYTES);
    text_str(t, " · *Owner:* ");
    text_value(t, a->owner, NAME_MAX_BYTES);
}

/* "Observed: 2410 vs 301.5 expected (threshold 8)", in the rule's unit. */
static void section_measure(text *t, const ew_notify_alert *a)
{
    const json_t *observed = event_number(a, "observed"), *expected = event_number(a, "expected");
    const json_t *threshold = event_number(a, "threshold");
    char value[96];
    if (!observed && !expected)
        return;
    text_str(t, "\n*Observed:* ");
    if (observed)
        format_measure(a->rule, json_number_value(observed), value, sizeof value);
    text_str(t, observed ? value : "-");
    if (expected) {
        format_measure(a->rule, json_number_value(expected), value, sizeof value);
        text_printf(t, " vs %s expected", value);
    }
    if (threshold) {
        format_measure(a->rule, json_number_value(threshold), value, sizeof value);
        text_printf(t, " (threshold %s)", value);
    }
}

/* Only the z-scores the rule has: most rules use one baseline. */
static void section_z(text *t, const ew_notify_alert *a)
{
    const json_t *z_short = event_number(a, "z_short"), *z_long = event_number(a, "z_long");
    char num[64];
    if (!z_short && !z_long)
        return;
    text_str(t, "\n*z:*");
    if (z_short)
        text_printf(t, " short %s", ew_render_number(json_number_value(z_short), num, sizeof num));
    if (z_short && z_long)
        text_str(t, " ·");
    if (z_long)
        text_printf(t, " long %s", ew_render_number(json_number_value(z_long), num, sizeof num));
}

static void section_window(text *t, const ew_notify_alert *a)
{
    char window[96];
    if (format_window(a->window_start, a->window_end, window, sizeof window))
        text_printf(t, "\n*Window:* %s", window);
}

/* "• c-ip 192.0.2.1 60%", and for cost "· impact $2400.5/day". */
static void contributor_line(text *t, const json_t *c)
{
    const json_t *share = json_object_get(c, "share"), *impact = json_object_get(c, "impact");
    char num[64], money[96];
    text_str(t, "\n• ");
    text_value(t, json_string_value(json_object_get(c, "dimension")), CONTRIBUTOR_MAX_BYTES);
    text_str(t, " ");
    text_value(t, json_string_value(json_object_get(c, "value")), CONTRIBUTOR_MAX_BYTES);
    if (json_is_number(share))
        text_printf(t, " %s%%", ew_render_number(100 * json_number_value(share), num, sizeof num));
    if (json_is_number(impact)) {
        format_measure("cost_", json_number_value(impact), money, sizeof money);
        text_printf(t, " · impact %s", money);
    }
}

static void section_contributors(text *t, const ew_notify_alert *a)
{
    const json_t *list = a->event ? json_object_get(a->event, "top_contributors") : NULL;
    size_t n = json_array_size(list);
    if (n == 0)
        return;
    text_str(t, "\n*Top contributors:*");
    for (size_t i = 0; i < n && i < SLACK_TOP_CONTRIBUTORS; i++)
        if (json_is_object(json_array_get(list, i)))
            contributor_line(t, json_array_get(list, i));
}

/* One alert's section text, most important first, so a cut (which only
 * happens for absurdly long values) loses the least useful lines. */
static char *section_text(const ew_notify_alert *a, const char *link_template)
{
    text t = text_make(SLACK_SECTION_MAX, true);
    section_title(&t, a);
    text_str(&t, "\n");
    text_value(&t, event_string(a, "summary"), SUMMARY_MAX_BYTES);
    section_link(&t, a, link_template);
    section_people(&t, a);
    section_measure(&t, a);
    section_z(&t, a);
    section_window(&t, a);
    section_contributors(&t, a);
    text_str(&t, "\n*Alert:* ");
    text_value(&t, a->alert_id, NAME_MAX_BYTES);
    return text_take(&t);
}

/* ---- Slack: the notification --------------------------------------------------------- */

static const char *alert_rule(const ew_notify_alert *a) { return a->rule; }
static const char *alert_suppressed_by(const ew_notify_alert *a) { return a->suppressed_by; }

/* The name people know the alert by: its project, else its entity. */
static const char *alert_name(const ew_notify_alert *a) { return *a->project ? a->project : a->entity_id; }

/* How many different values get() has over the alerts. */
static size_t distinct(const ew_notification *n, const char *(*get)(const ew_notify_alert *))
{
    size_t count = 0;
    for (size_t i = 0; i < n->n; i++) {
        size_t j = 0;
        while (j < i && strcmp(get(n->alerts[j]), get(n->alerts[i])) != 0)
            j++;
        count += j == i;
    }
    return count;
}

static size_t count_firing(const ew_notification *n)
{
    size_t firing = 0;
    for (size_t i = 0; i < n->n; i++)
        firing += n->alerts[i]->firing;
    return firing;
}

static int severity_rank(const char *s)
{
    return strcmp(s, "critical") == 0 ? 3 : strcmp(s, "warning") == 0 ? 2 : strcmp(s, "info") == 0 ? 1 : 0;
}

/* The worst severity among the alerts the header speaks of. */
static const char *header_severity(const ew_notification *n, bool firing)
{
    const char *worst = "";
    for (size_t i = 0; i < n->n; i++)
        if (n->alerts[i]->firing == firing && severity_rank(n->alerts[i]->severity) > severity_rank(worst))
            worst = n->alerts[i]->severity;
    return worst;
}

/* " · request_spike", or " · 3 rules" when the group mixes them. */
static void header_common(text *t, const ew_notification *n, const char *(*get)(const ew_notify_alert *),
                          const char *plural)
{
    size_t count = distinct(n, get);
    text_str(t, " · ");
    if (count == 1)
        text_value(t, get(n->alerts[0]), NAME_MAX_BYTES);
    else
        text_printf(t, "%zu %s", count, plural);
}

/* "(suppressed by X)" only when every alert is suppressed: a partly
 * suppressed group still needs attention. */
static void header_marks(text *t, const ew_notification *n, size_t firing)
{
    size_t suppressed = 0;
    for (size_t i = 0; i < n->n; i++)
        suppressed += *n->alerts[i]->suppressed_by != '\0';
    if (n->n > 1)
        text_printf(t, " · %zu alerts", n->n);
    if (firing > 0 && firing < n->n)
        text_printf(t, ", %zu resolved", n->n - firing);
    if (suppressed == n->n && distinct(n, alert_suppressed_by) == 1) {
        text_str(t, " (suppressed by ");
        text_value(t, n->alerts[0]->suppressed_by, NAME_MAX_BYTES);
        text_str(t, ")");
    } else if (suppressed == n->n) {
        text_str(t, " (suppressed)");
    }
    if (n->repeat && firing > 0)
        text_str(t, " (still firing)");
}

/* ":rotating_light: FIRING critical · request_spike · checkout-web": the
 * one line a phone notification or a glance shows. */
static char *header_line(const ew_notification *n, size_t limit, bool mrkdwn)
{
    text t = text_make(limit, mrkdwn);
    size_t firing = count_firing(n);
    const char *severity = header_severity(n, firing > 0);
    text_str(&t, firing > 0 ? ":rotating_light: FIRING" : ":white_check_mark: RESOLVED");
    if (*severity) {
        text_str(&t, " ");
        text_value(&t, severity, NAME_MAX_BYTES);
    }
    header_common(&t, n, alert_rule, "rules");
    header_common(&t, n, alert_name, "projects");
    header_marks(&t, n, firing);
    return text_take(&t);
}

static json_t *header_block(const ew_notification *n)
{
    char *line = header_line(n, SLACK_HEADER_MAX, false);
    json_t *block = line ? json_pack("{s:s, s:{s:s, s:s, s:b}}", "type", "header", "text", "type", "plain_text",
                                     "text", line, "emoji", 1)
                         : NULL;
    free(line);
    return block;
}

static json_t *section_block(const ew_notify_alert *a, const char *link_template)
{
    char *body = section_text(a, link_template);
    json_t *block =
        body ? json_pack("{s:s, s:{s:s, s:s}}", "type", "section", "text", "type", "mrkdwn", "text", body) : NULL;
    free(body);
    return block;
}

/* Said when the dispatcher sent more alerts than one message can show. */
static json_t *more_block(size_t more)
{
    char note[128];
    snprintf(note, sizeof note, ELLIPSIS "and %zu more alert%s, listed in the notification text", more,
             more == 1 ? "" : "s");
    return json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context", "elements", "type", "mrkdwn", "text", note);
}

static bool append_block(json_t *blocks, json_t *block) { return json_array_append_new(blocks, block) == 0; }

static json_t *slack_blocks(const ew_receiver *r, const ew_notification *n)
{
    json_t *blocks = json_array();
    size_t shown = n->n < EW_SLACK_MAX_ALERTS ? n->n : EW_SLACK_MAX_ALERTS;
    bool ok = blocks && append_block(blocks, header_block(n));
    for (size_t i = 0; ok && i < shown; i++) {
        ok = (i == 0 || append_block(blocks, json_pack("{s:s}", "type", "divider"))) &&
             append_block(blocks, section_block(n->alerts[i], r->cfg.link_template));
    }
    if (ok && shown < n->n)
        ok = append_block(blocks, json_pack("{s:s}", "type", "divider")) &&
             append_block(blocks, more_block(n->n - shown));
    if (!ok)
        json_decref(blocks);
    return ok ? blocks : NULL;
}

/* One alert as its ew_render_alert_line; an alert the line cannot render
 * still gets a line naming it, so no alert is ever silently skipped. */
static void alert_line(text *t, const ew_notify_alert *a)
{
    size_t len = a->text ? strlen(a->text) : 0;
    char *line = malloc(EW_RENDER_CAP(len));
    char err[128] = "";
    if (line && ew_render_alert_line(a->text, len, line, EW_RENDER_CAP(len), err, sizeof err) >= 0) {
        text_value(t, line, SIZE_MAX);
    } else {
        text_str(t, "alert ");
        text_value(t, a->alert_id, NAME_MAX_BYTES);
        text_str(t, " (not renderable: ");
        text_value(t, line ? err : "out of memory", NAME_MAX_BYTES);
        text_str(t, ")");
    }
    free(line);
}

/* The push-notification and fallback text: the header line, then one line
 * per alert (all of them, also those past the blocks). */
static char *fallback_text(const ew_notification *n)
{
    text t = text_make(SLACK_TEXT_MAX, true);
    char *header = header_line(n, SLACK_TEXT_MAX, true);
    if (header)
        text_append(&t, header, strlen(header));
    t.oom = t.oom || !header;
    free(header);
    for (size_t i = 0; i < n->n && !t.full; i++) {
        text_str(&t, "\n");
        alert_line(&t, n->alerts[i]);
    }
    return text_take(&t);
}

static char *render_slack(const ew_receiver *r, const ew_notification *n)
{
    json_t *body = json_object();
    char *fallback = fallback_text(n);
    json_t *blocks = slack_blocks(r, n);
    bool ok = body && fallback && blocks;
    ok = ok && (!r->cfg.channel || json_object_set_new(body, "channel", json_string(r->cfg.channel)) == 0);
    ok = ok && json_object_set_new(body, "text", json_string(fallback)) == 0;
    ok = ok && json_object_set(body, "blocks", blocks) == 0;
    char *out = ok ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(blocks);
    json_decref(body);
    free(fallback);
    return out;
}

/* ---- webhook and stdout ------------------------------------------------------------- */

static void text_json_string(text *t, const char *s)
{
    json_t *str = s ? json_string(s) : json_null();
    char *encoded = str ? json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (encoded)
        text_str(t, encoded);
    t->oom = t->oom || !encoded;
    free(encoded);
    json_decref(str);
}

/* Built as text so every event stays byte for byte what an unbatched
 * webhook would get (re-encoding could change number spellings). */
static char *render_webhook_batch(const ew_receiver *r, const ew_notification *n)
{
    text t = text_make(SIZE_MAX, false);
    text_str(&t, "{\"version\":\"1\",\"receiver\":");
    text_json_string(&t, r->cfg.name ? r->cfg.name : "");
    text_str(&t, ",\"group_key\":");
    text_json_string(&t, n->group_key);
    text_str(&t, ",\"alerts\":[");
    for (size_t i = 0; i < n->n; i++) {
        text_str(&t, i ? "," : "");
        text_str(&t, n->alerts[i]->text ? n->alerts[i]->text : "null");
    }
    text_str(&t, "]}");
    return text_take(&t);
}

static char *render_stdout(const ew_notification *n)
{
    text t = text_make(SIZE_MAX, false);
    for (size_t i = 0; i < n->n; i++) {
        alert_line(&t, n->alerts[i]);
        text_str(&t, "\n");
    }
    return text_take(&t);
}

char *ew_receiver_render(const ew_receiver *r, const ew_notification *n)
{
    if (!r || !n || !n->alerts || n->n == 0)
        return NULL;
    switch (r->cfg.type) {
    case EW_RECEIVER_SLACK:
        return render_slack(r, n);
    case EW_RECEIVER_WEBHOOK:
        if (r->cfg.batch)
            return render_webhook_batch(r, n);
        return n->n == 1 && n->alerts[0]->text ? strdup(n->alerts[0]->text) : NULL;
    case EW_RECEIVER_STDOUT:
        return render_stdout(n);
    }
    return NULL;
}

/* ---- sending ---------------------------------------------------------------------- */

static ew_send_result post_stdout(const char *body, char *err, size_t errcap)
{
    size_t len = strlen(body);
    errno = 0;
    if (fwrite(body, 1, len, stdout) == len && fflush(stdout) == 0)
        return EW_SEND_OK;
    ew_set_error(err, errcap, "writing to stdout: %s", strerror(errno ? errno : EIO));
    /* The retry writes the whole body again: drop what is still buffered so
     * it is not written twice, and clear the error flag, which would
     * otherwise fail every later write. */
    __fpurge(stdout);
    clearerr(stdout);
    return EW_SEND_RETRY;
}

/* A key goes into a header line: CR or LF would let it add headers. */
static bool format_key_header(const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    if (n == 0 || n > EW_IDEMPOTENCY_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return false;
    snprintf(out, cap, "Idempotency-Key: %s", key);
    return true;
}

/* The response head as one printable line for err, at most
 * ERROR_BODY_MAX bytes, cut at a UTF-8 boundary. */
static void response_excerpt(const ew_receiver *r, char *out, size_t cap)
{
    size_t n = r->response_len < ERROR_BODY_MAX ? r->response_len : ERROR_BODY_MAX;
    n = n < cap ? n : cap - 1;
    while (n > 0 && n < r->response_len && ((unsigned char)r->response[n] & 0xc0) == 0x80)
        n--;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r->response[i];
        out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static ew_send_result classify(const ew_receiver *r, CURLcode code, long status, char *err, size_t errcap)
{
    if (code != CURLE_OK) {
        if (r->curl_error[0])
            ew_set_error(err, errcap, "%s (%s)", curl_easy_strerror(code), r->curl_error);
        else
            ew_set_error(err, errcap, "%s", curl_easy_strerror(code));
        return EW_SEND_RETRY;
    }
    if (status >= 200 && status < 300)
        return EW_SEND_OK;
    char excerpt[ERROR_BODY_MAX + 1];
    response_excerpt(r, excerpt, sizeof excerpt);
    if (*excerpt)
        ew_set_error(err, errcap, "HTTP %ld: %s", status, excerpt);
    else
        ew_set_error(err, errcap, "HTTP %ld", status);
    return status == 408 || status == 429 || (status >= 500 && status < 600) ? EW_SEND_RETRY : EW_SEND_PERMANENT;
}

/* The key's header is a list node on the stack linked to the end of the
 * receiver's list for this one request: curl reads the list only during
 * curl_easy_perform, and this avoids copying the list per request. */
static ew_send_result post_http(ew_receiver *r, const char *body, const char *key, char *err, size_t errcap)
{
    char key_line[sizeof "Idempotency-Key: " + EW_IDEMPOTENCY_KEY_MAX];
    struct curl_slist key_node = {key_line, NULL}, *tail = r->headers;
    if (key && !format_key_header(key, key_line, sizeof key_line)) {
        ew_set_error(err, errcap, "idempotency key is empty, longer than %d bytes or not printable ASCII",
                  EW_IDEMPOTENCY_KEY_MAX);
        return EW_SEND_PERMANENT;
    }
    while (tail->next)
        tail = tail->next;
    tail->next = key ? &key_node : NULL;
    r->response_len = 0;
    r->response[0] = r->curl_error[0] = '\0';
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(r->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    CURLcode code = curl_easy_perform(r->curl);
    tail->next = NULL;
    long status = 0;
    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
    /* Slack answers a rate limit with 429 and Retry-After; curl reads both
     * forms (seconds or an HTTP date) into seconds. */
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(r->curl, CURLINFO_RETRY_AFTER, &retry_after) != CURLE_OK || retry_after < 0)
        retry_after = 0;
    r->retry_after_ms = (int64_t)retry_after * 1000;
    return classify(r, code, status, err, errcap);
}

int64_t ew_receiver_retry_after_ms(const ew_receiver *r) { return r->retry_after_ms; }

ew_send_result ew_receiver_post(ew_receiver *r, const char *body, const char *idempotency_key, char *err,
                                size_t errcap)
{
    ew_set_error(err, errcap, "%s", "");
    if (!body) {
        ew_set_error(err, errcap, "nothing to send");
        return EW_SEND_PERMANENT;
    }
    r->retry_after_ms = 0;
    if (r->cfg.type == EW_RECEIVER_STDOUT)
        return post_stdout(body, err, errcap);
    return post_http(r, body, idempotency_key, err, errcap);
}
