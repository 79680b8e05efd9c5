/* notify_config.c -- the "notify" object: receivers and the route tree.
 *
 * The processor's loader keeps the object as text (ew_config.notify_json);
 * this module gives it meaning. Every problem becomes one line naming the
 * setting ("notify.route.routes[1].group_wait: not a duration"), so `check`
 * and the notifier report all of them at once, and a typo never silently
 * routes alerts to the default receiver.
 *
 * Children inherit their parent's receivers, grouping, timing and flags, as
 * Alertmanager's routes do; only `match`, `continue` and `routes` are the
 * route's own.
 */
#include "edgewatch/notify.h"

#include "edgewatch/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_GROUP_WAIT_MS 10000
#define DEFAULT_GROUP_INTERVAL_MS 60000
#define DEFAULT_REPEAT_INTERVAL_MS (4LL * 3600 * 1000)
#define DEFAULT_DEDUP_TTL_MS (7LL * 86400 * 1000)
#define MAX_ROUTE_DEPTH 16

static bool only_keys(json_t *obj, const char *const *allowed, const char *where, ew_config_errors *errs)
{
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known) {
            ew_config_add_error(errs, "%s: unknown setting \"%s\"", where, key);
            ok = false;
        }
    }
    return ok;
}

static void get_string(json_t *obj, const char *key, char **out, const char *where, ew_config_errors *errs)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    if (!json_is_string(v)) {
        ew_config_add_error(errs, "%s.%s: must be a string", where, key);
        return;
    }
    free(*out);
    *out = strdup(json_string_value(v));
}

static void get_duration(json_t *obj, const char *key, int64_t *out, const char *where, ew_config_errors *errs)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    int64_t ms;
    if (!json_is_string(v) || !ew_parse_duration_ms(json_string_value(v), &ms) || ms < 0)
        ew_config_add_error(errs, "%s.%s: not a duration (e.g. \"30s\", \"5m\", \"4h\")", where, key);
    else
        *out = ms;
}

static void get_bool(json_t *obj, const char *key, bool *out, const char *where, ew_config_errors *errs)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    if (!json_is_boolean(v))
        ew_config_add_error(errs, "%s.%s: must be true or false", where, key);
    else
        *out = json_is_true(v);
}

/* A string or an array of strings, as a fresh list. */
static bool get_strings(json_t *v, char ***out, size_t *n, const char *where, ew_config_errors *errs)
{
    size_t count = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_string(v) && !json_is_array(v)) {
        ew_config_add_error(errs, "%s: must be a string or a list of strings", where);
        return false;
    }
    char **list = calloc(count ? count : 1, sizeof *list);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_is_string(v) ? v : json_array_get(v, i);
        if (!json_is_string(item)) {
            ew_config_add_error(errs, "%s[%zu]: must be a string", where, i);
            for (size_t j = 0; j < i; j++)
                free(list[j]);
            free(list);
            return false;
        }
        list[i] = strdup(json_string_value(item));
    }
    *out = list;
    *n = count;
    return true;
}

static void free_strings(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* ---- receivers ---------------------------------------------------------------- */

static bool parse_receiver_type(const char *name, ew_receiver_type *out)
{
    static const struct { const char *name; ew_receiver_type type; } types[] = {
        {"stdout", EW_RECEIVER_STDOUT}, {"slack", EW_RECEIVER_SLACK}, {"webhook", EW_RECEIVER_WEBHOOK}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(name, types[i].name) == 0) {
            *out = types[i].type;
            return true;
        }
    return false;
}

static void get_headers(json_t *obj, ew_receiver_config *rc, const char *where, ew_config_errors *errs)
{
    json_t *h = json_object_get(obj, "headers");
    if (!h)
        return;
    if (!json_is_object(h)) {
        ew_config_add_error(errs, "%s.headers: must be an object of \"Name\": \"value\"", where);
        return;
    }
    rc->headers = calloc(json_object_size(h) + 1, sizeof *rc->headers);
    const char *name;
    json_t *v;
    json_object_foreach(h, name, v) {
        if (!json_is_string(v) || strpbrk(name, ":\r\n") || strpbrk(json_string_value(v), "\r\n")) {
            ew_config_add_error(errs, "%s.headers.%s: must be a one-line string", where, name);
            continue;
        }
        if (asprintf(&rc->headers[rc->n_headers], "%s: %s", name, json_string_value(v)) >= 0)
            rc->n_headers++;
    }
}

static void parse_receiver(const char *name, json_t *obj, ew_receiver_config *rc, ew_config_errors *errs)
{
    static const char *const keys[] = {"type", "url", "timeout", "connect_timeout", "headers", "batch",
                                       "max_batch", "link_template", "channel", NULL};
    char where[160];
    snprintf(where, sizeof where, "notify.receivers.%s", name);
    rc->name = strdup(name);
    if (!json_is_object(obj)) {
        ew_config_add_error(errs, "%s: must be an object", where);
        return;
    }
    only_keys(obj, keys, where, errs);
    char *type = NULL;
    get_string(obj, "type", &type, where, errs);
    if (!type)
        ew_config_add_error(errs, "%s.type: required (slack, webhook or stdout)", where);
    else if (!parse_receiver_type(type, &rc->type))
        ew_config_add_error(errs, "%s.type: \"%s\" is not slack, webhook or stdout", where, type);
    free(type);
    get_string(obj, "url", &rc->url, where, errs);
    get_duration(obj, "timeout", &rc->timeout_ms, where, errs);
    get_duration(obj, "connect_timeout", &rc->connect_timeout_ms, where, errs);
    get_bool(obj, "batch", &rc->batch, where, errs);
    get_string(obj, "link_template", &rc->link_template, where, errs);
    get_string(obj, "channel", &rc->channel, where, errs);
    get_headers(obj, rc, where, errs);
    if (rc->type != EW_RECEIVER_STDOUT && (!rc->url || strncmp(rc->url, "http", 4) != 0))
        ew_config_add_error(errs, "%s.url: required, an http:// or https:// URL", where);
    /* Unset values stay 0: ew_receiver_new applies the defaults and the
     * limits of each receiver type (Slack's block limit, unbatched = 1). */
    if (json_object_get(obj, "timeout") && rc->timeout_ms < 100)
        ew_config_add_error(errs, "%s.timeout: must be at least 100ms", where);
    json_t *mb = json_object_get(obj, "max_batch");
    if (mb && (!json_is_integer(mb) || json_integer_value(mb) < 1 || json_integer_value(mb) > 1000))
        ew_config_add_error(errs, "%s.max_batch: must be an integer from 1 to 1000", where);
    else if (mb)
        rc->max_batch = (size_t)json_integer_value(mb);
}

static void free_receiver(ew_receiver_config *rc)
{
    free(rc->name);
    free(rc->url);
    free_strings(rc->headers, rc->n_headers);
    free(rc->link_template);
    free(rc->channel);
}

static void parse_receivers(json_t *obj, ew_notify_config *nc, ew_config_errors *errs)
{
    if (!json_is_object(obj)) {
        ew_config_add_error(errs, "notify.receivers: must be an object of named receivers");
        return;
    }
    nc->receivers = calloc(json_object_size(obj) + 1, sizeof *nc->receivers);
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        parse_receiver(name, v, &nc->receivers[nc->n_receivers++], errs);
    }
}

static bool find_receiver(const ew_notify_config *nc, const char *name, size_t *out)
{
    for (size_t i = 0; i < nc->n_receivers; i++)
        if (strcmp(nc->receivers[i].name, name) == 0) {
            *out = i;
            return true;
        }
    return false;
}

/* ---- routes --------------------------------------------------------------------- */

static void parse_match(json_t *obj, ew_route *r, const char *where, ew_config_errors *errs)
{
    if (!json_is_object(obj)) {
        ew_config_add_error(errs, "%s.match: must be an object of label: glob(s)", where);
        return;
    }
    r->match = calloc(json_object_size(obj) + 1, sizeof *r->match);
    const char *label;
    json_t *v;
    json_object_foreach(obj, label, v) {
        char at[224];
        snprintf(at, sizeof at, "%s.match.%s", where, label);
        if (!ew_notify_label_known(label)) {
            ew_config_add_error(errs, "%s: unknown label (rule, project, owner, severity, status, entity_type, entity_id, "
                          "route, alert_id)", at);
            continue;
        }
        ew_route_match *m = &r->match[r->n_match];
        if (get_strings(v, &m->globs, &m->n_globs, at, errs)) {
            m->label = strdup(label);
            r->n_match++;
        }
    }
}

static void parse_route_receivers(json_t *obj, ew_route *r, const ew_notify_config *nc, const char *where,
                                  ew_config_errors *errs)
{
    json_t *v = json_object_get(obj, "receivers");
    if (!v)
        v = json_object_get(obj, "receiver");
    if (!v)
        return; /* inherited */
    char **names;
    size_t n;
    if (!get_strings(v, &names, &n, where, errs))
        return;
    free(r->receivers);
    r->receivers = calloc(n ? n : 1, sizeof *r->receivers);
    r->n_receivers = 0;
    for (size_t i = 0; i < n; i++)
        if (find_receiver(nc, names[i], &r->receivers[r->n_receivers]))
            r->n_receivers++;
        else
            ew_config_add_error(errs, "%s.receivers: no receiver named \"%s\" in notify.receivers", where, names[i]);
    free_strings(names, n);
}

static void parse_group_by(json_t *obj, ew_route *r, const char *where, ew_config_errors *errs)
{
    json_t *v = json_object_get(obj, "group_by");
    if (!v)
        return;
    char at[200], **names;
    size_t n;
    snprintf(at, sizeof at, "%s.group_by", where);
    if (!json_is_array(v)) {
        ew_config_add_error(errs, "%s: must be a list of labels", at);
        return;
    }
    if (!get_strings(v, &names, &n, at, errs))
        return;
    for (size_t i = 0; i < n; i++)
        if (!ew_notify_label_known(names[i]))
            ew_config_add_error(errs, "%s: unknown label \"%s\"", at, names[i]);
    free_strings(r->group_by, r->n_group_by);
    r->group_by = names;
    r->n_group_by = n;
}

/* Copies what a child inherits from its parent. */
static void inherit(ew_route *child, const ew_route *parent)
{
    child->receivers = calloc(parent->n_receivers ? parent->n_receivers : 1, sizeof *child->receivers);
    memcpy(child->receivers, parent->receivers, parent->n_receivers * sizeof *child->receivers);
    child->n_receivers = parent->n_receivers;
    child->group_by = calloc(parent->n_group_by ? parent->n_group_by : 1, sizeof *child->group_by);
    for (size_t i = 0; i < parent->n_group_by; i++)
        child->group_by[i] = strdup(parent->group_by[i]);
    child->n_group_by = parent->n_group_by;
    child->group_wait_ms = parent->group_wait_ms;
    child->group_interval_ms = parent->group_interval_ms;
    child->repeat_interval_ms = parent->repeat_interval_ms;
    child->send_resolved = parent->send_resolved;
    child->send_suppressed = parent->send_suppressed;
}

static void parse_route(json_t *obj, ew_route *r, const ew_notify_config *nc, int depth, ew_config_errors *errs);

static void parse_children(json_t *list, ew_route *r, const ew_notify_config *nc, int depth, ew_config_errors *errs)
{
    if (!json_is_array(list)) {
        ew_config_add_error(errs, "%s.routes: must be a list of routes", r->id);
        return;
    }
    if (depth >= MAX_ROUTE_DEPTH) {
        ew_config_add_error(errs, "%s.routes: routes nest deeper than %d levels", r->id, MAX_ROUTE_DEPTH);
        return;
    }
    r->children = calloc(json_array_size(list) + 1, sizeof *r->children);
    for (size_t i = 0; i < json_array_size(list); i++) {
        ew_route *c = &r->children[r->n_children++];
        if (asprintf(&c->id, "%s.%zu", r->id, i) < 0)
            c->id = NULL;
        inherit(c, r);
        parse_route(json_array_get(list, i), c, nc, depth + 1, errs);
    }
}

static void parse_route(json_t *obj, ew_route *r, const ew_notify_config *nc, int depth, ew_config_errors *errs)
{
    static const char *const keys[] = {"match", "receivers", "receiver", "group_by", "group_wait", "group_interval",
                                       "repeat_interval", "send_resolved", "send_suppressed", "continue", "routes",
                                       NULL};
    char where[160];
    snprintf(where, sizeof where, "notify.route%s", r->id + 4); /* "root.0.1" -> "notify.route.0.1" */
    if (!json_is_object(obj)) {
        ew_config_add_error(errs, "%s: must be an object", where);
        return;
    }
    only_keys(obj, keys, where, errs);
    json_t *m = json_object_get(obj, "match");
    if (m)
        parse_match(m, r, where, errs);
    if (depth == 0 && m)
        ew_config_add_error(errs, "%s.match: the root route matches every alert; put matches on its routes", where);
    parse_route_receivers(obj, r, nc, where, errs);
    parse_group_by(obj, r, where, errs);
    get_duration(obj, "group_wait", &r->group_wait_ms, where, errs);
    get_duration(obj, "group_interval", &r->group_interval_ms, where, errs);
    get_duration(obj, "repeat_interval", &r->repeat_interval_ms, where, errs);
    get_bool(obj, "send_resolved", &r->send_resolved, where, errs);
    get_bool(obj, "send_suppressed", &r->send_suppressed, where, errs);
    get_bool(obj, "continue", &r->continue_matching, where, errs);
    if (r->group_interval_ms < 1000)
        ew_config_add_error(errs, "%s.group_interval: must be at least 1s", where);
    json_t *children = json_object_get(obj, "routes");
    if (children)
        parse_children(children, r, nc, depth, errs);
}

static void free_route(ew_route *r)
{
    for (size_t i = 0; i < r->n_children; i++)
        free_route(&r->children[i]);
    free(r->children);
    for (size_t i = 0; i < r->n_match; i++) {
        free(r->match[i].label);
        free_strings(r->match[i].globs, r->match[i].n_globs);
    }
    free(r->match);
    free(r->receivers);
    free_strings(r->group_by, r->n_group_by);
    free(r->id);
}

/* ---- the whole object --------------------------------------------------------------- */

static void set_defaults(ew_notify_config *nc, const ew_config *cfg)
{
    memset(nc, 0, sizeof *nc);
    nc->group_id = strdup(cfg->notify_group && *cfg->notify_group ? cfg->notify_group : "edgewatch-notify");
    nc->dead_letter_topic = strdup(cfg->topic_dlq);
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    if (asprintf(&nc->instance, "%s:%d", host, (int)getpid()) < 0)
        nc->instance = NULL;
    nc->dedup_ttl_ms = DEFAULT_DEDUP_TTL_MS;
    nc->retry_initial_ms = 1000;
    nc->retry_max_ms = 300000;
    nc->dead_letter_after_ms = 3600000;
    ew_route *root = &nc->root;
    root->id = strdup("root");
    root->group_by = calloc(2, sizeof *root->group_by);
    root->group_by[0] = strdup("project");
    root->group_by[1] = strdup("rule");
    root->n_group_by = 2;
    root->group_wait_ms = DEFAULT_GROUP_WAIT_MS;
    root->group_interval_ms = DEFAULT_GROUP_INTERVAL_MS;
    root->repeat_interval_ms = DEFAULT_REPEAT_INTERVAL_MS;
    root->send_resolved = true;
}

/* Without receivers the notifier prints every alert: the demo's setup. */
static void add_default_receiver(ew_notify_config *nc)
{
    nc->receivers = calloc(1, sizeof *nc->receivers);
    nc->receivers[0] = (ew_receiver_config){.name = strdup("stdout"), .type = EW_RECEIVER_STDOUT};
    nc->n_receivers = 1;
}

static void parse_retry(json_t *obj, ew_notify_config *nc, ew_config_errors *errs)
{
    static const char *const keys[] = {"initial", "max", "dead_letter_after", NULL};
    if (!json_is_object(obj)) {
        ew_config_add_error(errs, "notify.retry: must be an object");
        return;
    }
    only_keys(obj, keys, "notify.retry", errs);
    get_duration(obj, "initial", &nc->retry_initial_ms, "notify.retry", errs);
    get_duration(obj, "max", &nc->retry_max_ms, "notify.retry", errs);
    get_duration(obj, "dead_letter_after", &nc->dead_letter_after_ms, "notify.retry", errs);
    if (nc->retry_initial_ms < 10)
        ew_config_add_error(errs, "notify.retry.initial: must be at least 10ms");
    if (nc->retry_max_ms < nc->retry_initial_ms)
        ew_config_add_error(errs, "notify.retry.max: must be at least notify.retry.initial");
}

static void parse_notify(json_t *obj, ew_notify_config *nc, ew_config_errors *errs)
{
    static const char *const keys[] = {"group_id", "instance", "dead_letter_topic", "dedup_ttl", "retry",
                                       "link_template", "receivers", "route", NULL};
    only_keys(obj, keys, "notify", errs);
    get_string(obj, "instance", &nc->instance, "notify", errs);
    get_string(obj, "dead_letter_topic", &nc->dead_letter_topic, "notify", errs);
    get_duration(obj, "dedup_ttl", &nc->dedup_ttl_ms, "notify", errs);
    get_string(obj, "link_template", &nc->link_template, "notify", errs);
    json_t *retry = json_object_get(obj, "retry");
    if (retry)
        parse_retry(retry, nc, errs);
    json_t *receivers = json_object_get(obj, "receivers");
    if (receivers)
        parse_receivers(receivers, nc, errs);
    if (nc->n_receivers == 0)
        add_default_receiver(nc);
    /* The root sends to every receiver when it names none: with one
     * receiver configured, that is the obvious meaning. */
    nc->root.receivers = calloc(nc->n_receivers, sizeof *nc->root.receivers);
    for (size_t i = 0; i < nc->n_receivers; i++)
        nc->root.receivers[nc->root.n_receivers++] = i;
    json_t *route = json_object_get(obj, "route");
    if (route)
        parse_route(route, &nc->root, nc, 0, errs);
    if (nc->dedup_ttl_ms < 60000)
        ew_config_add_error(errs, "notify.dedup_ttl: must be at least 1m");
    if (!nc->instance || !*nc->instance)
        ew_config_add_error(errs, "notify.instance: must not be empty");
}

size_t ew_notify_config_load(ew_notify_config *nc, const ew_config *cfg, ew_config_errors *errs)
{
    size_t before = errs->n;
    set_defaults(nc, cfg);
    json_t *obj = NULL;
    if (cfg->notify_json) {
        json_error_t jerr;
        obj = json_loads(cfg->notify_json, 0, &jerr);
    }
    if (obj)
        parse_notify(obj, nc, errs);
    else {
        add_default_receiver(nc);
        nc->root.receivers = calloc(1, sizeof *nc->root.receivers);
        nc->root.n_receivers = 1;
    }
    json_decref(obj);
    return errs->n - before;
}

void ew_notify_config_free(ew_notify_config *nc)
{
    free(nc->group_id);
    free(nc->dead_letter_topic);
    free(nc->instance);
    free(nc->link_template);
    for (size_t i = 0; i < nc->n_receivers; i++)
        free_receiver(&nc->receivers[i]);
    free(nc->receivers);
    free_route(&nc->root);
    memset(nc, 0, sizeof *nc);
}
