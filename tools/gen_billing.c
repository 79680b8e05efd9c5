/* gen_billing.c -- `edgewatch gen --scenario billing`: synthetic AWS billing
 * line items (CUR rows as JSON objects) with labelled cost jumps, for the
 * cost_spike rule and its evaluator (tests/integration/eval_billing.py).
 *
 * The world is a set of projects (the "user:project" cost allocation tag),
 * each with 3-6 resources billed hourly: EC2, RDS, S3, MSK, Lambda,
 * DynamoDB, CloudFront (resource id = the distribution id). Daily spend is
 * $800-$25,000 per project, with organic growth of 0-0.4 %/day, a -25 %
 * weekend dip on about a third of the unnamed projects and a few percent
 * of multiplicative noise on every hourly line.
 *
 * Delivery imitates CUR's refresh cycle: a refresh at 08:00, 16:00 and
 * 24:00 UTC carries every hourly line not delivered yet that ended at least
 * 2 h before it (so a refresh's data horizon is its time - 2 h), followed by
 * one refresh_end record per billing period (calendar month) it touched.
 * report_version names the refresh ("YYYY-MM-DDTHH").
 *
 * Nine named projects carry the cases (docs/billing.md): four cost jumps that
 * must alert (an MSK broker-class change, an RDS instance-class change, a new
 * SageMaker line, one CloudFront distribution's bandwidth) and five that must
 * not (a day restated x1.10 then back, a credit, untagged lines, a step below
 * the absolute threshold, a step below the relative one). Every step starts
 * exactly at a refresh's data horizon, so the next refresh is the first to
 * hold it (8 hours of it): that refresh is the label's first_refresh.
 *
 * Costs are whole micros (1e-6 USD) so per-day totals are exact; --truth
 * writes them per project and day after all restatements, computed with the
 * same upsert-by-stable-fields arithmetic the processor must use.
 *
 * Everything derives from --seed through splitmix64 streams kept apart by
 * purpose (the world, the case times, the noise of each line-hour), so the
 * same seed, --start, --days and --projects give byte-identical output, and
 * the world does not change with --days.
 */
#include "edgewatch/common.h"
#include "edgewatch/gen_kafka.h"
#include "edgewatch/gen_rng.h"
#include "edgewatch/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define BILL_HOUR_MS 3600000LL
#define BILL_DAY_MS 86400000LL
#define BILL_REFRESH_HOURS 8      /* refreshes at 08:00, 16:00, 24:00 UTC */
#define BILL_LAG_HOURS 2          /* a refresh holds hours ending 2 h before it */
#define BILL_FIRST_JUMP_DAY 15    /* 14+ days of history before any step */
#define BILL_DEFAULT_DAYS 28
#define BILL_MIN_DAYS 21
#define BILL_MAX_DAYS 92
#define BILL_DEFAULT_PROJECTS 40
#define BILL_MAX_PROJECTS 1000
#define BILL_MAX_PARTS 6          /* lines a project starts with */
#define BILL_MAX_PERIODS 8        /* distinct periods one refresh can touch */
#define BILL_RECORD_MAX 1536
#define BILL_DEFAULT_TOPIC "billing-events"
#define BILL_DEFAULT_START "2026-10-01T00:00:00Z"
#define BILL_NO_HOUR (1 << 30)    /* "never" for an hour index */

/* ------------------------------------------- PRNG streams (gen_rng.h) */

enum { STREAM_WORLD = 11, STREAM_PLAN = 12, STREAM_NOISE = 13 };

static void shuffle_ints(int *v, size_t n, ew_rng *r)
{
    for (size_t k = n; k > 1; k--) {
        size_t j = ew_rng_below(r, k);
        int t = v[k - 1];
        v[k - 1] = v[j];
        v[j] = t;
    }
}

/* ------------------------------------------------------- the catalogue */

/* How a product's resource id is named; data transfer has none (CUR leaves
 * it blank). */
typedef enum { RES_NONE, RES_INSTANCE, RES_DB, RES_BUCKET, RES_CLUSTER, RES_FUNCTION, RES_TABLE,
               RES_DISTRIBUTION, RES_JOB } bill_res;

typedef struct {
    const char *service;
    const char *usage_type;
    const char *operation;
    const char *region;
    double unit_price; /* $ per usage unit: usage_amount = cost / unit_price */
    bill_res res;
} bill_product;

enum {
    PR_EC2_M5XL, PR_EC2_C52XL, PR_EC2_EU, PR_EC2_TRANSFER, PR_RDS_LARGE, PR_RDS_4XL, PR_S3,
    PR_MSK_LARGE, PR_MSK_2XL, PR_LAMBDA, PR_DYNAMODB, PR_CLOUDFRONT, PR_SAGEMAKER, PR_COUNT
};

/* us-east-1 EC2/RDS usage types carry no region prefix, as in real CUR. */
static const bill_product PRODUCTS[PR_COUNT] = {
    [PR_EC2_M5XL] = {"AmazonEC2", "BoxUsage:m5.xlarge", "RunInstances", "us-east-1", 0.192, RES_INSTANCE},
    [PR_EC2_C52XL] = {"AmazonEC2", "BoxUsage:c5.2xlarge", "RunInstances", "us-east-1", 0.34, RES_INSTANCE},
    [PR_EC2_EU] = {"AmazonEC2", "EU-BoxUsage:m5.xlarge", "RunInstances", "eu-west-1", 0.214, RES_INSTANCE},
    [PR_EC2_TRANSFER] = {"AmazonEC2", "USE1-DataTransfer-Regional-Bytes", "PublicIP-Out", "us-east-1", 0.01,
                         RES_NONE},
    [PR_RDS_LARGE] = {"AmazonRDS", "InstanceUsage:db.r5.large", "CreateDBInstance:0014", "us-east-1", 0.25, RES_DB},
    [PR_RDS_4XL] = {"AmazonRDS", "InstanceUsage:db.r5.4xlarge", "CreateDBInstance:0014", "us-east-1", 2.0, RES_DB},
    [PR_S3] = {"AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "us-east-1", 0.023, RES_BUCKET},
    [PR_MSK_LARGE] = {"AmazonMSK", "USE1-Kafka.m5.large", "RunBroker", "us-east-1", 0.21, RES_CLUSTER},
    [PR_MSK_2XL] = {"AmazonMSK", "USE1-Kafka.m5.2xlarge", "RunBroker", "us-east-1", 0.84, RES_CLUSTER},
    [PR_LAMBDA] = {"AWSLambda", "USE1-Lambda-GB-Second", "Invoke", "us-east-1", 0.0000166667, RES_FUNCTION},
    [PR_DYNAMODB] = {"AmazonDynamoDB", "USE1-WriteCapacityUnit-Hrs", "CommittedThroughput", "us-east-1", 0.00065,
                     RES_TABLE},
    [PR_CLOUDFRONT] = {"AmazonCloudFront", "US-DataTransfer-Out-Bytes", "GET", "global", 0.085, RES_DISTRIBUTION},
    [PR_SAGEMAKER] = {"AmazonSageMaker", "USE1-Train:ml.p3.8xlarge", "CreateTrainingJob", "us-east-1", 14.688,
                      RES_JOB},
};

/* What unnamed projects are made of (each product at most once). */
static const int FILLER_PRODUCTS[] = {PR_EC2_M5XL, PR_EC2_C52XL, PR_EC2_EU, PR_EC2_TRANSFER, PR_RDS_LARGE,
                                      PR_S3, PR_MSK_LARGE, PR_LAMBDA, PR_DYNAMODB, PR_CLOUDFRONT};

static const char *const FILLER_NAMES[] = {
    "search", "catalog", "identity", "checkout", "recommendations", "notifications", "inventory",
    "reporting", "media", "mobile-backend", "data-lake", "support-tools", "fraud-detection", "logistics",
    "marketing", "pricing", "ads", "messaging", "maps", "ci-runners", "observability", "partner-api",
};

/* ------------------------------------------------------------ the cases */

typedef struct {
    int product;
    double daily; /* $ per day before growth and noise */
} bill_part;

typedef enum { STEP_NONE, STEP_REPLACE, STEP_ADD_LINE, STEP_RAISE } bill_step_kind;

/* A named project, its lines, and the step it gets (if any): REPLACE ends
 * part 0 and starts `product` on the same resource; ADD_LINE starts a new
 * `product` line; RAISE adds `daily` to part 0. */
typedef struct {
    const char *name;
    bool tagged;
    bill_part parts[BILL_MAX_PARTS];
    size_t n_parts;
    bill_step_kind step;
    int step_product;
    double step_daily;
    const char *reason; /* quiet label's reason; NULL: a cost_jump label */
} bill_named;

enum { N_STREAMING, N_ORDERS, N_ML, N_WEB, N_SMALL, N_BIG, N_ANALYTICS, N_PAYMENTS, N_UNTAGGED, N_COUNT };
enum { N_JUMPS = 4, N_STEPS = 6 }; /* the first 4 must alert; the first 6 step */

static const bill_named NAMED[N_COUNT] = {
    /* ~$4,000/day; MSK x4: +$2,400/day, 60 % */
    [N_STREAMING] = {"streaming", true,
                     {{PR_MSK_LARGE, 800}, {PR_EC2_M5XL, 1500}, {PR_DYNAMODB, 1000}, {PR_S3, 400}, {PR_LAMBDA, 300}},
                     5, STEP_REPLACE, PR_MSK_2XL, 3200, NULL},
    /* ~$5,000/day; RDS x8: +$2,800/day, 56 % */
    [N_ORDERS] = {"orders", true,
                  {{PR_RDS_LARGE, 400}, {PR_EC2_M5XL, 2000}, {PR_DYNAMODB, 1200}, {PR_LAMBDA, 1000}, {PR_S3, 400}},
                  5, STEP_REPLACE, PR_RDS_4XL, 3200, NULL},
    /* ~$5,000/day; +$2,000/day of SageMaker training, 40 % */
    [N_ML] = {"ml-training", true, {{PR_EC2_C52XL, 2500}, {PR_S3, 1500}, {PR_LAMBDA, 1000}}, 3, STEP_ADD_LINE,
              PR_SAGEMAKER, 2000, NULL},
    /* ~$6,000/day; one distribution +$3,000/day, 50 % */
    [N_WEB] = {"web-frontend", true,
               {{PR_CLOUDFRONT, 2000}, {PR_CLOUDFRONT, 1500}, {PR_EC2_M5XL, 1700}, {PR_S3, 800}}, 4, STEP_RAISE,
               PR_CLOUDFRONT, 3000, NULL},
    /* ~$2,500/day; +$600/day is 24 % but below $1,000 */
    [N_SMALL] = {"small-change", true, {{PR_EC2_M5XL, 1500}, {PR_S3, 500}, {PR_LAMBDA, 500}}, 3, STEP_RAISE,
                 PR_EC2_M5XL, 600, "noise_absolute"},
    /* ~$25,000/day; +$1,500/day is above $1,000 but 6 % */
    [N_BIG] = {"big-base", true,
               {{PR_EC2_M5XL, 12000}, {PR_RDS_LARGE, 6000}, {PR_DYNAMODB, 4000}, {PR_S3, 3000}}, 4, STEP_RAISE,
               PR_EC2_M5XL, 1500, "noise_relative"},
    /* ~$8,000/day: x1.10 of a day is +$800 and 10 %; counted twice, x2.1 */
    [N_ANALYTICS] = {"analytics", true,
                     {{PR_EC2_C52XL, 3500}, {PR_S3, 2000}, {PR_DYNAMODB, 1500}, {PR_EC2_TRANSFER, 1000}}, 4,
                     STEP_NONE, 0, 0, "restatement"},
    /* ~$3,000/day and a ~-$300 credit */
    [N_PAYMENTS] = {"payments", true, {{PR_EC2_M5XL, 1500}, {PR_RDS_LARGE, 900}, {PR_DYNAMODB, 600}}, 3,
                    STEP_NONE, 0, 0, "credit"},
    /* no tag at all: the processor files these under "untagged" */
    [N_UNTAGGED] = {"untagged", false, {{PR_EC2_M5XL, 600}, {PR_S3, 400}, {PR_EC2_TRANSFER, 150}}, 3, STEP_NONE,
                    0, 0, "untagged"},
};

/* ----------------------------------------------------------- the world */

typedef struct {
    char name[40];
    char account[16];
    bool tagged;
    double growth;      /* per day, compounded */
    double weekend_dip; /* share missing on Saturday and Sunday (UTC) */
} bill_project;

typedef struct {
    uint32_t project;
    uint32_t product;
    char resource[160];
    double daily;       /* $ per day before growth, weekend and noise */
    int from_h, to_h;   /* active hours [from_h, to_h) since --start */
    int step_h;         /* from this hour on, step_daily more */
    double step_daily;
    double noise_sd;
} bill_line;

/* One labelled case: a cost_jump (reason NULL) or a quiet project. */
typedef struct {
    size_t project;
    const char *reason;
    int refresh;        /* steps: the refresh whose horizon the step starts at */
    int top_product;
    size_t top_line;    /* the line that carries the step */
    double impact;      /* $ per day at the step, with growth */
} bill_case;

typedef struct {
    char at[24];        /* "2026-10-05T13:00:00Z" */
    char period[8];     /* "2026-10" */
} bill_hour;

typedef struct {
    uint64_t seed;
    int64_t start_ms;
    int days;
    int hours;          /* days * 24 */
    int refreshes;      /* days * 3 */
    bill_project *projects;
    size_t n_projects;
    bill_line *lines;
    size_t n_lines;
    bill_hour *clock;   /* hours + 1 entries */
    bill_case cases[N_COUNT];
    int restate_refresh; /* x1.10 here, back to the original in the next one */
    int restate_day;
    int credit_day;
    int64_t credit_micros;
} bill_world;

typedef struct {
    const char *out;
    const char *to_kafka;
    const char *topic;
    const char *labels;
    const char *truth;
    uint64_t seed;
    int days;
    size_t projects;
    int64_t start_ms;
    bool help;
} bill_opts;

static int horizon_hour(int refresh)
{
    return (refresh + 1) * BILL_REFRESH_HOURS - BILL_LAG_HOURS;
}

static void version_of(const bill_world *w, int refresh, char *dst, size_t cap)
{
    time_t t = (time_t)((w->start_ms + (int64_t)(refresh + 1) * BILL_REFRESH_HOURS * BILL_HOUR_MS) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(dst, cap, "%Y-%m-%dT%H", &tm);
}

static void day_of(const bill_world *w, int day, char *dst, size_t cap)
{
    snprintf(dst, cap, "%.10s", w->clock[day * 24].at);
}

/* Resource ids look like the real thing so top contributors read well;
 * untagged spend is named like the shared leftovers it usually is. */
static void name_resource(bill_line *l, const bill_project *p, unsigned seq, ew_rng *r)
{
    const bill_product *pr = &PRODUCTS[l->product];
    const char *name = p->tagged ? p->name : "shared";
    char *d = l->resource;
    size_t cap = sizeof l->resource;
    switch (pr->res) {
    case RES_NONE:
        d[0] = '\0';
        break;
    case RES_INSTANCE:
        snprintf(d, cap, "i-0%016" PRIx64, ew_rng_next(r));
        break;
    case RES_DB:
        snprintf(d, cap, "arn:aws:rds:%s:%s:db:%s-db", pr->region, p->account, name);
        break;
    case RES_BUCKET:
        snprintf(d, cap, "%s-data-%s", name, p->account);
        break;
    case RES_CLUSTER: {
        uint64_t id = ew_rng_next(r); /* one draw: argument order is unspecified */
        snprintf(d, cap, "arn:aws:kafka:%s:%s:cluster/%s-events/%08" PRIx32 "-%04x", pr->region, p->account, name,
                 (uint32_t)(id >> 32), (unsigned)(id & 0xffff));
        break;
    }
    case RES_FUNCTION:
        snprintf(d, cap, "arn:aws:lambda:%s:%s:function:%s-api", pr->region, p->account, name);
        break;
    case RES_TABLE:
        snprintf(d, cap, "arn:aws:dynamodb:%s:%s:table/%s", pr->region, p->account, name);
        break;
    case RES_DISTRIBUTION: {
        /* "E1" + 3 letters of the project + the distribution's number */
        char tag[4] = "XXX";
        for (size_t i = 0, k = 0; name[i] && k < 3; i++)
            if ((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9'))
                tag[k++] = (char)(name[i] >= 'a' ? name[i] - 'a' + 'A' : name[i]);
        snprintf(d, cap, "E1%s%010u", tag, seq + 1);
        break;
    }
    case RES_JOB:
        snprintf(d, cap, "arn:aws:sagemaker:%s:%s:training-job/%s-nightly", pr->region, p->account, name);
        break;
    }
}

static bill_line *add_line(bill_world *w, size_t project, int product, double daily, ew_rng *r)
{
    bill_line *l = &w->lines[w->n_lines++];
    *l = (bill_line){.project = (uint32_t)project, .product = (uint32_t)product, .daily = daily, .from_h = 0,
                     .to_h = w->hours, .step_h = BILL_NO_HOUR, .noise_sd = ew_rng_uniform(r, 0.02, 0.05)};
    unsigned seq = 0; /* lines of this product so far: distributions are numbered */
    for (size_t i = 0; i + 1 < w->n_lines; i++)
        seq += w->lines[i].product == (uint32_t)product;
    name_resource(l, &w->projects[project], seq, r);
    return l;
}

static void init_project(bill_world *w, size_t i, const char *name, bool tagged, ew_rng *r)
{
    bill_project *p = &w->projects[i];
    snprintf(p->name, sizeof p->name, "%s", name);
    /* one account per project keeps lines without a resource id distinct */
    snprintf(p->account, sizeof p->account, "%012" PRIu64, (uint64_t)123456789012ULL + i);
    p->tagged = tagged;
    p->growth = tagged ? ew_rng_uniform(r, 0.0, 0.004) : 0.0; /* untagged spend is steady */
}

static void init_named(bill_world *w, ew_rng *r)
{
    for (size_t i = 0; i < N_COUNT; i++) {
        init_project(w, i, NAMED[i].name, NAMED[i].tagged, r);
        for (size_t k = 0; k < NAMED[i].n_parts; k++)
            add_line(w, i, NAMED[i].parts[k].product, NAMED[i].parts[k].daily, r);
    }
}

/* Unnamed projects: $800-$25,000/day, one per stratum of a log scale skewed
 * low (few projects carry most spend), split over 3-6 distinct products. */
static void init_fillers(bill_world *w, ew_rng *r)
{
    size_t n = w->n_projects - N_COUNT;
    for (size_t k = 0; k < n; k++) {
        size_t i = N_COUNT + k;
        char name[40];
        if (k < ARRAY_LEN(FILLER_NAMES))
            snprintf(name, sizeof name, "%s", FILLER_NAMES[k]);
        else
            snprintf(name, sizeof name, "project-%zu", i + 1);
        init_project(w, i, name, true, r);
        w->projects[i].weekend_dip = ew_rng_below(r, 3) == 0 ? 0.25 : 0.0;
        double x = ((double)k + ew_rng_unit(r)) / (double)n;
        double spend = round(800.0 * pow(25000.0 / 800.0, x * x));
        int products[ARRAY_LEN(FILLER_PRODUCTS)];
        memcpy(products, FILLER_PRODUCTS, sizeof products);
        shuffle_ints(products, ARRAY_LEN(products), r);
        size_t parts = 3 + ew_rng_below(r, 4);
        double weights[BILL_MAX_PARTS], sum = 0;
        for (size_t j = 0; j < parts; j++)
            sum += weights[j] = ew_rng_uniform(r, 0.5, 1.5);
        for (size_t j = 0; j < parts; j++)
            add_line(w, i, products[j], round(spend * weights[j] / sum), r);
    }
}

static double growth_at(const bill_project *p, int hour)
{
    return pow(1.0 + p->growth, hour / 24.0);
}

/* Picks distinct step refreshes: the four jumps in case order, then the two
 * sub-threshold steps. Refresh r's horizon is hour 8r+6, and the step must
 * leave one more refresh to be seen in. */
static void plan_steps(bill_world *w, ew_rng *r)
{
    int lo = (BILL_FIRST_JUMP_DAY * 24 - 6 + 7) / 8, hi = w->refreshes - 2;
    int slots[3 * BILL_MAX_DAYS];
    size_t n = 0;
    for (int s = lo; s <= hi; s++)
        slots[n++] = s;
    shuffle_ints(slots, n, r);
    for (size_t a = 1; a < N_JUMPS; a++) /* "later day" for each next jump */
        for (size_t b = a; b > 0 && slots[b - 1] > slots[b]; b--) {
            int t = slots[b];
            slots[b] = slots[b - 1];
            slots[b - 1] = t;
        }
    for (size_t i = 0; i < N_STEPS; i++)
        w->cases[i].refresh = slots[i];
}

static void apply_step(bill_world *w, size_t i, ew_rng *r)
{
    const bill_named *nm = &NAMED[i];
    bill_case *c = &w->cases[i];
    int h = horizon_hour(c->refresh);
    size_t first = 0;
    while (w->lines[first].project != i)
        first++;
    bill_line *base = &w->lines[first];
    double growth = growth_at(&w->projects[i], h);
    c->top_line = first;
    if (nm->step == STEP_RAISE) {
        base->step_h = h;
        base->step_daily = nm->step_daily;
        c->impact = nm->step_daily * growth;
        return;
    }
    bill_line *l = add_line(w, i, nm->step_product, nm->step_daily, r);
    l->from_h = h;
    c->top_line = (size_t)(l - w->lines);
    c->impact = nm->step_daily * growth;
    if (nm->step == STEP_REPLACE) {
        base->to_h = h;
        snprintf(l->resource, sizeof l->resource, "%s", base->resource); /* the same cluster / database */
        c->impact = (nm->step_daily - base->daily) * growth;
    }
}

/* The restated day ends before the refresh preceding the restatement, so
 * it is complete when restated; the credit day is complete before the
 * last refresh's horizon. */
static void plan_quiet(bill_world *w, ew_rng *r)
{
    int lo = (BILL_FIRST_JUMP_DAY * 24 - 6 + 7) / 8 + 1, hi = w->refreshes - 2;
    w->restate_refresh = lo + (int)ew_rng_below(r, (uint64_t)(hi - lo + 1));
    w->restate_day = horizon_hour(w->restate_refresh - 1) / 24 - 1 - (int)ew_rng_below(r, 3);
    w->credit_day = BILL_FIRST_JUMP_DAY + (int)ew_rng_below(r, (uint64_t)(w->days - 1 - BILL_FIRST_JUMP_DAY));
    int64_t dollars = 280 + (int64_t)ew_rng_below(r, 41); /* separate statements: draws in a fixed order */
    int64_t cents = (int64_t)ew_rng_below(r, 100);
    w->credit_micros = -(dollars * 1000000 + cents * 10000);
    w->cases[N_ANALYTICS].refresh = w->restate_refresh;
}

static void init_clock(bill_world *w)
{
    for (int h = 0; h <= w->hours; h++) {
        int64_t ms = w->start_ms + (int64_t)h * BILL_HOUR_MS;
        ew_format_time(ms, w->clock[h].at, sizeof w->clock[h].at);
        snprintf(w->clock[h].period, sizeof w->clock[h].period, "%.7s", w->clock[h].at);
    }
}

static bool build_world(bill_world *w, const bill_opts *o)
{
    *w = (bill_world){.seed = o->seed, .start_ms = o->start_ms, .days = o->days, .hours = o->days * 24,
                      .refreshes = o->days * 24 / BILL_REFRESH_HOURS, .n_projects = o->projects};
    w->projects = calloc(w->n_projects, sizeof *w->projects);
    w->lines = calloc(w->n_projects * BILL_MAX_PARTS + N_STEPS, sizeof *w->lines);
    w->clock = calloc((size_t)w->hours + 1, sizeof *w->clock);
    if (!w->projects || !w->lines || !w->clock)
        return false;
    ew_rng world = ew_rng_derive(o->seed, STREAM_WORLD, 0);
    init_named(w, &world);
    init_fillers(w, &world);
    ew_rng plan = ew_rng_derive(o->seed, STREAM_PLAN, (uint64_t)o->days);
    plan_steps(w, &plan);
    for (size_t i = 0; i < N_COUNT; i++) {
        w->cases[i].project = i;
        w->cases[i].reason = NAMED[i].reason;
        w->cases[i].top_product = NAMED[i].step_product;
        if (i < N_STEPS)
            apply_step(w, i, &plan);
    }
    plan_quiet(w, &plan);
    init_clock(w);
    return true;
}

static void free_world(bill_world *w)
{
    free(w->projects);
    free(w->lines);
    free(w->clock);
}

/* ------------------------------------------------------------ the cost */

static bool on_weekend(const bill_world *w, int hour)
{
    int64_t days = (w->start_ms / BILL_HOUR_MS + hour) / 24; /* 1970-01-01 was a Thursday */
    int wday = (int)((days + 4) % 7);
    return wday == 0 || wday == 6;
}

/* Noise of one line-hour from its own stream: a line's cost does not
 * depend on which refresh delivers it or what else is generated. */
static double noise_at(const bill_world *w, size_t line, int hour)
{
    ew_rng r = ew_rng_derive(w->seed, STREAM_NOISE, (uint64_t)line << 20 | (uint64_t)hour);
    double z = ew_rng_normal(&r);
    z = z > 3 ? 3 : z < -3 ? -3 : z;
    return 1.0 + w->lines[line].noise_sd * z;
}

static int64_t line_cost(const bill_world *w, size_t line, int hour)
{
    const bill_line *l = &w->lines[line];
    const bill_project *p = &w->projects[l->project];
    double daily = l->daily + (hour >= l->step_h ? l->step_daily : 0.0);
    double f = growth_at(p, hour) * noise_at(w, line, hour);
    if (p->weekend_dip > 0 && on_weekend(w, hour))
        f *= 1.0 - p->weekend_dip;
    return llround(daily / 24.0 * f * 1e6);
}

/* ------------------------------------------------------------- the sink */

typedef struct {
    FILE *file;
    bool own_file;
    ew_gen_producer kafka;
    uint64_t records;
    uint64_t bytes;
    uint64_t lines;
} bill_sink;

static bool open_sink(bill_sink *s, const bill_opts *o)
{
    memset(s, 0, sizeof *s);
    /* Idempotence keeps each partition in produce order across retries: a
     * refresh_end must never overtake the lines it closes. */
    static const char *const kafka_settings[] = {"enable.idempotence", "true", "client.id", "edgewatch-gen-billing",
                                                 NULL};
    if (o->to_kafka)
        return ew_gen_producer_open(&s->kafka, o->to_kafka, o->topic, kafka_settings);
    s->own_file = strcmp(o->out, "-") != 0;
    s->file = s->own_file ? fopen(o->out, "w") : stdout;
    if (!s->file) {
        ew_error("gen: cannot open %s: %s", o->out, strerror(errno));
        return false;
    }
    setvbuf(s->file, NULL, _IOFBF, 1 << 20);
    return true;
}

/* One record; Kafka messages are keyed by billing period so a period's
 * lines and refresh ends share a partition and keep their order. */
static bool sink_put(bill_sink *s, const char *rec, size_t len, const char *period)
{
    s->records++;
    s->bytes += len;
    if (s->kafka.rk)
        return ew_gen_produce(&s->kafka, period, strlen(period), rec, len);
    if (fwrite(rec, 1, len, s->file) != len || fputc('\n', s->file) == EOF) {
        ew_error("gen: write failed: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool close_sink(bill_sink *s, bool ok)
{
    if (s->kafka.rk)
        return ew_gen_producer_close(&s->kafka) && ok;
    if (fflush(s->file) != 0 || (s->own_file && fclose(s->file) != 0)) {
        if (ok)
            ew_error("gen: write failed: %s", strerror(errno));
        ok = false;
    }
    return ok;
}

/* ----------------------------------------------------------- emitting */

/* One refresh being written: its id and the periods it touched. */
typedef struct {
    char version[16];
    char periods[BILL_MAX_PERIODS][8];
    size_t n_periods;
} bill_refresh;

typedef struct {
    const bill_world *w;
    bill_sink *sink;
    int64_t *totals;    /* [project * days + day], micros */
    char buf[BILL_RECORD_MAX];
} bill_run;

static void touch_period(bill_refresh *rf, const char *period)
{
    for (size_t i = 0; i < rf->n_periods; i++)
        if (strcmp(rf->periods[i], period) == 0)
            return;
    if (rf->n_periods < BILL_MAX_PERIODS)
        snprintf(rf->periods[rf->n_periods++], sizeof rf->periods[0], "%s", period);
}

/* "12.3400000000": CUR's 10 decimals, exact because costs are whole micros. */
static void format_cost(char *dst, size_t cap, int64_t micros)
{
    uint64_t a = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
    snprintf(dst, cap, "%s%" PRIu64 ".%06" PRIu64 "0000", micros < 0 ? "-" : "", a / 1000000, a % 1000000);
}

/* What one line item says besides its stable product fields. */
typedef struct {
    const char *type;
    const bill_product *product;
    const char *usage_type;
    const char *operation;
    const char *resource;
    const bill_project *project;
    int from_h, to_h;
    double usage_amount;  /* NAN: absent */
    int64_t micros;
} bill_item;

static size_t format_item(const bill_world *w, const bill_item *it, const char *version, char *buf, size_t cap)
{
    char cost[40], amount[48] = "", resource[200] = "", tags[80] = "";
    format_cost(cost, sizeof cost, it->micros);
    if (!isnan(it->usage_amount))
        snprintf(amount, sizeof amount, "\"usage_amount\":%.4f,", it->usage_amount);
    if (it->resource[0])
        snprintf(resource, sizeof resource, "\"resource_id\":\"%s\",", it->resource);
    if (it->project->tagged)
        snprintf(tags, sizeof tags, "\"tags\":{\"user:project\":\"%s\"},", it->project->name);
    int n = snprintf(buf, cap,
                     "{\"billing_period\":\"%s\",\"usage_account_id\":\"%s\",\"line_item_type\":\"%s\","
                     "\"service\":\"%s\",\"usage_type\":\"%s\",\"operation\":\"%s\",%s\"region\":\"%s\","
                     "\"usage_start\":\"%s\",\"usage_end\":\"%s\",%s\"unblended_cost\":\"%s\","
                     "\"currency\":\"USD\",%s\"report_version\":\"%s\"}",
                     w->clock[it->from_h].period, it->project->account, it->type, it->product->service,
                     it->usage_type, it->operation, resource, it->product->region, w->clock[it->from_h].at,
                     w->clock[it->to_h].at, amount, cost, tags, version);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Writes one item and applies it to the truth as an upsert would: delta is
 * its cost minus what the same line held before. */
static bool put_item(bill_run *run, bill_refresh *rf, const bill_item *it, size_t project, int64_t delta)
{
    size_t len = format_item(run->w, it, rf->version, run->buf, sizeof run->buf);
    if (!len) {
        ew_error("gen: billing record too long");
        return false;
    }
    const char *period = run->w->clock[it->from_h].period;
    touch_period(rf, period);
    run->totals[project * (size_t)run->w->days + (size_t)(it->from_h / 24)] += delta;
    run->sink->lines++;
    return sink_put(run->sink, run->buf, len, period);
}

static bool put_usage(bill_run *run, bill_refresh *rf, size_t line, int hour, int64_t micros, int64_t delta)
{
    const bill_line *l = &run->w->lines[line];
    const bill_product *pr = &PRODUCTS[l->product];
    bill_item it = {.type = "Usage", .product = pr, .usage_type = pr->usage_type, .operation = pr->operation,
                    .resource = l->resource, .project = &run->w->projects[l->project], .from_h = hour,
                    .to_h = hour + 1, .usage_amount = (double)micros / 1e6 / pr->unit_price, .micros = micros};
    return put_item(run, rf, &it, l->project, delta);
}

static bool active(const bill_line *l, int hour)
{
    return hour >= l->from_h && hour < l->to_h;
}

static bool put_new_hours(bill_run *run, bill_refresh *rf, int lo, int hi)
{
    const bill_world *w = run->w;
    for (int h = lo; h < hi; h++)
        for (size_t i = 0; i < w->n_lines; i++) {
            if (!active(&w->lines[i], h))
                continue;
            int64_t c = line_cost(w, i, h);
            if (!put_usage(run, rf, i, h, c, c))
                return false;
        }
    return true;
}

/* The analytics day again, x1.10 (up) or back to the original (!up). */
static bool put_restated(bill_run *run, bill_refresh *rf, bool up)
{
    const bill_world *w = run->w;
    int lo = w->restate_day * 24;
    for (int h = lo; h < lo + 24; h++)
        for (size_t i = 0; i < w->n_lines; i++) {
            if (w->lines[i].project != N_ANALYTICS || !active(&w->lines[i], h))
                continue;
            int64_t orig = line_cost(w, i, h), raised = (orig * 11 + 5) / 10;
            bool ok = up ? put_usage(run, rf, i, h, raised, raised - orig)
                         : put_usage(run, rf, i, h, orig, orig - raised);
            if (!ok)
                return false;
        }
    return true;
}

/* A whole-day credit: no resource, no usage amount, negative cost. */
static bool put_credit(bill_run *run, bill_refresh *rf)
{
    const bill_world *w = run->w;
    bill_item it = {.type = "Credit", .product = &PRODUCTS[PR_EC2_M5XL], .usage_type = "", .operation = "",
                    .resource = "", .project = &w->projects[N_PAYMENTS], .from_h = w->credit_day * 24,
                    .to_h = w->credit_day * 24 + 24, .usage_amount = NAN, .micros = w->credit_micros};
    return put_item(run, rf, &it, N_PAYMENTS, w->credit_micros);
}

static int period_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool put_refresh_ends(bill_run *run, bill_refresh *rf)
{
    qsort(rf->periods, rf->n_periods, sizeof rf->periods[0], period_cmp);
    for (size_t i = 0; i < rf->n_periods; i++) {
        int n = snprintf(run->buf, sizeof run->buf,
                         "{\"kind\":\"refresh_end\",\"billing_period\":\"%s\",\"report_version\":\"%s\","
                         "\"full\":false}",
                         rf->periods[i], rf->version);
        if (!sink_put(run->sink, run->buf, (size_t)n, rf->periods[i]))
            return false;
    }
    return true;
}

static bool put_refresh(bill_run *run, int r)
{
    const bill_world *w = run->w;
    bill_refresh rf = {0};
    version_of(w, r, rf.version, sizeof rf.version);
    int lo = r ? horizon_hour(r - 1) : 0, hi = horizon_hour(r);
    if (!put_new_hours(run, &rf, lo, hi))
        return false;
    if ((r == w->restate_refresh || r == w->restate_refresh + 1) && !put_restated(run, &rf, r == w->restate_refresh))
        return false;
    int credit_end = w->credit_day * 24 + 24;
    if (credit_end > lo && credit_end <= hi && !put_credit(run, &rf))
        return false;
    return put_refresh_ends(run, &rf);
}

/* ------------------------------------------------------ labels, truth */

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        ew_error("gen: cannot open %s: %s", path, strerror(errno));
    return f;
}

static bool close_out(FILE *f, const char *path, bool ok)
{
    if (fclose(f) != 0 || !ok) {
        ew_error("gen: cannot write %s", path);
        return false;
    }
    return true;
}

static void write_jump(FILE *f, const bill_world *w, const bill_case *c)
{
    char first[16];
    version_of(w, c->refresh + 1, first, sizeof first);
    const bill_line *l = &w->lines[c->top_line];
    const bill_product *pr = &PRODUCTS[l->product];
    bool by_resource = PRODUCTS[c->top_product].res == RES_DISTRIBUTION;
    fprintf(f,
            "{\"kind\":\"cost_jump\",\"project\":\"%s\",\"rule\":\"cost_spike\",\"start\":\"%s\","
            "\"first_refresh\":\"%s\",\"top_service\":\"%s\",\"top_dimension\":\"%s\",\"top_value\":\"%s\","
            "\"impact_per_day\":%.2f}\n",
            w->projects[c->project].name, w->clock[horizon_hour(c->refresh)].at, first, pr->service,
            by_resource ? "resource_id" : "usage_type", by_resource ? l->resource : pr->usage_type, c->impact);
}

/* Quiet labels say why the project must stay quiet, plus when and how much
 * for people reading them (the evaluator needs only project and kind). */
static void write_quiet(FILE *f, const bill_world *w, const bill_case *c)
{
    const char *name = w->projects[c->project].name;
    fprintf(f, "{\"kind\":\"quiet\",\"project\":\"%s\",\"reason\":\"%s\"", name, c->reason);
    char a[16], b[16], day[16];
    if (c->project == N_SMALL || c->project == N_BIG) {
        version_of(w, c->refresh + 1, a, sizeof a);
        fprintf(f, ",\"start\":\"%s\",\"first_refresh\":\"%s\",\"impact_per_day\":%.2f",
                w->clock[horizon_hour(c->refresh)].at, a, c->impact);
    } else if (c->project == N_ANALYTICS) {
        version_of(w, w->restate_refresh, a, sizeof a);
        version_of(w, w->restate_refresh + 1, b, sizeof b);
        day_of(w, w->restate_day, day, sizeof day);
        fprintf(f, ",\"day\":\"%s\",\"restated_in\":\"%s\",\"factor\":1.10,\"reverted_in\":\"%s\"", day, a, b);
    } else if (c->project == N_PAYMENTS) {
        day_of(w, w->credit_day, day, sizeof day);
        version_of(w, (w->credit_day + 1) * 3, a, sizeof a);
        fprintf(f, ",\"day\":\"%s\",\"credit_micros\":%" PRId64 ",\"delivered_in\":\"%s\"", day, w->credit_micros, a);
    }
    fputs("}\n", f);
}

static bool write_labels(const bill_world *w, const char *path)
{
    FILE *f = open_out(path);
    if (!f)
        return false;
    for (size_t i = 0; i < N_COUNT; i++) {
        if (w->cases[i].reason)
            write_quiet(f, w, &w->cases[i]);
        else
            write_jump(f, w, &w->cases[i]);
    }
    return close_out(f, path, !ferror(f));
}

static bool write_truth(const bill_world *w, const int64_t *totals, const char *path)
{
    FILE *f = open_out(path);
    if (!f)
        return false;
    for (size_t p = 0; p < w->n_projects; p++)
        for (int d = 0; d < w->days; d++) {
            char day[16];
            day_of(w, d, day, sizeof day);
            fprintf(f, "{\"project\":\"%s\",\"day\":\"%s\",\"micros\":%" PRId64 "}\n", w->projects[p].name, day,
                    totals[p * (size_t)w->days + (size_t)d]);
        }
    return close_out(f, path, !ferror(f));
}

/* --------------------------------------------------------------- the CLI */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: edgewatch gen --scenario billing (--out FILE | --to-kafka BOOTSTRAP) [options]\n"
            "\n"
            "Writes AWS billing line items (CUR rows as JSON lines) refresh by refresh, each refresh\n"
            "followed by one refresh_end per billing period, with 4 labelled cost jumps and 5 quiet\n"
            "cases (docs/billing.md). Output is byte-identical for the same options.\n"
            "\n"
            "  --out FILE             write JSON lines to FILE ('-' = stdout)\n"
            "  --to-kafka BOOTSTRAP   produce them to Kafka, keyed by billing period\n"
            "  --topic NAME           Kafka topic (default " BILL_DEFAULT_TOPIC ")\n"
            "  --labels FILE          write the injected cases as JSON lines\n"
            "  --truth FILE           write final cost per project and UTC day (micros)\n"
            "  --seed N               PRNG seed (default 1)\n"
            "  --days D               days of usage, %d-%d (default %d)\n"
            "  --projects N           projects, %d-%d (default %d)\n"
            "  --start T              first day, RFC 3339 UTC midnight (default " BILL_DEFAULT_START ")\n"
            "  --help                 show this help\n",
            BILL_MIN_DAYS, BILL_MAX_DAYS, BILL_DEFAULT_DAYS, N_COUNT + 3, BILL_MAX_PROJECTS,
            BILL_DEFAULT_PROJECTS);
}

static bool parse_start(const char *text, int64_t *out)
{
    if (!ew_parse_time_ms(text, out) || *out % BILL_DAY_MS != 0) {
        ew_error("gen: --start needs an RFC 3339 UTC midnight (e.g. " BILL_DEFAULT_START "), got '%s'", text);
        return false;
    }
    return true;
}

static bool apply_flag(bill_opts *o, const char *flag, const char *value)
{
    uint64_t v;
    if (strcmp(flag, "--scenario") == 0)
        return true; /* gen.c dispatched here because it is billing */
    if (strcmp(flag, "--out") == 0)
        o->out = value;
    else if (strcmp(flag, "--to-kafka") == 0)
        o->to_kafka = value;
    else if (strcmp(flag, "--topic") == 0)
        o->topic = value;
    else if (strcmp(flag, "--labels") == 0)
        o->labels = value;
    else if (strcmp(flag, "--truth") == 0)
        o->truth = value;
    else if (strcmp(flag, "--seed") == 0)
        return ew_gen_parse_u64(flag, value, 0, UINT64_MAX, &o->seed);
    else if (strcmp(flag, "--days") == 0) {
        if (!ew_gen_parse_u64(flag, value, BILL_MIN_DAYS, BILL_MAX_DAYS, &v))
            return false;
        o->days = (int)v;
    } else if (strcmp(flag, "--projects") == 0) {
        if (!ew_gen_parse_u64(flag, value, N_COUNT + 3, BILL_MAX_PROJECTS, &v))
            return false;
        o->projects = (size_t)v;
    } else if (strcmp(flag, "--start") == 0)
        return parse_start(value, &o->start_ms);
    else {
        ew_error("gen: unknown option '%s' for scenario billing (see edgewatch gen --scenario billing --help)", flag);
        return false;
    }
    return true;
}

static bool apply_bill_flag(void *ctx, const char *flag, const char *value) { return apply_flag(ctx, flag, value); }

static bool check_opts(bill_opts *o)
{
    if (!o->to_kafka == !o->out) {
        ew_error("gen: give exactly one of --to-kafka BOOTSTRAP or --out FILE");
        return false;
    }
    if (o->topic && !o->to_kafka) {
        ew_error("gen: --topic only applies with --to-kafka");
        return false;
    }
    if (!o->topic)
        o->topic = BILL_DEFAULT_TOPIC;
    return true;
}

static bool generate(const bill_world *w, const bill_opts *o, bill_sink *sink)
{
    bill_run run = {.w = w, .sink = sink, .totals = calloc(w->n_projects * (size_t)w->days, sizeof(int64_t))};
    if (!run.totals) {
        ew_error("gen: out of memory");
        return false;
    }
    bool ok = true;
    for (int r = 0; ok && r < w->refreshes; r++)
        ok = put_refresh(&run, r);
    ok = close_sink(sink, ok);
    if (ok && o->truth)
        ok = write_truth(w, run.totals, o->truth);
    free(run.totals);
    return ok;
}

static int run(const bill_opts *o)
{
    bill_world w;
    if (!build_world(&w, o)) {
        free_world(&w);
        ew_error("gen: out of memory");
        return EW_EXIT_RUNTIME;
    }
    bill_sink sink;
    bool ok = (!o->labels || write_labels(&w, o->labels)) && open_sink(&sink, o) && generate(&w, o, &sink);
    if (ok)
        ew_info("gen: scenario=billing lines=%" PRIu64 " records=%" PRIu64 " bytes=%" PRIu64
                " projects=%zu refreshes=%d days=%d from=%s out=%s%s",
                sink.lines, sink.records, sink.bytes, w.n_projects, w.refreshes, w.days, w.clock[0].at,
                o->to_kafka ? "kafka:" : "", o->to_kafka ? o->topic : o->out);
    free_world(&w);
    return ok ? EW_EXIT_OK : EW_EXIT_RUNTIME;
}

int ew_gen_billing(int argc, char **argv)
{
    bill_opts o = {.seed = 1, .days = BILL_DEFAULT_DAYS, .projects = BILL_DEFAULT_PROJECTS};
    if (!ew_parse_time_ms(BILL_DEFAULT_START, &o.start_ms))
        return EW_EXIT_RUNTIME;
    if (!ew_gen_parse_flags(argc, argv, "edgewatch gen --scenario billing --help", apply_bill_flag, &o, &o.help))
        return EW_EXIT_USAGE;
    if (o.help) {
        usage(stdout);
        return EW_EXIT_OK;
    }
    if (!check_opts(&o))
        return EW_EXIT_USAGE;
    return run(&o);
}
