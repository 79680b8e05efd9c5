/* common.h -- small shared helpers: string views, hashing, time, logging.
 *
 * Everything here is allocation-free so it can be used on the per-record
 * hot path. Logging goes to stderr as one line per event, prefixed with the
 * program name and level, because operators read it with journalctl/kubectl.
 * The threshold comes from EDGEWATCH_LOG_LEVEL (debug|info|warn|error) so the
 * logger needs no mutable global state.
 */
#ifndef EDGEWATCH_COMMON_H
#define EDGEWATCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define EW_VERSION "0.1.0"

/* Exit codes of the CLI contract. */
#define EW_EXIT_OK 0
#define EW_EXIT_RUNTIME 1
#define EW_EXIT_USAGE 2

/* A borrowed, non-terminated slice of a larger buffer. */
typedef struct {
    const char *ptr;
    size_t len;
} ew_str;

static inline ew_str ew_str_make(const char *p, size_t n) { ew_str s = {p, n}; return s; }
bool ew_str_eq(ew_str s, const char *cstr);
/* Copy into a NUL-terminated buffer, truncating; returns dst. */
char *ew_str_copy(ew_str s, char *dst, size_t cap);

/* 64-bit FNV-1a; stable across runs and machines, used for deterministic ids. */
uint64_t ew_hash64(const void *data, size_t len, uint64_t seed);
#define EW_HASH_SEED 0xcbf29ce484222325ULL

/* Wall-clock and monotonic time in milliseconds. */
int64_t ew_now_ms(void);
int64_t ew_mono_ms(void);

/* "60s", "3h", "14d", "250ms", "1.5h" or a bare number of seconds -> ms.
 * Returns false on anything else. */
bool ew_parse_duration_ms(const char *text, int64_t *out_ms);
/* RFC 3339 ("2026-11-01T12:00:00Z", offsets allowed) or epoch seconds -> ms. */
bool ew_parse_time_ms(const char *text, int64_t *out_ms);
/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+-HH:MM)", also with 't' or ' ' for 'T';
 * the date is checked against its month (no 30 February). With
 * zone_optional a missing zone means UTC (CUR exports, Athena). */
bool ew_parse_rfc3339_ms(ew_str text, bool zone_optional, int64_t *out_ms);
/* "YYYY-MM-DD" at the start of text, checked -> days since 1970-01-01. */
bool ew_parse_date_days(ew_str text, int64_t *days);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t ew_days_from_civil(int y, unsigned m, unsigned d);
/* Formats epoch ms as RFC 3339 UTC with seconds; buf needs 32 bytes. */
char *ew_format_time(int64_t ms, char *buf, size_t cap);
/* snprintf into an optional error buffer: nothing when err is NULL or
 * errcap 0, so callers may pass NULL when they do not want the reason. */
void ew_set_error(char *err, size_t errcap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a non-negative decimal integer occupying the whole slice. */
bool ew_parse_u64(ew_str s, uint64_t *out);
/* Parse "1607374321.541" style decimal seconds into milliseconds. */
bool ew_parse_seconds_ms(ew_str s, int64_t *out_ms);

typedef enum { EW_LOG_DEBUG, EW_LOG_INFO, EW_LOG_WARN, EW_LOG_ERROR } ew_log_level;
void ew_log(ew_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ew_info(...) ew_log(EW_LOG_INFO, __VA_ARGS__)
#define ew_warn(...) ew_log(EW_LOG_WARN, __VA_ARGS__)
#define ew_error(...) ew_log(EW_LOG_ERROR, __VA_ARGS__)
#define ew_debug(...) ew_log(EW_LOG_DEBUG, __VA_ARGS__)

#endif
