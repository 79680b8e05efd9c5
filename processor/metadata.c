/* metadata.c -- load the distribution metadata file into a name index.
 *
 * The index is an open-addressing table from lower-cased name to
 * distribution, sized at twice the number of names so probes stay short.
 * Names are the distribution id, its d….cloudfront.net domain and its
 * aliases: a record's identity may be any of them (standard logs carry the
 * id, real-time logs a domain), and one lookup resolves all three. Names
 * are matched case-insensitively because Host headers are.
 */
#include "edgewatch/metadata.h"

#include <ctype.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 16 bytes, as a name pointer and an index were: the metadata's memory
 * counts per distribution (bench_memory). Names live in one pool, lower
 * case and NUL-padded past their end to a multiple of 8 bytes (for
 * domain_eq), packed, so a lookup reads the slot's line and one line of a
 * dense pool rather than a malloc'd string anywhere on the heap. */
typedef struct {
    uint32_t tag;  /* the hash's high half: most probes end on it */
    uint32_t len;
    uint32_t dist; /* + 1; 0: the slot is free */
    uint32_t at;   /* of the name in the pool */
} domain_slot;

static uint32_t hash_tag(uint64_t hash) { return (uint32_t)(hash >> 32); }

/* Zeroed; NULL when out of memory. */
static domain_slot *alloc_slots(size_t n) { return calloc(n, sizeof(domain_slot)); }

struct ew_metadata {
    ew_distribution *dists;
    size_t n_dists;
    ew_project *projects;
    size_t n_projects;
    domain_slot *slots;
    size_t n_slots; /* power of two */
    char *names;    /* the slots' names (see domain_slot) */
    size_t names_len, names_cap;
};

/* ASCII case folding: DNS names compare case-insensitively in ASCII only,
 * and tolower() goes through the locale on every byte of every record. */
static inline unsigned char ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }

/* Eight bytes at a time, per record. Setting bit 5 of every byte folds
 * A-Z onto a-z; it also merges a few pairs of other bytes ('@' and '`'),
 * which only costs a rare extra compare, never a wrong match. */
static uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

/* The last r (1..7) bytes of s, from offset s.len - r, in the low bytes
 * of a word whose other bytes are 0 (what memcpy into a zeroed word
 * gives). One load that overlaps the previous word when s is that long,
 * rather than a variable-length memcpy call per record. */
static uint64_t load_tail(ew_str s, size_t r)
{
    if (s.len >= 8)
        return load64(s.ptr + s.len - 8) >> (8 * (8 - r));
    uint64_t w = 0;
    for (size_t k = 0; k < r; k++)
        w |= (uint64_t)(unsigned char)s.ptr[s.len - r + k] << (8 * k);
    return w;
}

static uint64_t hash_domain(ew_str s)
{
    const uint64_t fold = 0x2020202020202020ULL;
    uint64_t h = EW_HASH_SEED ^ s.len;
    size_t i = 0;
    for (; i + 8 <= s.len; i += 8) {
        h = (h ^ (load64(s.ptr + i) | fold)) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 32;
    }
    if (i < s.len) {
        h = (h ^ (load_tail(s, s.len - i) | fold)) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 32;
    }
    return h;
}

/* ascii_lower of each byte of w, eight at a time: a byte gets bit 5 when
 * it is below 0x80, at least 'A' and not above 'Z'. Adding to 7-bit
 * values cannot carry into the next byte. */
static uint64_t ascii_lower8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t low7 = w & ~highs;
    uint64_t at_least_a = low7 + (0x80 - 'A') * ones, above_z = low7 + (0x7f - 'Z') * ones;
    uint64_t upper = (at_least_a ^ above_z) & ~w & highs;
    return w | (upper >> 2);
}

/* Whether s, lower-cased, is the slot's name: the same length and the same
 * bytes, compared eight at a time (the slot's name is padded for that). A
 * NUL in s never matches, since names have none. */
static bool domain_eq(const ew_metadata *m, const domain_slot *slot, ew_str s)
{
    if (slot->len != s.len)
        return false;
    const char *name = m->names + slot->at;
    size_t i = 0;
    for (; i + 8 <= s.len; i += 8)
        if (ascii_lower8(load64(s.ptr + i)) != load64(name + i))
            return false;
    return i == s.len || ascii_lower8(load_tail(s, s.len - i)) == load64(name + i);
}

static bool index_domain(ew_metadata *m, const char *name, size_t dist, char *err, size_t errcap)
{
    ew_str s = ew_str_make(name, strlen(name));
    uint64_t h = hash_domain(s);
    size_t i = h & (m->n_slots - 1);
    while (m->slots[i].dist) {
        if (m->slots[i].tag == hash_tag(h) && domain_eq(m, &m->slots[i], s)) {
            snprintf(err, errcap, "name \"%s\" belongs to two distributions (%s and %s)", name,
                     m->dists[m->slots[i].dist - 1].id, m->dists[dist].id);
            return false;
        }
        i = (i + 1) & (m->n_slots - 1);
    }
    /* Zeroed from the name's end up to the next multiple of 8 past it. */
    size_t room = (s.len / 8 + 1) * 8;
    if (m->names_len + room > m->names_cap) {
        size_t cap = m->names_cap ? 2 * m->names_cap : 4096;
        while (cap < m->names_len + room)
            cap *= 2;
        char *names = cap <= UINT32_MAX ? realloc(m->names, cap) : NULL;
        if (!names) {
            snprintf(err, errcap, "out of memory for the name index");
            return false;
        }
        m->names = names;
        m->names_cap = cap;
    }
    char *lower = m->names + m->names_len;
    memset(lower, 0, room);
    for (size_t k = 0; k < s.len; k++)
        lower[k] = (char)ascii_lower((unsigned char)name[k]);
    m->slots[i] = (domain_slot){hash_tag(h), (uint32_t)s.len, (uint32_t)dist + 1, (uint32_t)m->names_len};
    m->names_len += room;
    return true;
}

static char *string_field(json_t *obj, const char *key, const char *fallback)
{
    json_t *v = json_object_get(obj, key);
    return strdup(json_is_string(v) ? json_string_value(v) : fallback);
}

static size_t count_names(json_t *list)
{
    size_t n = 0, i;
    json_t *d;
    json_array_foreach(list, i, d) n += 2 + json_array_size(json_object_get(d, "aliases"));
    return n;
}

/* ---- per-distribution policy: floor, exclusion, rule overrides ---- */

static json_t *project_policy(json_t *projects, const char *project)
{
    json_t *p = json_is_object(projects) && *project ? json_object_get(projects, project) : NULL;
    return json_is_object(p) ? p : NULL;
}

static bool scalar_text(json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    return true;
}

static void add_override(ew_kv **list, size_t *n_list, const char *rule, const char *key, const char *value)
{
    *list = realloc(*list, (*n_list + 1) * sizeof **list);
    ew_kv *kv = &(*list)[(*n_list)++];
    size_t n = strlen(rule) + strlen(key) + 2;
    kv->key = malloc(n);
    snprintf(kv->key, n, "%s.%s", rule, key);
    kv->value = strdup(value);
}

/* {"rule": {"key": value}} of a distribution or a project, appended in
 * file order so later (the distribution's) overrides win. */
static bool load_overrides(ew_kv **list, size_t *n_list, json_t *rules, const char *where, char *err,
                           size_t errcap)
{
    if (!rules)
        return true;
    const char *rule, *key;
    json_t *settings, *v;
    if (!json_is_object(rules)) {
        snprintf(err, errcap, "%s: \"rules\" must be an object of rule -> settings", where);
        return false;
    }
    json_object_foreach(rules, rule, settings) {
        ew_rule_id id;
        if (!ew_rule_parse(rule, &id) || !json_is_object(settings)) {
            snprintf(err, errcap, "%s: rules.%s: unknown rule or not an object", where, rule);
            return false;
        }
        json_object_foreach(settings, key, v) {
            char text[128];
            if (!scalar_text(v, text, sizeof text)) {
                snprintf(err, errcap, "%s: rules.%s.%s must be a number, string or boolean", where, rule, key);
                return false;
            }
            add_override(list, n_list, rule, key, text);
        }
    }
    return true;
}

static bool load_scalars(ew_distribution *d, json_t *obj, const char *where, char *err, size_t errcap)
{
    json_t *floor = json_object_get(obj, "floor"), *excluded = json_object_get(obj, "excluded");
    if (floor && (!json_is_number(floor) || json_number_value(floor) < 0)) {
        snprintf(err, errcap, "%s: \"floor\" must be a number of requests per minute >= 0", where);
        return false;
    }
    if (excluded && !json_is_boolean(excluded)) {
        snprintf(err, errcap, "%s: \"excluded\" must be true or false", where);
        return false;
    }
    if (floor)
        d->floor_per_min = json_number_value(floor);
    if (excluded)
        d->excluded = json_is_true(excluded);
    return true;
}

static bool load_policy(ew_distribution *d, json_t *project, json_t *obj, const char *path, size_t idx, char *err,
                        size_t errcap)
{
    char where[512];
    d->floor_per_min = NAN;
    if (project) {
        snprintf(where, sizeof where, "%s: projects.%s", path, d->project);
        if (!load_scalars(d, project, where, err, errcap) ||
            !load_overrides(&d->overrides, &d->n_overrides, json_object_get(project, "rules"), where, err, errcap))
            return false;
    }
    snprintf(where, sizeof where, "%s: distributions[%zu] (%s)", path, idx, d->id);
    return load_scalars(d, obj, where, err, errcap) &&
           load_overrides(&d->overrides, &d->n_overrides, json_object_get(obj, "rules"), where, err, errcap);
}

static bool resolve_project_rules(ew_metadata *m, const ew_config *cfg, char *err, size_t errcap)
{
    for (size_t i = 0; i < m->n_projects; i++) {
        ew_project *p = &m->projects[i];
        free(p->rules);
        p->rules = NULL;
        if (!p->n_overrides)
            continue;
        char why[256];
        p->rules = malloc(EW_RULES * sizeof *p->rules);
        if (!ew_config_override_rules(cfg, p->overrides, p->n_overrides, p->rules, why, sizeof why)) {
            snprintf(err, errcap, "metadata: project %s: %s", p->name, why);
            return false;
        }
    }
    return true;
}

bool ew_metadata_resolve_rules(ew_metadata *m, const ew_config *cfg, char *err, size_t errcap)
{
    if (!resolve_project_rules(m, cfg, err, errcap))
        return false;
    for (size_t i = 0; i < m->n_dists; i++) {
        ew_distribution *d = &m->dists[i];
        free(d->rules);
        d->rules = NULL;
        if (!d->n_overrides)
            continue;
        char why[256];
        d->rules = malloc(EW_RULES * sizeof *d->rules);
        if (!ew_config_override_rules(cfg, d->overrides, d->n_overrides, d->rules, why, sizeof why)) {
            snprintf(err, errcap, "metadata: distribution %s: %s", d->id, why);
            return false;
        }
    }
    return true;
}

static bool load_distribution(ew_metadata *m, json_t *d, json_t *projects, size_t idx, const char *path, char *err,
                              size_t errcap)
{
    json_t *id = json_object_get(d, "id"), *domain = json_object_get(d, "domain");
    if (!json_is_string(id) || !json_is_string(domain)) {
        snprintf(err, errcap, "%s: distributions[%zu] needs string \"id\" and \"domain\"", path, idx);
        return false;
    }
    ew_distribution *dist = &m->dists[idx];
    dist->id = strdup(json_string_value(id));
    dist->project = string_field(d, "project", "");
    dist->owner = string_field(d, "owner", "");
    dist->route = string_field(d, "route", "");
    m->n_dists = idx + 1;
    if (!load_policy(dist, project_policy(projects, dist->project), d, path, idx, err, errcap))
        return false;
    if (!index_domain(m, dist->id, idx, err, errcap) || !index_domain(m, json_string_value(domain), idx, err, errcap))
        return false;
    size_t i;
    json_t *alias;
    json_array_foreach(json_object_get(d, "aliases"), i, alias) {
        if (!json_is_string(alias)) {
            snprintf(err, errcap, "%s: distributions[%zu].aliases[%zu] must be a string", path, idx, i);
            return false;
        }
        if (!index_domain(m, json_string_value(alias), idx, err, errcap))
            return false;
    }
    return true;
}

/* ---- projects ---- */

static ew_project *find_project(const ew_metadata *m, const char *name)
{
    for (size_t i = 0; i < m->n_projects; i++)
        if (strcmp(m->projects[i].name, name) == 0)
            return &m->projects[i];
    return NULL;
}

static ew_project *add_project(ew_metadata *m, const char *name)
{
    m->projects = realloc(m->projects, (m->n_projects + 1) * sizeof *m->projects);
    ew_project *p = &m->projects[m->n_projects++];
    *p = (ew_project){.name = strdup(name)};
    return p;
}

static bool load_named_project(ew_metadata *m, const char *name, json_t *obj, const char *path, char *err,
                               size_t errcap)
{
    char where[512];
    snprintf(where, sizeof where, "%s: projects.%s", path, name);
    if (!json_is_object(obj)) {
        snprintf(err, errcap, "%s must be an object", where);
        return false;
    }
    ew_project *p = add_project(m, name);
    json_t *excluded = json_object_get(obj, "excluded");
    p->excluded = json_is_true(excluded);
    if (json_is_string(json_object_get(obj, "owner")))
        p->owner = string_field(obj, "owner", "");
    if (json_is_string(json_object_get(obj, "route")))
        p->route = string_field(obj, "route", "");
    return load_overrides(&p->overrides, &p->n_overrides, json_object_get(obj, "rules"), where, err, errcap);
}

/* Projects named only by distributions, and owners and routes a project
 * does not state itself, come from its first distribution. */
static void adopt_distribution_projects(ew_metadata *m)
{
    for (size_t i = 0; i < m->n_dists; i++) {
        const ew_distribution *d = &m->dists[i];
        if (!*d->project)
            continue;
        ew_project *p = find_project(m, d->project);
        if (!p)
            p = add_project(m, d->project);
        if (!p->owner)
            p->owner = strdup(d->owner);
        if (!p->route)
            p->route = strdup(d->route);
    }
    for (size_t i = 0; i < m->n_projects; i++) {
        if (!m->projects[i].owner)
            m->projects[i].owner = strdup("");
        if (!m->projects[i].route)
            m->projects[i].route = strdup("");
    }
}

static bool load_projects(ew_metadata *m, json_t *projects, const char *path, char *err, size_t errcap)
{
    const char *name;
    json_t *obj;
    if (projects && !json_is_object(projects)) {
        snprintf(err, errcap, "%s: \"projects\" must be an object of name -> settings", path);
        return false;
    }
    json_object_foreach(projects, name, obj) {
        if (!load_named_project(m, name, obj, path, err, errcap))
            return false;
    }
    adopt_distribution_projects(m);
    return true;
}

const ew_project *ew_metadata_project(const ew_metadata *m, const char *name) { return find_project(m, name); }

static void free_projects(ew_metadata *m)
{
    for (size_t i = 0; i < m->n_projects; i++) {
        ew_project *p = &m->projects[i];
        free(p->name);
        free(p->owner);
        free(p->route);
        for (size_t k = 0; k < p->n_overrides; k++) {
            free(p->overrides[k].key);
            free(p->overrides[k].value);
        }
        free(p->overrides);
        free(p->rules);
    }
    free(m->projects);
}

ew_metadata *ew_metadata_load(const char *path, char *err, size_t errcap)
{
    ew_metadata *m = calloc(1, sizeof *m);
    m->n_slots = 16;
    if (!path) {
        m->slots = alloc_slots(m->n_slots);
        return m;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *list = root ? json_object_get(root, "distributions") : NULL;
    if (!root || !json_is_array(list)) {
        if (!root)
            snprintf(err, errcap, "%s:%d: %s", path, jerr.line, jerr.text);
        else
            snprintf(err, errcap, "%s: expected {\"distributions\": [...]}", path);
        json_decref(root);
        free(m);
        return NULL;
    }
    while (m->n_slots < 2 * count_names(list))
        m->n_slots *= 2;
    m->slots = alloc_slots(m->n_slots);
    m->dists = calloc(json_array_size(list) + 1, sizeof *m->dists);
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        if (!load_distribution(m, d, json_object_get(root, "projects"), i, path, err, errcap)) {
            json_decref(root);
            ew_metadata_free(m);
            return NULL;
        }
    }
    if (!load_projects(m, json_object_get(root, "projects"), path, err, errcap)) {
        json_decref(root);
        ew_metadata_free(m);
        return NULL;
    }
    json_decref(root);
    /* The parsed document of a large file is several times the table built
     * from it; give those pages back instead of keeping them resident. */
    malloc_trim(0);
    return m;
}

void ew_metadata_free(ew_metadata *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_dists; i++) {
        free(m->dists[i].id);
        free(m->dists[i].project);
        free(m->dists[i].owner);
        free(m->dists[i].route);
        for (size_t k = 0; k < m->dists[i].n_overrides; k++) {
            free(m->dists[i].overrides[k].key);
            free(m->dists[i].overrides[k].value);
        }
        free(m->dists[i].overrides);
        free(m->dists[i].rules);
    }
    free(m->names);
    free_projects(m);
    free(m->dists);
    free(m->slots);
    free(m);
}

uint64_t ew_metadata_hash(ew_str name) { return hash_domain(name); }

void ew_metadata_prefetch(const ew_metadata *m, uint64_t hash)
{
    __builtin_prefetch(&m->slots[hash & (m->n_slots - 1)]);
}

const ew_distribution *ew_metadata_by_domain_hashed(const ew_metadata *m, ew_str domain, uint64_t hash)
{
    size_t i = hash & (m->n_slots - 1);
    while (m->slots[i].dist) {
        if (m->slots[i].tag == hash_tag(hash) && domain_eq(m, &m->slots[i], domain))
            return &m->dists[m->slots[i].dist - 1];
        i = (i + 1) & (m->n_slots - 1);
    }
    return NULL;
}

const ew_distribution *ew_metadata_by_domain(const ew_metadata *m, ew_str domain)
{
    return ew_metadata_by_domain_hashed(m, domain, hash_domain(domain));
}

const ew_distribution *ew_metadata_by_id(const ew_metadata *m, const char *id)
{
    /* Ids are indexed with the other names; only an exact id match counts. */
    const ew_distribution *d = ew_metadata_by_domain(m, ew_str_make(id, strlen(id)));
    return d && strcmp(d->id, id) == 0 ? d : NULL;
}

size_t ew_metadata_count(const ew_metadata *m) { return m->n_dists; }
size_t ew_metadata_index_of(const ew_metadata *m, const ew_distribution *d) { return (size_t)(d - m->dists); }
const ew_distribution *ew_metadata_at(const ew_metadata *m, size_t i) { return i < m->n_dists ? &m->dists[i] : NULL; }

ew_metadata *ew_metadata_load_for(const ew_config *cfg, char *err, size_t errcap)
{
    ew_metadata *m = ew_metadata_load(cfg->metadata_path, err, errcap);
    if (m && !ew_metadata_resolve_rules(m, cfg, err, errcap)) {
        ew_metadata_free(m);
        return NULL;
    }
    return m;
}
