/* suppress.h -- silences and expected traffic events (issue #6).
 *
 * Operators register silences ("do not page for checkout-web tonight") and
 * expected events ("the app push at 18:00 will triple traffic"). Scoring
 * asks ew_suppression_match whether a window it is about to alert on is
 * covered; a covered alert is still published, with suppressed_by set to
 * the entry's id, so nothing is lost and the notifier decides what to drop.
 *
 * Entries live in two Valkey hashes, <prefix>silences and <prefix>events,
 * field = id, value = one JSON object (state/README.md). The same objects,
 * one per line, are also a file format, so a replay can use a fixed set:
 *
 *   {"id":"sil-0123456789ab","kind":"silence","project":"checkout-web",
 *    "distribution":null,"rule":null,"from_ms":1793534400000,
 *    "to_ms":1793538000000,"multiplier":null,"reason":"db migration",
 *    "created_ms":1793530000000}
 *
 * Loading (Valkey or file) happens before scoring, never per record; the
 * matcher itself is a linear scan over an in-memory list.
 */
#ifndef EDGEWATCH_SUPPRESS_H
#define EDGEWATCH_SUPPRESS_H

#include "edgewatch/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EW_SUPPRESS_REASON_MAX 200 /* bytes */

typedef enum { EW_SUPPRESS_SILENCE, EW_SUPPRESS_EVENT } ew_suppress_kind;

typedef struct {
    char id[24];              /* "sil-" or "evt-" + 12 lower-case hex digits */
    ew_suppress_kind kind;
    char project[128], distribution[128], rule[32]; /* "" = any */
    int64_t from_ms, to_ms;   /* [from, to) */
    double multiplier;        /* events; 0 for silences */
    char reason[256];
    int64_t created_ms;
} ew_suppression;

typedef struct {
    ew_suppression *items;
    size_t n, cap;
} ew_suppressions;

void ew_suppressions_init(ew_suppressions *s);
void ew_suppressions_free(ew_suppressions *s);
/* Appends a copy of item. */
void ew_suppressions_add(ew_suppressions *s, const ew_suppression *item);
/* Orders by from_ms, then id: the order of `list` and of the matcher's
 * tie-break. */
void ew_suppressions_sort(ew_suppressions *s);

/* "silence" / "event". */
const char *ew_suppress_kind_name(ew_suppress_kind kind);
/* True for the rule names an entry may be limited to (request_spike,
 * request_drop, error_403_rate, error_5xx_rate, cache_hit_drop,
 * origin_latency, cost_spike). */
bool ew_suppress_rule_known(const char *rule);
/* Every field rule of the format (exactly one target, known rule, to after
 * from, the multiplier, the reason, the id's form); false with err naming
 * the JSON key. */
bool ew_suppression_check(const ew_suppression *s, char *err, size_t errcap);
/* Sets s->id from a hash of every other field and created_ns (wall clock,
 * ns), so two adds of the same entry get different ids. */
void ew_suppression_make_id(ew_suppression *s, int64_t created_ns);

/* Parses one JSON object as above; false with err ("to_ms must be after
 * from_ms") if invalid. Unknown keys are errors, as in the config file;
 * project, distribution, rule and multiplier may be absent (= null), and
 * created_ms too (= 0). */
bool ew_suppression_from_json(const char *text, size_t len, ew_suppression *out, char *err, size_t errcap);
/* One line of compact JSON, no newline; caller frees. */
char *ew_suppression_to_json(const ew_suppression *s);

/* Reads both hashes under cfg's prefix in one pipelined round trip and
 * appends their entries. Returns false with err when Valkey is unreachable
 * or answers with an error. An invalid entry is skipped with a warning
 * (ew_warn), so one bad value cannot hide every other silence. */
bool ew_suppressions_load_valkey(const ew_config *cfg, ew_suppressions *out, char *err, size_t errcap);
/* JSON lines file (blank lines and lines starting with # ignored); false
 * with err "PATH:LINE: problem" on a bad line, and out as it was before. */
bool ew_suppressions_load_file(const char *path, ew_suppressions *out, char *err, size_t errcap);

/* Stores s (its id must be new: HSETNX) in its kind's hash, and removes from
 * that hash the entries whose to_ms is more than cfg->retention_ms before
 * now_ms, so the hash does not grow forever. *pruned (may be NULL) gets how
 * many were removed. False with err on any failure. */
bool ew_suppression_store(const ew_config *cfg, const ew_suppression *s, int64_t now_ms, size_t *pruned, char *err,
                          size_t errcap);
/* Removes id from kind's hash: 1 removed, 0 no such id, -1 error (err set). */
int ew_suppression_remove(const ew_config *cfg, ew_suppress_kind kind, const char *id, char *err, size_t errcap);

/* The first entry of the kind whose target matches and whose [from,to)
 * overlaps [window_start, window_end). The target matches when distribution
 * equals entity_id (case-insensitively, as CloudFront ids and domains are),
 * or project equals the entity's project (project NULL = unmapped entity:
 * only distribution entries can match); and rule is "" or equals rule.
 * Among several matches the earliest from_ms wins, then the smallest id,
 * so the result does not depend on load order. NULL if none. */
/* Re-reads the live entries into *current when every_ms have passed since
 * *read_at (monotonic ms, 0 = never). A failed read keeps *current and logs
 * why. True when *current was replaced (pointers into it changed). */
bool ew_suppressions_refresh(const ew_config *cfg, ew_suppressions *current, int64_t *read_at, int64_t every_ms);

const ew_suppression *ew_suppression_match(const ew_suppressions *s, ew_suppress_kind kind, const char *rule,
                                           const char *entity_id, const char *project, int64_t window_start_ms,
                                           int64_t window_end_ms);

#endif
