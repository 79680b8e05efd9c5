/* topk.h -- the heaviest values of a window, per dimension, in fixed memory.
 *
 * Every in-memory (entity, window) delta carries one ew_topk: for each
 * dimension (client IP, ASN, country, URI path, edge location) a
 * Space-Saving summary (Metwally, Agrawal, El Abbadi 2005) of
 * EW_TOPK_SLOTS counters. A value already in a slot counts up; a new value
 * takes a free slot, else evicts the smallest counter and inherits its count
 * plus one. After N adds to a dimension this guarantees:
 *
 *   - the counts sum to N;
 *   - a value seen more than N / EW_TOPK_SLOTS times is in a slot;
 *   - a slot's count overestimates its value's true count by at most
 *     N / EW_TOPK_SLOTS (by at most the smallest count, in fact).
 *
 * Each slot also keeps the count it inherited (its error), and the text
 * form carries count - error: a guaranteed lower bound of the value's true
 * count. Reporting the inflated count would tell an operator that three
 * random IPs of a quiet window each sent a third of its traffic; the lower
 * bound is zero for those (they are left out) and close to the truth for
 * real heavy hitters, which are the ones that matter.
 *
 * So an alert can name the client IP or URI behind a spike with its share,
 * without per-record allocation: values are copied, truncated to a small
 * per-dimension capacity, into storage inside the struct.
 *
 * Summaries leave the process as text, one dimension per Valkey hash field
 * (ew_dim_field): entries "COUNT\tVALUE\n" (COUNT the lower bound),
 * heaviest first. state/flush.lua
 * merges the text of a flush into the stored text; ew_topk_merge_text() is
 * the same merge in C, byte for byte (see its comment for the exact rules).
 */
#ifndef EDGEWATCH_TOPK_H
#define EDGEWATCH_TOPK_H

#include "edgewatch/common.h"
#include "edgewatch/decode.h"

typedef enum { EW_DIM_CLIENT_IP, EW_DIM_ASN, EW_DIM_COUNTRY, EW_DIM_URI, EW_DIM_EDGE, EW_DIMS } ew_dim;

/* Slots per dimension. Client IPs get more: a DDoS from a handful of
 * addresses (5 sending 13 % of a window each, plus a third of noise) needs
 * about 8 counters to keep all of them, while one hot URI, ASN, country or
 * edge location stands out with 3. */
#define EW_TOPK_SLOTS 3
#define EW_TOPK_IP_SLOTS 8
#define EW_TOPK_SLOTS_MAX EW_TOPK_IP_SLOTS
#define EW_TOPK_ALL_SLOTS (EW_TOPK_IP_SLOTS + (EW_DIMS - 1) * EW_TOPK_SLOTS)

/* Bytes kept of a value, without NUL. An IPv6 address, IPv4-mapped ones
 * included, is at most 45 characters; "AS" prefixes and 32-bit ASNs fit 10;
 * a country is 2 letters (3 leaves room for odd feeds); edge locations look
 * like "SFO53-P7". URI paths are cut at 55 bytes: enough to tell hot objects
 * apart, and longer paths sharing those bytes count as one prefix. The caps
 * keep a delta, sketch included, near 700 bytes (2 KB per distribution). */
#define EW_TOPK_CAP_CLIENT_IP 45
#define EW_TOPK_CAP_ASN 10
#define EW_TOPK_CAP_COUNTRY 3
#define EW_TOPK_CAP_URI 55
#define EW_TOPK_CAP_EDGE 11
#define EW_TOPK_VALUE_BYTES                                                                     \
    (EW_TOPK_IP_SLOTS * EW_TOPK_CAP_CLIENT_IP +                                                 \
     EW_TOPK_SLOTS * (EW_TOPK_CAP_ASN + EW_TOPK_CAP_COUNTRY + EW_TOPK_CAP_URI + EW_TOPK_CAP_EDGE))

/* Struct of arrays so the counters and lengths compared on every add share
 * cache lines; value bytes live in one pool, each dimension's slots at a
 * fixed offset (see topk.c). A slot is free when its count is 0; used slots
 * are always a prefix because counts never go down. */
typedef struct {
    uint32_t count[EW_TOPK_ALL_SLOTS]; /* each dimension's slots in a row (topk.c) */
    uint32_t err[EW_TOPK_ALL_SLOTS];   /* count inherited on eviction */
    uint8_t len[EW_TOPK_ALL_SLOTS];
    char bytes[EW_TOPK_VALUE_BYTES];
} ew_topk;

_Static_assert(sizeof(ew_topk) <= 800, "ew_topk is embedded in every delta: keep it small");
/* Whether a dimension of t has counted anything. */
bool ew_topk_used(const ew_topk *t, ew_dim dim);

void ew_topk_clear(ew_topk *t);
/* Counts one value. Empty values are ignored. The value is first cut to the
 * dimension's capacity at a UTF-8 character boundary, then bytes < 0x20 and
 * 0x7f become '?'; two values equal in that form are the same value. */
void ew_topk_add(ew_topk *t, ew_dim dim, ew_str value);
/* client_ip, asn, country, uri_path and edge_location of r. */
void ew_topk_add_record(ew_topk *t, const ew_cf_record *r);

/* ew_topk_add_record's work on the values themselves, split off so that
 * another thread can do it ahead of the adds (line_feed.h): cuts r's five
 * values as ew_topk_add does, and points each one that has control bytes
 * at its sanitized copy in buf (at most EW_TOPK_CLEAN_MAX bytes). Returns
 * the bytes of buf used. ew_topk_add_clean_record then counts the cleaned
 * record exactly as ew_topk_add_record counts the original; cleaning is
 * idempotent, so ew_topk_add_record counts it the same way too. */
#define EW_TOPK_CLEAN_MAX                                                                        \
    (EW_TOPK_CAP_CLIENT_IP + EW_TOPK_CAP_ASN + EW_TOPK_CAP_COUNTRY + EW_TOPK_CAP_URI + EW_TOPK_CAP_EDGE)
size_t ew_topk_clean_record(ew_cf_record *r, char *buf);
void ew_topk_add_clean_record(ew_topk *t, const ew_cf_record *r);

/* JSON names: "client_ip", "asn", "country", "uri", "edge_location". */
const char *ew_dim_name(ew_dim d);
/* Valkey hash fields: "top:ip", "top:asn", "top:country", "top:uri", "top:edge". */
const char *ew_dim_field(ew_dim d);

/* Text of one dimension: "COUNT\tVALUE\n" per entry, by count descending
 * then value bytewise ascending (unsigned bytes, a prefix first). Returns
 * the length written, 0 for an empty dimension; the text is NUL-terminated
 * when cap > 0 and never longer than cap - 1. When cap is too small, the
 * heaviest entries that fit whole are written and the rest dropped. */
size_t ew_topk_format(const ew_topk *t, ew_dim dim, char *buf, size_t cap);
#define EW_TOPK_TEXT_MAX (EW_TOPK_SLOTS_MAX * 96)

typedef struct {
    char value[72];
    uint64_t count;
} ew_top_entry;

/* Reads text as written by ew_topk_format or ew_topk_merge_text into out,
 * at most cap entries; returns how many. Lines are separated by '\n' (the
 * last may lack it). A line is an entry when it is 1..15 ASCII digits with a
 * value > 0, one TAB, then 1..71 bytes none of which is < 0x20 or 0x7f;
 * other lines are skipped. Counts stay below 2^53, exact in a Lua number. */
size_t ew_topk_parse(const char *text, size_t len, ew_top_entry *out, size_t cap);

/* Entries read from each input of a merge, at most; more are ignored. */
#define EW_TOPK_MERGE_IN 32
/* Entries kept per dimension in Valkey after merging. */
#define EW_TOPK_KEEP 10
/* Enough for ew_topk_merge_text with keep = EW_TOPK_KEEP. */
#define EW_TOPK_MERGED_MAX (EW_TOPK_KEEP * 96)

/* The merge state/flush.lua does: the first EW_TOPK_MERGE_IN entries of a
 * and of b (as ew_topk_parse reads them) are summed per value, duplicates
 * within one input included; sorted by count descending then value bytewise
 * ascending; the first `keep` written as text, with ew_topk_format's rules
 * for cap. Returns the length written. */
size_t ew_topk_merge_text(const char *a, size_t alen, const char *b, size_t blen, size_t keep, char *out,
                          size_t cap);

#endif
