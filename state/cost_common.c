/* cost_common.c -- the stored forms of cost state that both backends use
 * (see cost_common.h): line text, day-hash fields, project summaries and
 * incident entries, written and read the same way by Valkey and memory.
 */
#include "cost_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char clean_byte(unsigned char c) { return c < 0x20 || c == 0x7f ? '?' : (char)c; }

/* Appends a text field with control bytes replaced: a stored field never
 * holds the separator, nor the newline of a refresh's project list. */
static size_t put_text(char *out, size_t at, size_t cap, const char *text)
{
    for (const unsigned char *c = (const unsigned char *)text; *c && at + 1 < cap; c++)
        out[at++] = clean_byte(*c);
    if (at + 1 < cap)
        out[at++] = EW_COST_SEP;
    return at;
}

void ew_cost_clean(const char *text, char *out, size_t cap)
{
    size_t n = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c && n + 1 < cap; c++)
        out[n++] = clean_byte(*c);
    out[n] = '\0';
}

size_t ew_cost_line_format(const ew_billing_record *r, char out[EW_COST_LINE_MAX])
{
    /* The record's fields are bounded (billing.h), so all fits. */
    size_t at = 0;
    at = put_text(out, at, EW_COST_LINE_MAX, r->report_version);
    at = put_text(out, at, EW_COST_LINE_MAX, r->project);
    at = put_text(out, at, EW_COST_LINE_MAX, r->service);
    at = put_text(out, at, EW_COST_LINE_MAX, r->usage_type);
    at = put_text(out, at, EW_COST_LINE_MAX, r->resource_id);
    int n = snprintf(out + at, EW_COST_LINE_MAX - at, "%" PRId64 "%c%" PRId64 "%c%" PRId64, r->usage_start_ms,
                     EW_COST_SEP, r->usage_end_ms, EW_COST_SEP, r->cost_micros);
    return at + (size_t)n;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (!*s)
        return false;
    *out = strtoll(s, &end, 10);
    return *end == '\0';
}

bool ew_cost_line_parse(char *text, ew_cost_line *out)
{
    char *f[8];
    size_t n = 0;
    for (char *p = text; n < 8; n++) {
        f[n] = p;
        p = strchr(p, EW_COST_SEP);
        if (!p)
            break;
        *p++ = '\0';
    }
    if (n != 7)
        return false;
    *out = (ew_cost_line){f[0], f[1], f[2], f[3], f[4], 0, 0, 0};
    return parse_i64(f[5], &out->start_ms) && parse_i64(f[6], &out->end_ms) && parse_i64(f[7], &out->cost_micros);
}

void ew_cost_project_init(ew_cost_project *p)
{
    p->first_ms = INT64_MIN;
    p->horizon_ms = INT64_MIN;
    p->det[0] = '\0';
}

void ew_cost_project_field(ew_cost_project *p, const char *field, const char *value, size_t value_len)
{
    if (strcmp(field, "first") == 0)
        p->first_ms = strtoll(value, NULL, 10);
    else if (strcmp(field, "horizon") == 0)
        p->horizon_ms = strtoll(value, NULL, 10);
    else if (strcmp(field, "det") == 0) {
        size_t n = value_len < EW_COST_DET_MAX - 1 ? value_len : EW_COST_DET_MAX - 1;
        memcpy(p->det, value, n);
        p->det[n] = '\0';
    }
}

/* "t:HH" or "X:HH:value": the hour (-1 when the name is not one of ours). */
static int field_hour(const char *f, char dim)
{
    if (f[0] != dim || f[1] != ':' || f[2] < '0' || f[2] > '9' || f[3] < '0' || f[3] > '9')
        return -1;
    int h = (f[2] - '0') * 10 + (f[3] - '0');
    if (h > 23 || (dim == 't' ? f[4] != '\0' : f[4] != ':'))
        return -1;
    return h;
}

static char entry_dim(const char *f)
{
    static const char dims[] = "sur";
    for (const char *d = dims; *d; d++)
        if (field_hour(f, *d) >= 0)
            return *d;
    return 0;
}

static int by_hour_dim_value(const void *a, const void *b)
{
    const ew_cost_entry *x = a, *y = b;
    if (x->hour != y->hour)
        return x->hour < y->hour ? -1 : 1;
    if (x->dim != y->dim)
        return x->dim < y->dim ? -1 : 1;
    return strcmp(x->value, y->value);
}

void ew_cost_day_build(ew_cost_day *day, int64_t day_ms, const ew_cost_field *fields, size_t n, bool with_entries)
{
    memset(day, 0, sizeof *day);
    day->day_ms = day_ms;
    size_t n_entries = 0, text_len = 0;
    for (size_t i = 0; i < n; i++) {
        int h = field_hour(fields[i].field, 't');
        if (h >= 0)
            day->hour_micros[h] += fields[i].micros;
        else if (with_entries && fields[i].micros != 0 && entry_dim(fields[i].field)) {
            n_entries++;
            text_len += strlen(fields[i].field + 5) + 1;
        }
    }
    if (!n_entries)
        return;
    day->entries = calloc(n_entries, sizeof *day->entries);
    day->text = malloc(text_len);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *f = fields[i].field;
        char dim = fields[i].micros != 0 ? entry_dim(f) : 0;
        if (!dim)
            continue;
        size_t len = strlen(f + 5) + 1;
        memcpy(day->text + at, f + 5, len);
        day->entries[day->n_entries++] =
            (ew_cost_entry){dim, (uint8_t)field_hour(f, dim), fields[i].micros, day->text + at};
        at += len;
    }
    qsort(day->entries, day->n_entries, sizeof *day->entries, by_hour_dim_value);
}

int ew_cost_incident_format(char *out, size_t cap, const char *entity_type, int64_t start_ms, int64_t end_ms)
{
    return snprintf(out, cap, "%s %" PRId64 " %" PRId64, entity_type, start_ms, end_ms);
}

bool ew_cost_incident_overlaps(const char *entry, const char *entity_type, int64_t from_ms, int64_t to_ms)
{
    size_t n = strlen(entity_type);
    if (strncmp(entry, entity_type, n) != 0 || entry[n] != ' ')
        return false;
    char *end;
    int64_t start = strtoll(entry + n + 1, &end, 10);
    int64_t stop = strtoll(end, NULL, 10);
    return start < to_ms && stop > from_ms;
}

int ew_cost_strcmp_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

size_t ew_cost_ids_pick(const char **ids, size_t n, char (*out)[64], size_t cap)
{
    qsort(ids, n, sizeof *ids, ew_cost_strcmp_ptr);
    size_t m = 0;
    for (size_t i = 0; i < n && m < cap; i++)
        if (strlen(ids[i]) < 64) /* a cut id would name another alert */
            snprintf(out[m++], 64, "%s", ids[i]);
    return m;
}
