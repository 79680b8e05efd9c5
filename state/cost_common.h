/* cost_common.h -- what both state backends share about cost state
 * (private to state/).
 *
 * The Valkey backend (valkey_cost.c with cost.lua) and the memory backend
 * (memory_cost.c) must agree byte for byte: the same stored line text,
 * the same day-hash field names, the same parsing of what they read back
 * and the same ordering. Keeping those rules here, once, is what makes
 * the two backends' results identical rather than merely similar.
 */
#ifndef EDGEWATCH_STATE_COST_COMMON_H
#define EDGEWATCH_STATE_COST_COMMON_H

#include "edgewatch/state.h"

#include <stddef.h>
#include <stdint.h>

/* Separates the fields of a stored line; control bytes (this one included)
 * never reach a stored field, see ew_cost_line_format. */
#define EW_COST_SEP '\x1f'
#define EW_COST_LINE_MAX 1024
#define EW_COST_LEASE_S 30
/* Day hashes serve 14-day baselines plus today, whatever the retention. */
#define EW_COST_DAY_TTL_MIN_MS (16 * EW_BILL_DAY_MS)
/* A period is revised for about two weeks after it closes. */
#define EW_COST_LINE_TTL_MS (70 * EW_BILL_DAY_MS)

/* A line as stored: "version SEP project SEP service SEP usage_type SEP
 * resource_id SEP start_ms SEP end_ms SEP cost_micros". Control bytes in
 * text fields become '?', so the separator and the newline that joins a
 * refresh's project list cannot appear inside a field. Returns the length. */
size_t ew_cost_line_format(const ew_billing_record *r, char out[EW_COST_LINE_MAX]);

/* A text field as a stored line holds it: a refresh end's version is
 * compared with its lines' versions in this form. */
void ew_cost_clean(const char *text, char *out, size_t cap);

typedef struct {
    const char *version, *project, *service, *usage_type, *resource;
    int64_t start_ms, end_ms, cost_micros;
} ew_cost_line;

/* Splits text (modified in place: separators become NULs); false when it
 * is not a stored line. */
bool ew_cost_line_parse(char *text, ew_cost_line *out);

/* A project summary field as stored in cp:<project> ("first", "horizon",
 * "det"); others are ignored. Start from ew_cost_project_init. */
void ew_cost_project_init(ew_cost_project *p);
void ew_cost_project_field(ew_cost_project *p, const char *field, const char *value, size_t value_len);

/* One field of a day hash ("t:HH", "s:HH:<service>", ...) and its amount. */
typedef struct {
    const char *field;
    int64_t micros;
} ew_cost_field;

/* Fills day (zeroed first) from its hash's fields: hour totals, and the
 * non-zero s/u/r amounts sorted by hour, dimension and value, their
 * values copied into day->text. */
void ew_cost_day_build(ew_cost_day *day, int64_t day_ms, const ew_cost_field *fields, size_t n, bool with_entries);

/* inc:<project> entries: "entity_type start_ms end_ms". */
int ew_cost_incident_format(char *out, size_t cap, const char *entity_type, int64_t start_ms, int64_t end_ms);
bool ew_cost_incident_overlaps(const char *entry, const char *entity_type, int64_t from_ms, int64_t to_ms);
/* Sorts ids (bytewise) and copies the first cap that fit into out. */
size_t ew_cost_ids_pick(const char **ids, size_t n, char (*out)[64], size_t cap);

/* Bytewise order of C strings, for qsort over char *; what cost.lua's
 * bytes_less does. */
int ew_cost_strcmp_ptr(const void *a, const void *b);

#endif
