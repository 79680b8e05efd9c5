/* billing.h -- billing line items (AWS CUR / Data Exports rows) and the
 * refresh marks between them, as the pipeline uses them.
 *
 * A cost report is cumulative and revised up to three times a day, so a
 * line is not an event to add but a value to upsert: line_key names the
 * line across refreshes (CUR's own line item id changes every refresh), and
 * the store applies the difference to what the same line_key held before.
 * A refresh end record closes one refresh (report version) of a period: it
 * is what triggers scoring, and when `full` it says the refresh was the
 * whole period, so lines of older versions it did not repeat are gone.
 *
 *   decode_billing.c   JSON objects and Avro datums (schemas/billing_event.avsc)
 *   billing_spread.c   how a line's cost is split over the hours it covers
 *
 * Amounts are integers in millionths of the currency unit ("micros"), so
 * sums are exact and independent of order, as totals after restatements,
 * replays and crashes must be.
 */
#ifndef EDGEWATCH_BILLING_H
#define EDGEWATCH_BILLING_H

#include "edgewatch/decode.h"

#include <stdbool.h>
#include <stdint.h>

#define EW_BILL_HOUR_MS 3600000LL
#define EW_BILL_DAY_MS 86400000LL
/* A line may cover at most this long (a monthly line is at most 31 days). */
#define EW_BILL_MAX_SPAN_MS (32 * EW_BILL_DAY_MS)
#define EW_BILL_UNTAGGED "untagged"

typedef enum {
    EW_BILL_LINE,        /* one line item */
    EW_BILL_REFRESH_END, /* the end of one report version of a period */
} ew_billing_kind;

typedef struct {
    ew_billing_kind kind;
    char billing_period[8];   /* "YYYY-MM" */
    char report_version[64];  /* refresh id the record came from */
    bool full;                /* refresh end: the refresh held the whole period */
    /* Lines only: */
    char line_key[64];        /* given, or derived (ew_billing_line_key) */
    char usage_account[32];
    char line_item_type[32];  /* Usage, Credit, Refund, Tax, ... (open set) */
    char service[64];         /* product code, e.g. AmazonCloudFront */
    char usage_type[128];
    char operation[64];
    char resource_id[256];    /* CloudFront lines: the distribution id */
    char region[32];
    char currency[4];         /* ISO 4217 */
    char project[128];        /* cost-allocation tag value, or "untagged" */
    int64_t usage_start_ms;   /* inclusive */
    int64_t usage_end_ms;     /* exclusive */
    int64_t cost_micros;      /* unblended cost; negative for credits and refunds */
    double usage_amount;      /* NAN when absent */
} ew_billing_record;

typedef struct {
    const char *project_tag;          /* tag key that names the project ("user:project") */
    const char *const *currencies;    /* accepted ISO codes */
    size_t n_currencies;
    size_t max_bytes;                 /* a longer message is EW_DECODE_TOO_LONG */
} ew_billing_decoder;

/* One message: a JSON object (first non-blank byte '{'), or an Avro datum
 * of schemas/billing_event.avsc, bare or in Confluent framing (magic 0 and
 * a 4-byte schema id, any id). Never allocates; out is overwritten. */
ew_decode_error ew_billing_decode(const ew_billing_decoder *d, const void *buf, size_t len, ew_billing_record *out);

/* The stable identity of a line across refreshes: a hex hash of billing
 * period, usage account, line item type, service, usage type, operation,
 * resource id, region, usage start and end. Not the project (a tag activated
 * later moves the line's cost, it does not add a second line) and not the
 * cost (a restatement revises the same line). */
void ew_billing_line_key(const ew_billing_record *r, char out[64]);

/* schemas/billing_event.avsc, compiled into the binary. */
extern const char ew_schema_billing_event[];

/* ---- spreading a line over hours (billing_spread.c) ---- */

/* A line's cost is split in equal parts over the UTC hours its interval
 * touches, n = ceil(end / 1h) - floor(start / 1h) (at least 1); each part
 * is cost / n truncated toward zero and the first hour also gets the
 * remainder. state/cost.lua does the same arithmetic: keep them equal. */
int64_t ew_billing_hours(int64_t start_ms, int64_t end_ms);
int64_t ew_billing_first_hour_ms(int64_t start_ms);
/* Cost of hour i (0-based) of n for a line of cost micros. */
int64_t ew_billing_hour_part(int64_t cost_micros, int64_t n_hours, int64_t i);

#endif
