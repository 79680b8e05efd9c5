/* metadata.h -- who owns a distribution, and how its domains map to it.
 *
 * Real-time log records carry no distribution id (formats.md §1.5); the
 * metadata file maps each d….cloudfront.net domain and each alias to the
 * distribution id, project, owner and route. Lookups are by borrowed slice
 * so the hot path never copies the domain.
 *
 * File format:
 *   {"distributions": [{"id": "E2…", "domain": "d111….cloudfront.net",
 *     "aliases": ["www.example.com"], "project": "checkout-web",
 *     "owner": "team-checkout", "route": "slack:#checkout-oncall",
 *     "floor": 50, "excluded": false,
 *     "rules": {"request_spike": {"z_warning": 6}}}],
 *   "projects": {"checkout-web": {"floor": 20, "rules": {...}}}}
 * A distribution inherits its project's floor, excluded flag and rule
 * overrides, and its own win (docs/configuration.md, "Metadata").
 */
#ifndef EDGEWATCH_METADATA_H
#define EDGEWATCH_METADATA_H

#include "edgewatch/common.h"
#include "edgewatch/config.h"

typedef struct {
    char *id;
    char *project;
    char *owner;
    char *route;
    bool excluded;          /* legacy, internal, experiment: never scored */
    double floor_per_min;   /* traffic floor override; NAN = the global one */
    ew_kv *overrides;       /* "rule.key" = value, the project's first */
    size_t n_overrides;
    ew_rule_config *rules;  /* resolved by ew_metadata_resolve_rules; NULL = the global rules */
} ew_distribution;

/* A project as cost scoring sees it: named under "projects", or only by
 * its distributions. Owner and route are its own, else its first
 * distribution's. */
typedef struct {
    char *name;
    char *owner;
    char *route;
    bool excluded;
    ew_kv *overrides;       /* "rule.key" = value */
    size_t n_overrides;
    ew_rule_config *rules;  /* NULL = the global rules */
} ew_project;

typedef struct ew_metadata ew_metadata;

/* path NULL gives an empty table. Returns NULL with err set on failure. */
ew_metadata *ew_metadata_load(const char *path, char *err, size_t errcap);
void ew_metadata_free(ew_metadata *m);
/* cfg's metadata file with every rule override resolved against cfg's
 * rules: what scoring uses. NULL with err set on failure. */
ew_metadata *ew_metadata_load_for(const ew_config *cfg, char *err, size_t errcap);
/* Applies each distribution's rule overrides to cfg's rules. false with err
 * naming the distribution and setting on the first bad override. */
bool ew_metadata_resolve_rules(ew_metadata *m, const ew_config *cfg, char *err, size_t errcap);
/* By any name of a distribution: its id, domain or an alias. */
const ew_distribution *ew_metadata_by_domain(const ew_metadata *m, ew_str domain);
/* The same lookup in steps, for many names in a row: the name's hash, a
 * prefetch of the index line the lookup starts at, then the lookup, a few
 * names later, so the index's cache misses overlap. */
uint64_t ew_metadata_hash(ew_str name);
void ew_metadata_prefetch(const ew_metadata *m, uint64_t hash);
const ew_distribution *ew_metadata_by_domain_hashed(const ew_metadata *m, ew_str domain, uint64_t hash);
const ew_distribution *ew_metadata_by_id(const ew_metadata *m, const char *id);
size_t ew_metadata_count(const ew_metadata *m);
/* Position of d (from a lookup in m) in file order, 0 <= i < count. */
size_t ew_metadata_index_of(const ew_metadata *m, const ew_distribution *d);
/* The i-th distribution in file order, NULL past the end. */
const ew_distribution *ew_metadata_at(const ew_metadata *m, size_t i);
/* NULL when the file names no such project. */
const ew_project *ew_metadata_project(const ew_metadata *m, const char *name);

#endif
