/* billing_core.c -- decode → batch → state → score → alert for billing
 * line items (billing_core.h; the maths is in cost.c).
 *
 * A batch holds decoded lines in arrival order; the store applies them in
 * that order with the batch's offsets, so a restated line after its first
 * version in the same batch ends as the later one, as it would one by one.
 * Scoring runs per queued refresh: read the project (horizon and days),
 * score both cost rules, send their events, wait until the sink holds them
 * durably, and only then commit the detector state and drop the refresh
 * from the queue. A crash in between scores the refresh again from the
 * same state, with the same event ids.
 */
#include "edgewatch/billing_core.h"
#include "edgewatch/alert.h"
#include "edgewatch/cost.h"
#include "edgewatch/metadata.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A refresh of a large account is hundreds of thousands of lines; this
 * many per atomic step keeps each script call well under a second. */
#define BATCH_LINES 2048
#define MAX_BATCH_PARTITIONS 256
#define MAX_CURRENCIES 32
#define TOP_PER_DIMENSION 3
#define MAX_CONTRIBUTORS (3 * TOP_PER_DIMENSION)
#define MAX_RELATED 16
#define MAX_REFRESHES_PER_CALL 64

struct ew_billing_core {
    const ew_config *cfg;
    const char *topic;
    ew_state *state;
    ew_core_output out;
    bool replay;
    ew_metadata *meta;
    const ew_suppressions *suppressions;
    char currency_text[256];
    const char *currencies[MAX_CURRENCIES];
    ew_billing_decoder decoder;
    ew_billing_record *batch; /* BATCH_LINES */
    size_t n_batch;
    ew_flush_partition parts[MAX_BATCH_PARTITIONS];
    size_t n_parts;
    bool refresh_in_batch;
    ew_billing_counters n;
};

/* ---- setup ---- */


/* "USD, EUR" -> {"USD", "EUR"}, pointing into the core's own copy. */
static void split_currencies(ew_billing_core *c)
{
    snprintf(c->currency_text, sizeof c->currency_text, "%s", c->cfg->billing_currencies);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(c->currency_text, ", ", &save); tok && n < MAX_CURRENCIES;
         tok = strtok_r(NULL, ", ", &save))
        c->currencies[n++] = tok;
    c->decoder = (ew_billing_decoder){c->cfg->billing_project_tag, c->currencies, n, c->cfg->max_line_bytes};
}

ew_billing_core *ew_billing_core_new(const ew_config *cfg, ew_state *state, const char *topic, ew_core_output out,
                                     bool replay, char *err, size_t errcap)
{
    ew_metadata *m = ew_metadata_load_for(cfg, err, errcap);
    if (!m)
        return NULL;
    ew_billing_core *c = calloc(1, sizeof *c);
    *c = (ew_billing_core){.cfg = cfg, .topic = topic, .state = state, .out = out, .replay = replay, .meta = m};
    c->batch = malloc(BATCH_LINES * sizeof *c->batch);
    split_currencies(c);
    return c;
}

void ew_billing_core_free(ew_billing_core *c)
{
    if (!c)
        return;
    ew_metadata_free(c->meta);
    free(c->batch);
    free(c);
}

bool ew_billing_core_reload_metadata(ew_billing_core *c, char *err, size_t errcap)
{
    ew_metadata *m = ew_metadata_load_for(c->cfg, err, errcap);
    if (!m)
        return false;
    ew_metadata_free(c->meta);
    c->meta = m;
    return true;
}

void ew_billing_core_set_suppressions(ew_billing_core *c, const ew_suppressions *s) { c->suppressions = s; }
const ew_billing_counters *ew_billing_core_counters_of(const ew_billing_core *c) { return &c->n; }
bool ew_billing_core_flush_due(const ew_billing_core *c) { return c->refresh_in_batch || c->n_batch == BATCH_LINES; }

/* ---- batching ---- */

static ew_flush_partition *batch_partition(ew_billing_core *c, int32_t partition)
{
    for (size_t i = 0; i < c->n_parts; i++)
        if (c->parts[i].partition == partition)
            return &c->parts[i];
    if (c->n_parts == MAX_BATCH_PARTITIONS)
        return NULL;
    ew_flush_partition *p = &c->parts[c->n_parts++];
    *p = (ew_flush_partition){partition, -1, -1, INT64_MIN};
    return p;
}

static void consumed(ew_flush_partition *p, int64_t offset)
{
    if (p->from_offset < 0)
        p->from_offset = offset;
    p->next_offset = offset + 1;
}

ew_fold_status ew_billing_core_fold(ew_billing_core *c, int32_t partition, int64_t offset, const void *buf,
                                    size_t len, ew_decode_error *reason)
{
    /* Full before a partition is added: an added one must hold a record. */
    ew_flush_partition *p = c->n_batch < BATCH_LINES ? batch_partition(c, partition) : NULL;
    if (!p)
        return EW_FOLD_FULL;
    /* Decoded straight into the batch's next slot: no copy per line. */
    ew_billing_record *r = &c->batch[c->n_batch];
    *reason = ew_billing_decode(&c->decoder, buf, len, r);
    c->n.records++;
    consumed(p, offset);
    if (*reason != EW_DECODE_OK) {
        c->n.decode_errors[*reason]++;
        return EW_FOLD_DEAD_LETTER;
    }
    c->n_batch++;
    if (r->kind == EW_BILL_REFRESH_END) {
        c->n.refresh_ends++;
        c->refresh_in_batch = true;
    } else {
        c->n.lines++;
    }
    return EW_FOLD_OK;
}

void ew_billing_core_forget(ew_billing_core *c)
{
    c->n_batch = 0;
    c->n_parts = 0;
    c->refresh_in_batch = false;
}

ew_state_status ew_billing_core_flush(ew_billing_core *c, ew_flush_partition *parts, size_t cap, size_t *n_parts,
                                      int32_t *refused_partition, int64_t *refused_offset)
{
    *n_parts = c->n_parts < cap ? c->n_parts : cap;
    memcpy(parts, c->parts, *n_parts * sizeof *parts);
    if (c->n_parts == 0)
        return EW_STATE_OK;
    ew_state_status st = ew_state_cost_apply(c->state, c->topic, c->parts, c->n_parts, c->batch, c->n_batch,
                                             refused_partition, refused_offset);
    if (st == EW_STATE_DOWN)
        return st;
    c->n.flushes++;
    c->n.refused += st == EW_STATE_REFUSED;
    ew_billing_core_forget(c);
    return st;
}

/* ---- scoring ---- */

typedef struct {
    const char *name;
    const ew_project *meta; /* NULL: not in the metadata file */
    const ew_rule_config *rules;
    const char *report_version;
    ew_cost_series series;
} project_context;

static const ew_suppression *silence_of(ew_billing_core *c, const project_context *p, const char *rule,
                                        const ew_cost_measure *m)
{
    if (!c->suppressions)
        return NULL;
    return ew_suppression_match(c->suppressions, EW_SUPPRESS_SILENCE, rule, p->name, p->name, m->from_ms, m->to_ms);
}

/* Notes this incident for related_alerts and lists the traffic incidents
 * of the project's distributions it overlaps. Billing has hourly resolution
 * and lags by hours, so a cost incident counts from the UTC midnight of its
 * first breach. A failure only leaves the list short: it must not hold the
 * alert back. */
static size_t related_traffic(ew_billing_core *c, const project_context *p, const ew_incident *inc,
                              const ew_cost_measure *m, char (*ids)[EW_ALERT_ID_LEN])
{
    size_t n = 0;
    int64_t from = inc->start_ws - inc->start_ws % EW_BILL_DAY_MS, end = inc->open ? INT64_MAX : m->to_ms;
    if (ew_state_incident_note(c->state, p->name, inc->alert_id, "project", from, end) != EW_STATE_OK ||
        ew_state_incidents_overlapping(c->state, p->name, "distribution", from, m->to_ms, ids, MAX_RELATED, &n) !=
            EW_STATE_OK)
        return 0;
    return n;
}

static double alert_threshold(const ew_rule_config *r, const ew_cost_measure *m, int direction)
{
    double step = fmax(r->min_impact,
                       fmax(fabs(m->expected) * r->min_impact_percent / 100, r->z_warning * m->sigma));
    return m->expected + direction * step;
}

/* The contributors need every service, usage type and resource of the
 * days scored, which scoring itself does not: read them for alerts only. */
static size_t explain(ew_billing_core *c, const project_context *p, const ew_cost_measure *m, int direction,
                      ew_contributor *top)
{
    ew_cost_project proj;
    ew_cost_day *days = calloc(p->series.n_days + 1, sizeof *days);
    size_t n = 0;
    if (ew_state_cost_read(c->state, p->name, p->series.first_day_ms, p->series.n_days, true, &proj, days) ==
        EW_STATE_OK) {
        ew_cost_series full = p->series;
        full.days = days;
        n = ew_cost_contributors(&full, m, direction, TOP_PER_DIMENSION, top, MAX_CONTRIBUTORS);
        ew_cost_days_free(days, p->series.n_days);
    }
    free(days);
    return n;
}

static bool emit(ew_billing_core *c, const project_context *p, ew_rule_id rule, const ew_incident *inc,
                 const ew_cost_measure *m, ew_event_kind kind)
{
    int direction = rule == EW_RULE_COST_SPIKE ? 1 : -1;
    const char *name = ew_rule_name(rule);
    ew_contributor top[MAX_CONTRIBUTORS];
    char related[MAX_RELATED][EW_ALERT_ID_LEN];
    size_t n_top = kind == EW_EVENT_RESOLVED ? 0 : explain(c, p, m, direction, top);
    const ew_suppression *silence = silence_of(c, p, name, m);
    ew_alert a = {
        .alert_id = inc->alert_id,
        .kind = kind,
        .severity = rule == EW_RULE_COST_DROP ? EW_SEV_INFO : inc->severity,
        .rule = name,
        .entity_type = "project",
        .entity_id = p->name,
        .project = p->name,
        .owner = p->meta ? p->meta->owner : NULL,
        .route = p->meta ? p->meta->route : NULL,
        .window_start_ms = m->from_ms,
        .window_end_ms = m->to_ms,
        .observed = m->actual,
        .expected = m->expected,
        .threshold = alert_threshold(&p->rules[rule], m, direction),
        .z_short = m->z,
        .z_long = NAN,
        .top = top,
        .n_top = n_top,
        .suppressed_by = silence ? silence->id : NULL,
        .related = related,
        .n_related = related_traffic(c, p, inc, m, related),
        .report_version = p->report_version,
        .emitted_at_ms = ew_now_ms(),
        .replay = c->replay,
    };
    char *json = ew_alert_json(&a);
    bool ok = c->out.alert(c->out.ctx, a.alert_id, json);
    free(json);
    ew_info("alert %s %s project %s (%s): $%.0f/day vs $%.0f/day expected, z %.1f",
            kind == EW_EVENT_RESOLVED ? "resolved" : kind == EW_EVENT_UPDATE ? "update" : "firing", name, p->name,
            m->completed_day ? "completed day" : "run-rate", m->actual, m->expected, m->z);
    c->n.alerts++;
    c->n.alerts_firing += kind == EW_EVENT_FIRING;
    c->n.alerts_resolved += kind == EW_EVENT_RESOLVED;
    if (kind != EW_EVENT_UPDATE)
        c->n.by_rule[rule - EW_RULE_COST_SPIKE][kind == EW_EVENT_RESOLVED]++;
    return ok;
}

static ew_severity severity_of(const ew_rule_config *r, const ew_cost_measure *m)
{
    /* Critical is a large breach on every axis, not a high z alone: with
     * a few percent of noise, any change past the thresholds has a large z. */
    double impact = m->actual - m->expected;
    bool large = impact >= 2 * r->min_impact &&
                 (m->expected <= 0 || 100 * impact / m->expected >= 2 * r->min_impact_percent);
    return large && m->z >= r->z_critical ? EW_SEV_CRITICAL : EW_SEV_WARNING;
}

/* Runs one rule's lifecycle on measure m; m->scored false counts nothing. */
static bool score_rule(ew_billing_core *c, const project_context *p, ew_rule_id rule, ew_incident *inc,
                       const ew_cost_measure *m)
{
    const ew_rule_config *r = &p->rules[rule];
    int direction = rule == EW_RULE_COST_SPIKE ? 1 : -1;
    ew_detection d = {
        .observed = m->actual,
        .expected = m->expected,
        .z_short = m->z,
        .z_long = NAN,
        .scored = m->scored && r->enabled,
        .breach = ew_cost_breaches(m, r, direction),
        .severity = direction > 0 ? severity_of(r, m) : EW_SEV_WARNING,
    };
    ew_rule_params params = {rule, r, m->to_ms - m->from_ms, 0, 1};
    ew_event_kind kind = ew_lifecycle(&params, inc, &d, m->from_ms, p->name);
    return kind == EW_EVENT_NONE || emit(c, p, rule, inc, m, kind);
}

/* The spike measure: whichever of run-rate and completed day breaches
 * (the larger z if both), else the run-rate, the newer of the two. */
static const ew_cost_measure *spike_measure(const ew_rule_config *r, const ew_cost_measure *run,
                                            const ew_cost_measure *day)
{
    bool run_b = ew_cost_breaches(run, r, 1), day_b = ew_cost_breaches(day, r, 1);
    if (run_b && (!day_b || run->z >= day->z))
        return run;
    if (day_b || !run->scored)
        return day;
    return run;
}

static bool score_series(ew_billing_core *c, project_context *p, ew_cost_det *det)
{
    ew_cost_measure run = ew_cost_run_rate(&p->series, &p->rules[EW_RULE_COST_SPIKE]);
    ew_cost_measure day = ew_cost_completed_day(&p->series, &p->rules[EW_RULE_COST_SPIKE]);
    ew_cost_measure drop_day = ew_cost_completed_day(&p->series, &p->rules[EW_RULE_COST_DROP]);
    bool ok = score_rule(c, p, EW_RULE_COST_SPIKE, &det->spike,
                         spike_measure(&p->rules[EW_RULE_COST_SPIKE], &run, &day));
    ok = score_rule(c, p, EW_RULE_COST_DROP, &det->drop, &drop_day) && ok;
    det->last_horizon_ms = p->series.horizon_ms;
    return ok;
}

/* Reads the project twice: once for its horizon, which says which days
 * the second read needs. */
static ew_state_status read_project(ew_billing_core *c, project_context *p, ew_cost_project *proj,
                                    ew_cost_day *days, size_t *n_days)
{
    *n_days = 0;
    ew_state_status st = ew_state_cost_read(c->state, p->name, 0, 0, false, proj, NULL);
    if (st != EW_STATE_OK || proj->horizon_ms == INT64_MIN)
        return st;
    /* Both rules' baselines: read the longer. */
    const ew_rule_config *r = &p->rules[EW_RULE_COST_SPIKE];
    if (p->rules[EW_RULE_COST_DROP].long_window_ms > r->long_window_ms)
        r = &p->rules[EW_RULE_COST_DROP];
    int64_t first_day = ew_cost_first_day(proj->horizon_ms, r);
    *n_days = ew_cost_day_count(proj->horizon_ms, r);
    st = ew_state_cost_read(c->state, p->name, first_day, *n_days, false, proj, days);
    if (st != EW_STATE_OK) {
        *n_days = 0;
        return st;
    }
    p->series = (ew_cost_series){days, *n_days, first_day, proj->first_ms, proj->horizon_ms};
    return st;
}

/* det_out gets the project's new state text, or "" to leave it as is. */
static bool score_project(ew_billing_core *c, const ew_cost_refresh *ref, const char *name, char *det_out)
{
    det_out[0] = '\0';
    project_context p = {
        .name = name, .meta = ew_metadata_project(c->meta, name), .report_version = ref->report_version};
    if (p.meta && p.meta->excluded)
        return true;
    p.rules = p.meta && p.meta->rules ? p.meta->rules : c->cfg->rules;
    ew_cost_project *proj = calloc(1, sizeof *proj);
    ew_cost_day *days = calloc(EW_COST_MAX_DAYS, sizeof *days);
    size_t n_days = 0;
    bool ok = read_project(c, &p, proj, days, &n_days) == EW_STATE_OK;
    ew_cost_det det;
    if (ok && n_days > 0) {
        if (!ew_cost_det_parse(proj->det, &det)) {
            ew_warn("project %s: unreadable cost detector state, starting afresh", name);
            ew_cost_det_init(&det);
        }
        ok = score_series(c, &p, &det);
        ew_cost_det_format(&det, det_out, EW_COST_DET_MAX);
        c->n.projects_scored++;
    }
    ew_cost_days_free(days, n_days);
    free(days);
    free(proj);
    return ok;
}

static bool score_refresh(ew_billing_core *c, const ew_cost_refresh *ref)
{
    char **dets = calloc(ref->n_projects + 1, sizeof *dets);
    const char **names = calloc(ref->n_projects + 1, sizeof *names);
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < ref->n_projects && ok; i++) {
        char *det = malloc(EW_COST_DET_MAX);
        ok = score_project(c, ref, ref->projects[i], det);
        if (ok && det[0]) {
            names[n] = ref->projects[i];
            dets[n++] = det;
        } else {
            free(det);
        }
    }
    /* As for windows: state moves on only once the events are durable. */
    ok = ok && c->out.durable(c->out.ctx) &&
         ew_state_cost_commit(c->state, ref->seq, names, (const char *const *)dets, n) == EW_STATE_OK;
    for (size_t i = 0; i < n; i++)
        free(dets[i]);
    free(dets);
    free(names);
    return ok;
}

void ew_billing_core_score(ew_billing_core *c)
{
    for (int i = 0; i < MAX_REFRESHES_PER_CALL; i++) {
        ew_cost_refresh ref;
        bool found = false;
        if (ew_state_cost_claim_refresh(c->state, &ref, &found) != EW_STATE_OK || !found)
            return;
        bool ok = score_refresh(c, &ref);
        if (ok) {
            c->n.refreshes_scored++;
            ew_info("scored billing refresh %s of %s: %zu projects", ref.report_version, ref.billing_period,
                    ref.n_projects);
        } else {
            ew_warn("scoring billing refresh %s of %s failed; it is retried when its claim expires",
                    ref.report_version, ref.billing_period);
        }
        ew_cost_refresh_free(&ref);
        if (!ok)
            return;
    }
}

void ew_billing_core_log_summary(const ew_billing_core *c)
{
    char reasons[512];
    uint64_t errors = 0;
    for (int i = 1; i < EW_DECODE_REASONS; i++)
        errors += c->n.decode_errors[i];
    ew_core_format_reasons(c->n.decode_errors, reasons, sizeof reasons);
    const ew_state_stats *st = ew_state_stats_of(c->state);
    ew_info("billing: %" PRIu64 " records (%" PRIu64 " lines, %" PRIu64 " refresh ends), %" PRIu64
            " dead-lettered (%s), %" PRIu64 " flushes (%" PRIu64 " refused), %" PRIu64 " refreshes scored (%" PRIu64
            " project scorings), %" PRIu64 " alert events (cost_spike %" PRIu64 " fired %" PRIu64
            " resolved, cost_drop %" PRIu64 " fired %" PRIu64 " resolved); state store: %" PRIu64
            " round trips, %" PRIu64 " commands",
            c->n.records, c->n.lines, c->n.refresh_ends, errors, reasons, c->n.flushes, c->n.refused,
            c->n.refreshes_scored, c->n.projects_scored, c->n.alerts, c->n.by_rule[0][0], c->n.by_rule[0][1],
            c->n.by_rule[1][0], c->n.by_rule[1][1], st->round_trips, st->commands);
}
