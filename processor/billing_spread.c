/* billing_spread.c -- how a billing line's cost is split over its hours.
 *
 * Hourly aggregates need each line's cost in the hours it covers. Equal
 * integer parts keep the arithmetic exact and simple enough to repeat in
 * state/cost.lua, which has only doubles: the store must undo a restated
 * line's old parts exactly, so both sides have to agree to the micro.
 * A part is the cost divided by the number of hours, truncated toward
 * zero; the remainder goes to the first hour, so the parts sum to the cost.
 */
#include "edgewatch/billing.h"

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

int64_t ew_billing_first_hour_ms(int64_t start_ms) { return floor_div(start_ms, EW_BILL_HOUR_MS) * EW_BILL_HOUR_MS; }

int64_t ew_billing_hours(int64_t start_ms, int64_t end_ms)
{
    int64_t first = floor_div(start_ms, EW_BILL_HOUR_MS);
    int64_t past = -floor_div(-end_ms, EW_BILL_HOUR_MS); /* ceil */
    return past - first > 0 ? past - first : 1;
}

int64_t ew_billing_hour_part(int64_t cost_micros, int64_t n_hours, int64_t i)
{
    int64_t part = cost_micros / n_hours; /* C truncates toward zero */
    return i == 0 ? part + (cost_micros - part * n_hours) : part;
}
