/* gen.c -- `edgewatch gen`: synthetic CloudFront real-time logs with known
 * anomalies, for demos, integration tests and benchmarks.
 *
 * A run builds a small "world" of distributions (id, domain, alias, project,
 * owner, route, base request rate), lets a scenario inject anomalies into it
 * (a table maps scenario names to planning functions, so new scenarios only
 * add a function and a row), then writes the traffic minute by minute: every
 * distribution's requests for that minute are drawn, sorted by timestamp and
 * formatted as TAB-separated lines with the 43 default real-time fields
 * (formats.md §1.2/§1.3). Records go to a file/stdout (one per line) or to
 * Kafka (one per message, no trailing newline, random 8-byte key so records
 * spread over partitions); files are written from a second thread
 * (tools/bg_writer.c). Per-record work formats into a stack buffer and
 * allocates nothing; only the per-minute list of pending requests is heap.
 *
 * Everything is derived from --seed through a splitmix64 PRNG so the same
 * seed and --start give byte-identical output; the world is drawn from its
 * own PRNG stream, so the distributions (and the metadata file) do not
 * change with --minutes. Each record has its own stream too, so its content
 * does not depend on the order records are emitted in.
 *
 * Scenario spike keeps every distribution at a constant rate (its output
 * must not change: tests depend on it). Scenario detection gives most of
 * them daily and weekly seasonality and slow noise, adds tiny and wild
 * legacy distributions, and injects incidents that bend individual records
 * (403s, origin 5xx, slow origin, cache misses, attack clients); those
 * bends are drawn from a stream of their own, so the records an incident
 * does not bend come out as they would without it.
 *
 * The injected anomalies are written as JSON lines (--labels) so tests can
 * compare what the processor alerted on with what was injected; "end" is
 * exclusive and "expect" says whether an alert, a suppressed alert or none
 * is the right outcome. --metadata-out writes the file processor/metadata.c
 * reads; --events-out the expected-traffic events a team registered.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "edgewatch/gen_kafka.h"
#include "edgewatch/gen_rng.h"
#include "edgewatch/tools.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define GEN_FIELD_COUNT 43
#define GEN_ALL_FIELDS 69
#define GEN_LINE_MAX 4096
#define GEN_HEADERS_MAX 800 /* CloudFront truncates cs-headers at 800 B */
#define GEN_MAX_DISTRIBUTIONS 5000
#define GEN_MAX_MINUTES (21 * 1440) /* three weeks */
#define GEN_MAX_ANOMALIES 32
#define GEN_MINUTE_MS 60000
#define GEN_KEY_LEN 8
#define GEN_DEFAULT_TOPIC "cloudfront-realtime-logs"

/* ------------------------------------------- PRNG streams (gen_rng.h) */

/* Independent streams per purpose and index, so adding a minute or a
 * distribution never shifts the values drawn elsewhere. */
enum { STREAM_WORLD = 1, STREAM_TRAFFIC = 2 };

static uint64_t rng_range(ew_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + ew_rng_below(r, hi - lo + 1);
}

static bool rng_chance(ew_rng *r, double p)
{
    return ew_rng_unit(r) < p;
}

/* Each character is alphabet[ew_rng_below(r, k)]. The alphabets used have 16,
 * 36 or 64 characters: a constant divisor becomes a multiply or a mask,
 * where a division per character was the largest single cost of a record. */
static void rng_chars(ew_rng *r, const char *alphabet, char *dst, size_t n)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++) {
        uint64_t x = ew_rng_next(r);
        switch (k) {
        case 16:
            x %= 16;
            break;
        case 36:
            x %= 36;
            break;
        case 64:
            x %= 64;
            break;
        default:
            x %= k;
        }
        dst[i] = alphabet[x];
    }
    dst[n] = '\0';
}

#define PICK(rng, table) (&(table)[ew_rng_below((rng), ARRAY_LEN(table))])

/* Weighted choice over any table whose rows have an `unsigned weight`. */
static size_t pick_weighted(ew_rng *r, const void *table, size_t n, size_t stride, size_t weight_off)
{
    const unsigned char *base = table;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += *(const unsigned *)(const void *)(base + i * stride + weight_off);
    uint64_t x = ew_rng_below(r, total);
    for (size_t i = 0; i < n; i++) {
        unsigned w = *(const unsigned *)(const void *)(base + i * stride + weight_off);
        if (x < w)
            return i;
        x -= w;
    }
    return n - 1;
}

#define PICK_WEIGHTED(rng, table, n, type) \
    (&(table)[pick_weighted((rng), (table), (n), sizeof(type), offsetof(type, weight))])

static const char ALNUM_UPPER[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char ALNUM_LOWER[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char BASE64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
static const char HEX[] = "0123456789abcdef";

/* ------------------------------------------------------- static tables */

typedef enum { PROFILE_WEB, PROFILE_API, PROFILE_MEDIA, PROFILE_COUNT } gen_profile;

/* The first distributions get recognisable names; later ones are project-N. */
static const struct {
    const char *project;
    const char *owner;
    gen_profile profile;
} KNOWN_PROJECTS[] = {
    {"checkout-web", "team-payments", PROFILE_WEB},  {"search-api", "team-search", PROFILE_API},
    {"media-cdn", "team-media", PROFILE_MEDIA},      {"images-cdn", "team-imaging", PROFILE_WEB},
    {"docs-site", "team-docs", PROFILE_WEB},         {"mobile-api", "team-mobile", PROFILE_API},
    {"video-stream", "team-video", PROFILE_MEDIA},   {"account-portal", "team-identity", PROFILE_WEB},
    {"marketing-web", "team-growth", PROFILE_WEB},   {"catalog-api", "team-catalog", PROFILE_API},
    {"downloads", "team-release", PROFILE_MEDIA},    {"status-page", "team-sre", PROFILE_WEB},
};

typedef enum {
    ASSET_HTML, ASSET_JS, ASSET_CSS, ASSET_IMAGE, ASSET_FAVICON,
    ASSET_SEARCH, ASSET_ITEM, ASSET_CART, ASSET_HEALTH,
    ASSET_SEGMENT, ASSET_PLAYLIST, ASSET_MP4, ASSET_THUMB,
} gen_asset_kind;

typedef struct {
    gen_asset_kind kind;
    const char *method;
    const char *content_type;
    const char *behavior;   /* cache-behavior-path-pattern */
    const char *accept;
    uint32_t min_size, max_size;
    double hit_ratio;       /* share of successful GETs served from cache */
    double range_ratio;     /* share answered 206 to a Range request */
    unsigned weight;
} gen_asset;

static const char ACCEPT_HTML[] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
static const char ACCEPT_IMAGE[] = "image/avif,image/webp,*/*";

static const gen_asset WEB_ASSETS[] = {
    {ASSET_HTML, "GET", "text/html;%20charset=utf-8", "*", ACCEPT_HTML, 9000, 90000, 0.55, 0, 18},
    {ASSET_JS, "GET", "application/javascript", "/static/*", "*/*", 20000, 380000, 0.97, 0, 22},
    {ASSET_CSS, "GET", "text/css", "/static/*", "text/css,*/*;q=0.1", 6000, 90000, 0.97, 0, 12},
    {ASSET_IMAGE, "GET", "image/webp", "/images/*", ACCEPT_IMAGE, 3000, 260000, 0.90, 0, 40},
    {ASSET_FAVICON, "GET", "image/x-icon", "*", ACCEPT_IMAGE, 1150, 15086, 0.99, 0, 8},
};
static const gen_asset API_ASSETS[] = {
    {ASSET_SEARCH, "GET", "application/json", "/api/*", "application/json", 400, 48000, 0.35, 0, 45},
    {ASSET_ITEM, "GET", "application/json", "/api/*", "application/json", 300, 9000, 0.60, 0, 35},
    {ASSET_CART, "POST", "application/json", "/api/*", "application/json", 200, 4000, 0.0, 0, 14},
    {ASSET_HEALTH, "GET", "application/json", "/api/*", "*/*", 15, 60, 0.0, 0, 6},
};
static const gen_asset MEDIA_ASSETS[] = {
    {ASSET_SEGMENT, "GET", "video/MP2T", "/media/*", "*/*", 180000, 2400000, 0.93, 0.10, 55},
    {ASSET_PLAYLIST, "GET", "application/vnd.apple.mpegurl", "/media/*", "*/*", 400, 3000, 0.70, 0, 15},
    {ASSET_MP4, "GET", "video/mp4", "/media/*", "*/*", 5000000, 90000000, 0.85, 0.90, 12},
    {ASSET_THUMB, "GET", "image/jpeg", "/thumbs/*", ACCEPT_IMAGE, 8000, 60000, 0.95, 0, 18},
};
typedef struct {
    const gen_asset *assets;
    size_t n;
} gen_asset_set;

static const gen_asset_set PROFILE_ASSETS[PROFILE_COUNT] = {
    [PROFILE_WEB] = {WEB_ASSETS, ARRAY_LEN(WEB_ASSETS)},
    [PROFILE_API] = {API_ASSETS, ARRAY_LEN(API_ASSETS)},
    [PROFILE_MEDIA] = {MEDIA_ASSETS, ARRAY_LEN(MEDIA_ASSETS)},
};

/* Viewer regions keep edge location, country, ASN and IP prefix consistent. */
typedef struct {
    const char *country;
    const char *pops[3];
    unsigned asns[3];
    unsigned char v4_first[2];
    const char *v6_prefix;
    unsigned weight;
} gen_region;

static const gen_region REGIONS[] = {
    {"US", {"IAD89-C1", "DFW56-P1", "SFO53-C1"}, {7922, 701, 7018}, {73, 98}, "2600:1700", 34},
    {"US", {"ORD58-P4", "SEA19-C3", "JFK50-P2"}, {20115, 22773, 16509}, {24, 67}, "2601:640", 14},
    {"DE", {"FRA56-P5", "FRA60-P1", "MUC50-C1"}, {3320, 3209, 6805}, {84, 91}, "2003:e2", 9},
    {"GB", {"LHR61-C2", "LHR50-C1", "MAN51-C1"}, {2856, 5089, 5607}, {81, 86}, "2a00:23c7", 8},
    {"FR", {"CDG50-C1", "CDG52-P2", "MRS52-P1"}, {3215, 12322, 5410}, {90, 176}, "2a01:cb00", 6},
    {"JP", {"NRT57-C3", "NRT20-C1", "KIX56-C1"}, {2516, 4713, 17676}, {126, 153}, "240b:10", 7},
    {"BR", {"GRU3-C1", "GRU1-C2", "GIG51-C1"}, {28573, 18881, 26599}, {177, 189}, "2804:14c", 5},
    {"IN", {"BOM78-P1", "DEL54-C1", "MAA51-P1"}, {55836, 9829, 24560}, {49, 106}, "2401:4900", 7},
    {"AU", {"SYD1-C2", "SYD62-P1", "MEL50-C2"}, {1221, 4804, 7545}, {101, 203}, "2001:8003", 4},
    {"SG", {"SIN2-C1", "SIN52-C2", "SIN2-P3"}, {9506, 4773, 55430}, {116, 175}, "2401:7400", 3},
    {"CA", {"YUL62-C1", "YTO50-C1", "YVR52-P1"}, {812, 577, 852}, {70, 142}, "2607:fea8", 4},
    {"NL", {"AMS1-C1", "AMS54-C1", "AMS58-P4"}, {1136, 33915, 9143}, {77, 145}, "2a02:a440", 3},
};

/* URL-encoded as CloudFront logs them (spaces become %20). */
static const char *const BROWSER_AGENTS[] = {
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/124.0.0.0%20Safari/537.36",
    "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010_15_7)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.4%20Safari/605.1.15",
    "Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%2017_4%20like%20Mac%20OS%20X)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.4%20Mobile/15E148%20Safari/604.1",
    "Mozilla/5.0%20(Linux;%20Android%2014;%20Pixel%208)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/124.0.0.0%20Mobile%20Safari/537.36",
    "Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:125.0)%20Gecko/20100101%20Firefox/125.0",
    "Mozilla/5.0%20(compatible;%20Googlebot/2.1;%20+http://www.google.com/bot.html)",
};
static const char *const API_AGENTS[] = {
    "okhttp/4.12.0",
    "ShopApp/5.31.0%20(iPhone;%20iOS%2017.4.1;%20Scale/3.00)",
    "Dalvik/2.1.0%20(Linux;%20U;%20Android%2014;%20SM-S918B%20Build/UP1A.231005.007)",
    "python-requests/2.31.0",
    "curl/8.5.0",
};
/* Crawlers and uptime checkers are a large share of real web traffic. */
static const char *const BOT_AGENTS[] = {
    "Mozilla/5.0%20(compatible;%20bingbot/2.0;%20+http://www.bing.com/bingbot.htm)",
    "Slackbot-LinkExpanding%201.0%20(+https://api.slack.com/robots)",
    "facebookexternalhit/1.1",
    "UptimeRobot/2.0",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
};
/* Video players fetch segments with their own user agents. */
static const char *const PLAYER_AGENTS[] = {
    "AppleCoreMedia/1.0.0.21E236%20(iPhone;%20U;%20CPU%20OS%2017_4%20like%20Mac%20OS%20X;%20en_us)",
    "AppleCoreMedia/1.0.0.21E230%20(Apple%20TV;%20U;%20CPU%20OS%2017_4%20like%20Mac%20OS%20X;%20en_us)",
    "ExoPlayerLib/2.19.1",
    "VLC/3.0.20%20LibVLC/3.0.20",
    "Roku/DVP-13.0%20(13.0.0.4130-C6)",
};
static const char *const ACCEPT_ENCODINGS[] = {
    "gzip,%20deflate,%20br", "gzip,%20deflate,%20br,%20zstd", "br,gzip", "gzip", "gzip,%20deflate",
};
static const char *const ACCEPT_LANGUAGES[] = {
    "en-US,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "en-GB,en;q=0.9", "fr-FR,fr;q=0.9,en;q=0.7", "ja,en-US;q=0.9",
};
static const char *const SEARCH_TERMS[] = {
    "running%2520shoes", "wireless%2520headphones", "laptop", "coffee%2520grinder", "usb-c%2520cable",
    "winter%2520jacket", "desk%2520lamp", "gift%2520card", "backpack", "4k%2520monitor",
};
static const char *const PAGE_PATHS[] = {"", "products/", "category/", "account/", "help/"};
static const char *const JS_BUNDLES[] = {"main", "vendor", "runtime", "checkout"};
static const char *const TLS13_CIPHERS[] = {
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
};
static const char *const TLS12_CIPHERS[] = {"ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"};

/* Errors keep status, result types and origin involvement consistent. */
typedef struct {
    int status;
    const char *detailed;
    bool from_origin;
    unsigned weight;
} gen_error_kind;

static const gen_error_kind ERROR_KINDS[] = {
    {404, "Error", true, 50},
    {403, "Error", false, 20},
    {500, "Error", true, 6},
    {502, "OriginConnectError", true, 8},
    {503, "OriginError", true, 5},
    {504, "OriginCommError", true, 6},
};

/* The detection scenario's calmer mix: with 3% errors overall, about 0.5%
 * of responses are 403 and 0.3% are 5xx, so the error-rate rules have a
 * quiet baseline to stand out from. */
static const gen_error_kind CALM_ERROR_KINDS[] = {
    {404, "Error", true, 73},
    {403, "Error", false, 17},
    {500, "Error", true, 2},
    {502, "OriginConnectError", true, 3},
    {503, "OriginError", true, 2},
    {504, "OriginCommError", true, 3},
};

/* What a 403 storm or an origin failure forces a response to be. */
static const gen_error_kind FORCED_403 = {403, "Error", false, 1};
static const gen_error_kind ORIGIN_5XX[] = {
    {502, "OriginConnectError", true, 1},
    {503, "OriginError", true, 1},
    {504, "OriginCommError", true, 1},
};

/* The DDoS clients: a handful of addresses in one hosting network in one
 * country, so top contributors name them. */
#define GEN_ATTACK_IPS 5
static const gen_region ATTACK_REGION = {"NL", {"AMS1-C1", "AMS54-C1", "AMS58-P4"}, {43350, 43350, 43350},
                                         {185, 185}, "2a02:2", 0};

/* ----------------------------------------------------------- the world */

/* How a distribution's rate moves besides its incidents. FLAT is the
 * original constant rate (scenario spike); the others follow the day and
 * the week with slow noise, and TINY and LEGACY add bursts. */
typedef enum { DIST_FLAT, DIST_NORMAL, DIST_TINY, DIST_LEGACY } gen_class;

typedef struct {
    char id[16];        /* "E" + 13 uppercase alnum */
    char domain[32];    /* "d" + 13 lowercase alnum + ".cloudfront.net" */
    char alias[64];     /* "www.<project>.example" */
    char project[40];
    char owner[40];
    char route[72];
    gen_profile profile;
    uint32_t asset_salt; /* stable per-distribution content hashes in file names */
    double base_rate;    /* requests per minute */
    gen_class cls;
    double daily_amp;    /* the daily cycle moves the rate by +-this share */
    double peak_hour;    /* UTC hour of the daily peak */
    double weekend_dip;  /* share of traffic missing on Saturday and Sunday */
    double noise_sd;     /* slow multiplicative noise, as a share */
    int noise_knot;      /* minutes between the slow noise's knots */
    const gen_error_kind *errors;
    size_t n_errors;
    double floor;        /* metadata traffic floor override (req/min); 0 = none */
    bool excluded;       /* metadata "excluded": true */
} gen_dist;

/* What an anomaly does to its distribution's traffic. */
typedef enum {
    FX_NONE,     /* a label only: nothing may fire */
    FX_RATE,     /* request rate x strength (0: an outage) */
    FX_403,      /* a strength share of responses become 403 */
    FX_5XX,      /* a strength share become origin 502/503/504 */
    FX_LATENCY,  /* origin latency x strength */
    FX_CACHE,    /* hit ratio x strength at the start, back to normal at the end */
} gen_effect;

/* One labelled anomaly on one distribution for a span of minutes. */
typedef struct {
    size_t dist;
    const char *rule;   /* the processor rule expected to fire, or NULL */
    const char *kind;   /* what happened, for people reading the labels */
    const char *expect; /* "alert", "suppressed" or "none" */
    int start_minute;
    int end_minute;     /* exclusive */
    gen_effect effect;
    double strength;
    int ramp_minutes;   /* FX_RATE: linear ramp in and out */
    double attack;      /* FX_RATE: share of requests from the attack clients */
    bool registered;    /* announced ahead: --events-out writes its event */
} gen_anomaly;

typedef struct {
    gen_dist *dists;
    size_t n_dists;
    gen_anomaly anomalies[GEN_MAX_ANOMALIES];
    size_t n_anomalies;
    char attack_ips[GEN_ATTACK_IPS][16];
} gen_world;

typedef struct {
    const char *scenario;
    const char *to_kafka;
    const char *out;
    const char *labels;
    const char *metadata_out;
    const char *events_out;
    const char *topic;
    uint64_t seed;
    size_t distributions;        /* 0: the scenario's default */
    int minutes;                 /* 0: the scenario's default */
    bool days_given;             /* the length came from --days, not --minutes */
    int64_t start_ms;
    bool start_given;
    bool help;
    bool all_fields;             /* --fields all: the 69 canonical fields */
    ew_gen_encoding encoding;
    bool avro_deflate;           /* --avro-codec deflate */
    int32_t schema_id;           /* Confluent schema id of Avro records */
    uint64_t bad_every;          /* inject one malformed record per N good ones */
    const char *bad_out;         /* counts of injected records per DLQ reason */
    uint64_t rate;               /* records per second at most; 0 = as fast as possible */
    const char *names[EW_CF_CANONICAL_FIELDS];
    size_t n_names;
} gen_opts;

/* ------------------------------------------------------------ scenarios */

/* A scenario plans anomalies on the world (which distribution, when, how
 * strong) and may reshape its distributions (rates, seasonality); drawing
 * and formatting the traffic is shared. To add one, write a plan_*
 * function and add a row to SCENARIOS. A plan returns false when out of
 * memory. */
typedef bool (*gen_plan_fn)(gen_world *w, const gen_opts *o, ew_rng *rng);

static bool plan_spike(gen_world *w, const gen_opts *o, ew_rng *rng);
static bool plan_detection(gen_world *w, const gen_opts *o, ew_rng *rng);

enum { DAY_MINUTES = 1440 };

static const struct {
    const char *name;
    const char *summary;
    gen_plan_fn plan;
    int default_minutes;
    size_t default_distributions;
    int min_minutes;             /* the plan needs room for its anomalies */
    size_t min_distributions;
} SCENARIOS[] = {
    {"spike", "one distribution's request rate x8 for 3 minutes at 2/3 of the run", plan_spike, 60, 12, 1, 1},
    {"detection",
     "15 days, 24 distributions with daily/weekly seasonality, 3 tiny and 1\n"
     "                         excluded one; 8 labelled incidents after day 7 (DDoS, 403 storm,\n"
     "                         origin 5xx, outage, slow origin, cache purge, 2 promotions)",
     plan_detection, 15 * DAY_MINUTES, 24, 3 * DAY_MINUTES, 12},
};

static void add_anomaly(gen_world *w, gen_anomaly a)
{
    if (w->n_anomalies < GEN_MAX_ANOMALIES)
        w->anomalies[w->n_anomalies++] = a;
}

/* The spike starts at minute floor(M*2/3) so there is a long baseline before
 * it and room after it to see the alert resolve. */
enum { SPIKE_MULTIPLIER = 8, SPIKE_MINUTES = 3 };

static bool plan_spike(gen_world *w, const gen_opts *o, ew_rng *rng)
{
    int start = o->minutes * 2 / 3;
    int end = start + SPIKE_MINUTES < o->minutes ? start + SPIKE_MINUTES : o->minutes;
    add_anomaly(w, (gen_anomaly){.dist = ew_rng_below(rng, w->n_dists), .rule = "request_spike", .kind = "spike",
                                 .expect = "alert", .start_minute = start, .end_minute = end, .effect = FX_RATE,
                                 .strength = SPIKE_MULTIPLIER});
    return true;
}

static int find_scenario(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(SCENARIOS); i++)
        if (strcmp(SCENARIOS[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void set_project(gen_dist *d, const char *project, const char *owner)
{
    snprintf(d->project, sizeof d->project, "%s", project);
    snprintf(d->owner, sizeof d->owner, "%s", owner);
    snprintf(d->alias, sizeof d->alias, "www.%s.example", d->project);
    snprintf(d->route, sizeof d->route, "slack:#%s-oncall", d->project);
}

static void init_dist(gen_dist *d, size_t index, ew_rng *rng)
{
    d->id[0] = 'E';
    rng_chars(rng, ALNUM_UPPER, d->id + 1, 13);
    char host[14];
    rng_chars(rng, ALNUM_LOWER, host, 13);
    snprintf(d->domain, sizeof d->domain, "d%s.cloudfront.net", host);
    if (index < ARRAY_LEN(KNOWN_PROJECTS)) {
        set_project(d, KNOWN_PROJECTS[index].project, KNOWN_PROJECTS[index].owner);
        d->profile = KNOWN_PROJECTS[index].profile;
    } else {
        char project[40];
        snprintf(project, sizeof project, "project-%zu", index + 1);
        set_project(d, project, KNOWN_PROJECTS[index % ARRAY_LEN(KNOWN_PROJECTS)].owner);
        d->profile = (gen_profile)(index % PROFILE_COUNT);
    }
    d->asset_salt = (uint32_t)ew_rng_next(rng);
    d->cls = DIST_FLAT;
    d->errors = ERROR_KINDS;
    d->n_errors = ARRAY_LEN(ERROR_KINDS);
}

/* Base rates lie between 10 and 60 requests/minute, one per stratum of that
 * range (so a run's volume hardly depends on the seed) and skewed to the low
 * end like real fleets, where a few distributions carry most traffic. The
 * mean of ~27/min keeps the default run (12 x 60 min, ~19k records, ~15 MB)
 * inside the dev broker's retention of ~5 MB per partition x 4 partitions.
 * A shuffle then decides which distribution gets which rate. */
static void assign_rates(gen_dist *dists, size_t n, ew_rng *rng)
{
    for (size_t k = 0; k < n; k++) {
        double x = ((double)k + ew_rng_unit(rng)) / (double)n;
        dists[k].base_rate = round(10.0 + 50.0 * x * x);
    }
    for (size_t k = n - 1; k > 0; k--) {
        size_t j = ew_rng_below(rng, k + 1);
        double t = dists[k].base_rate;
        dists[k].base_rate = dists[j].base_rate;
        dists[j].base_rate = t;
    }
}

static bool build_world(gen_world *w, const gen_opts *o)
{
    ew_rng rng = ew_rng_derive(o->seed, STREAM_WORLD, 0);
    memset(w, 0, sizeof *w);
    w->n_dists = o->distributions;
    w->dists = calloc(w->n_dists, sizeof *w->dists);
    if (!w->dists)
        return false;
    for (size_t i = 0; i < w->n_dists; i++)
        init_dist(&w->dists[i], i, &rng);
    assign_rates(w->dists, w->n_dists, &rng);
    if (!SCENARIOS[find_scenario(o->scenario)].plan(w, o, &rng)) {
        free(w->dists);
        return false;
    }
    return true;
}

/* ------------------------------------------------- scenario: detection */

/* A fleet to measure detection against: most distributions are ordinary
 * (seasonal, noisy), a few are below any sensible traffic floor, one is a
 * wild legacy distribution that metadata excludes, and eight ordinary ones
 * get one incident each, all after day 7 so a two-week baseline has seen at
 * least a week. Every anomaly is labelled with what should happen. */

enum {
    DETECT_TINY = 3,
    DETECT_SPECIAL = DETECT_TINY + 1,   /* the tiny ones and the legacy one */
    DETECT_INCIDENTS = 8,
    DETECT_QUIET_MINUTES = 120,         /* after the last incident, to resolve */
    DETECT_DAY_START_H = 11,            /* incidents run inside 11:00-19:00 UTC, */
    DETECT_DAY_END_H = 19,              /* within 6 h of every daily peak */
};

/* Every incident a detector should handle, each on its own distribution. */
typedef struct {
    const char *kind;
    const char *rule;
    const char *expect;
    gen_effect effect;
    double strength;
    int minutes;
    int ramp_minutes;
    double attack;
    bool registered;
} gen_incident;

static const gen_incident INCIDENTS[DETECT_INCIDENTS] = {
    /* x6: the 5 extra parts are 5/6 of the traffic, 80% of them attackers */
    {"ddos", "request_spike", "alert", FX_RATE, 6.0, 30, 0, 0.8 * 5.0 / 6.0, false},
    {"403_storm", "error_403_rate", "alert", FX_403, 0.40, 45, 0, 0, false},
    {"origin_5xx", "error_5xx_rate", "alert", FX_5XX, 0.30, 30, 0, 0, false},
    {"outage", "request_drop", "alert", FX_RATE, 0.0, 60, 0, 0, false},
    {"slow_origin", "origin_latency", "alert", FX_LATENCY, 6.0, 60, 0, 0, false},
    /* strength: the hit ratio right after the purge (see purge_factor) */
    {"cache_purge", "cache_hit_drop", "alert", FX_CACHE, 0.15, 60, 0, 0, false},
    {"promotion_registered", "request_spike", "suppressed", FX_RATE, 2.5, 180, 15, 0, true},
    {"promotion_unregistered", "request_spike", "alert", FX_RATE, 2.5, 180, 15, 0, false},
};

static const struct {
    const char *project;
    const char *owner;
} SPECIAL_PROJECTS[DETECT_SPECIAL] = {
    {"legacy-assets", "team-platform"}, /* the excluded one */
    {"press-kit", "team-comms"},
    {"careers-site", "team-people"},
    {"beta-portal", "team-labs"},
};

static void shuffle_sizes(size_t *v, size_t n, ew_rng *rng)
{
    for (size_t k = n; k > 1; k--) {
        size_t j = ew_rng_below(rng, k);
        size_t t = v[k - 1];
        v[k - 1] = v[j];
        v[j] = t;
    }
}

/* Ordinary distributions: 15-80 requests/minute, one per stratum and
 * skewed low (15 + 65 x^6) so the default run stays near 10 million
 * records; the busiest 40% (which get the incidents) still have >= 18/min,
 * which keeps even a weekend afternoon above a 10/min traffic floor. */
static void init_normal(gen_dist *d, double x, ew_rng *rng)
{
    d->cls = DIST_NORMAL;
    d->base_rate = round(15.0 + 65.0 * pow(x, 6.0));
    d->daily_amp = ew_rng_uniform(rng, 0.40, 0.60);
    d->peak_hour = ew_rng_uniform(rng, 13.0, 17.0);
    d->weekend_dip = ew_rng_uniform(rng, 0.20, 0.35);
    d->noise_sd = ew_rng_uniform(rng, 0.02, 0.04);
    d->noise_knot = 120;
    d->errors = CALM_ERROR_KINDS;
    d->n_errors = ARRAY_LEN(CALM_ERROR_KINDS);
}

/* 0.2-3 requests/minute with noisy hours and short bursts. */
static void init_tiny(gen_dist *d, double x, ew_rng *rng)
{
    init_normal(d, 0, rng);
    d->cls = DIST_TINY;
    d->base_rate = 0.2 + 2.8 * x;
    d->noise_sd = 0.25;
    d->noise_knot = 60;
    d->profile = PROFILE_WEB;
}

/* ~30 requests/minute of forgotten traffic: bursts and error storms of its
 * own several times a day. Metadata excludes it, so it must never alert. */
static void init_legacy(gen_dist *d, ew_rng *rng)
{
    init_normal(d, 0, rng);
    d->cls = DIST_LEGACY;
    d->base_rate = 30.0;
    d->daily_amp = 0.3;
    d->weekend_dip = 0.1;
    d->noise_sd = 0.10;
    d->profile = PROFILE_WEB;
    d->excluded = true;
}

/* Marks the world's classes; returns the ordinary distributions by
 * decreasing base rate. The last DETECT_SPECIAL distributions are the
 * legacy one and the tiny ones. */
static void init_detection_world(gen_world *w, ew_rng *rng, size_t *by_rate)
{
    size_t normals = w->n_dists - DETECT_SPECIAL;
    for (size_t k = 0; k < normals; k++)
        by_rate[k] = k;
    shuffle_sizes(by_rate, normals, rng);
    /* by_rate[k] gets stratum normals-1-k: the busiest first */
    for (size_t k = 0; k < normals; k++)
        init_normal(&w->dists[by_rate[k]], ((double)(normals - 1 - k) + ew_rng_unit(rng)) / (double)normals, rng);
    for (size_t k = 0; k < DETECT_SPECIAL; k++) {
        gen_dist *d = &w->dists[normals + k];
        set_project(d, SPECIAL_PROJECTS[k].project, SPECIAL_PROJECTS[k].owner);
        if (k == 0)
            init_legacy(d, rng);
        else
            init_tiny(d, ((double)(k - 1) + ew_rng_unit(rng)) / DETECT_TINY, rng);
    }
    /* The quietest ordinary one shows a per-distribution floor override:
     * small but watched, so it is scored below the global floor too. */
    if (normals > DETECT_INCIDENTS)
        w->dists[by_rate[normals - 1]].floor = 5.0;
}

static double utc_hour(int64_t ms)
{
    int64_t day_ms = ((ms % 86400000) + 86400000) % 86400000;
    return (double)day_ms / 3600000.0;
}

/* A start minute inside [lo, hi - len) whose incident runs in daytime UTC;
 * the first draw if none of a few dozen does (short --days). */
static int daytime_start(const gen_opts *o, int lo, int hi, int len, ew_rng *rng)
{
    int span = hi - lo - len > 1 ? hi - lo - len : 1;
    int first = lo + (int)ew_rng_below(rng, (uint64_t)span);
    for (int tries = 0; tries < 64; tries++) {
        int m = tries ? lo + (int)ew_rng_below(rng, (uint64_t)span) : first;
        double h0 = utc_hour(o->start_ms + (int64_t)m * GEN_MINUTE_MS);
        if (h0 >= DETECT_DAY_START_H && h0 + len / 60.0 <= DETECT_DAY_END_H)
            return m;
    }
    return first;
}

/* The share of a profile's requests its assets would serve from cache. */
static double profile_hit_ratio(gen_profile p)
{
    const gen_asset_set *set = &PROFILE_ASSETS[p];
    double hits = 0, total = 0;
    for (size_t i = 0; i < set->n; i++) {
        hits += set->assets[i].hit_ratio * set->assets[i].weight;
        total += set->assets[i].weight;
    }
    return total > 0 ? hits / total : 0;
}

/* FX_CACHE scales hit ratios; this factor brings the distribution's
 * overall ratio to `target` whatever its profile (web ~87%, API ~37%). */
static double purge_factor(gen_profile p, double target)
{
    double normal = profile_hit_ratio(p);
    return normal > target ? target / normal : 1.0;
}

/* Incidents go one per slot in time order, in a random order of kinds,
 * from day 7 (or mid-run for short runs) to shortly before the end. */
static void plan_incidents(gen_world *w, const gen_opts *o, ew_rng *rng, const size_t *by_rate)
{
    size_t kinds[DETECT_INCIDENTS], dists[DETECT_INCIDENTS];
    for (size_t k = 0; k < DETECT_INCIDENTS; k++)
        kinds[k] = dists[k] = k;
    shuffle_sizes(kinds, DETECT_INCIDENTS, rng);
    shuffle_sizes(dists, DETECT_INCIDENTS, rng);
    int zone_start = 7 * DAY_MINUTES < o->minutes / 2 ? 7 * DAY_MINUTES : o->minutes / 2;
    int slot = (o->minutes - DETECT_QUIET_MINUTES - zone_start) / DETECT_INCIDENTS;
    for (size_t s = 0; s < DETECT_INCIDENTS; s++) {
        const gen_incident *in = &INCIDENTS[kinds[s]];
        int lo = zone_start + (int)s * slot;
        int start = daytime_start(o, lo, lo + slot, in->minutes, rng);
        size_t d = by_rate[dists[s]];
        double strength = in->effect == FX_CACHE ? purge_factor(w->dists[d].profile, in->strength) : in->strength;
        add_anomaly(w, (gen_anomaly){.dist = d, .rule = in->rule, .kind = in->kind,
                                     .expect = in->expect, .start_minute = start,
                                     .end_minute = start + in->minutes, .effect = in->effect,
                                     .strength = strength, .ramp_minutes = in->ramp_minutes,
                                     .attack = in->attack, .registered = in->registered});
    }
}

static void draw_attack_ips(gen_world *w, ew_rng *rng)
{
    for (size_t i = 0; i < GEN_ATTACK_IPS; i++)
        snprintf(w->attack_ips[i], sizeof w->attack_ips[i], "185.107.%u.%u", (unsigned)rng_range(rng, 40, 60),
                 (unsigned)rng_range(rng, 2, 250));
}

static bool plan_detection(gen_world *w, const gen_opts *o, ew_rng *rng)
{
    size_t *by_rate = calloc(w->n_dists, sizeof *by_rate);
    if (!by_rate)
        return false;
    init_detection_world(w, rng, by_rate);
    draw_attack_ips(w, rng); /* before the incidents, whose draws depend on the run's length */
    plan_incidents(w, o, rng, by_rate);
    free(by_rate);
    for (size_t k = 0; k < DETECT_SPECIAL; k++) {
        size_t d = w->n_dists - DETECT_SPECIAL + k;
        add_anomaly(w, (gen_anomaly){.dist = d, .kind = k == 0 ? "excluded" : "tiny", .expect = "none",
                                     .start_minute = 0, .end_minute = o->minutes, .effect = FX_NONE,
                                     .strength = 1.0});
    }
    return true;
}

/* ------------------------------------------------- traffic of a minute */

/* What one distribution's traffic looks like in one minute: its rate and
 * how its requests are bent by incidents and bursts. */
typedef struct {
    double rate;    /* requests per minute */
    double p_403;   /* share of responses forced to 403 */
    double p_5xx;   /* share forced to an origin 502/503/504 */
    double latency; /* origin latency factor */
    double hit;     /* cache hit ratio factor */
    double attack;  /* share of requests from the attack clients */
} gen_fx;

enum { STREAM_NOISE = 3, STREAM_BURST = 4, STREAM_ERROR_BURST = 5, STREAM_TWIST = 6 };

/* Peaks at peak_hour UTC, lowest twelve hours later. */
static double daily_factor(const gen_dist *d, int64_t ms)
{
    return 1.0 + d->daily_amp * cos(2.0 * M_PI * (utc_hour(ms) - d->peak_hour) / 24.0);
}

static double smoothstep(double x)
{
    x = x < 0 ? 0 : x > 1 ? 1 : x;
    return x * x * (3.0 - 2.0 * x);
}

/* 1 on Saturday and Sunday (UTC), 0 on weekdays, easing in and out over
 * four hours around midnight: traffic does not step at 00:00. */
static double weekend_weight(int64_t ms)
{
    /* hours since a Monday 00:00; 1970-01-05 was a Monday */
    double h = fmod((double)(ms - 4 * 86400000LL) / 3600000.0, 168.0);
    if (h < 0)
        h += 168.0;
    if (h < 2.0)
        return 1.0 - smoothstep((h + 2.0) / 4.0);
    if (h < 118.0)
        return 0.0;
    if (h < 122.0)
        return smoothstep((h - 118.0) / 4.0);
    if (h < 166.0)
        return 1.0;
    return 1.0 - smoothstep((h - 166.0) / 4.0);
}

static double noise_knot(uint64_t seed, size_t d, int knot, double sd)
{
    ew_rng r = ew_rng_derive(seed, STREAM_NOISE, ((uint64_t)d << 32) | (uint64_t)knot);
    double z = ew_rng_normal(&r);
    z = z < -2.5 ? -2.5 : z > 2.5 ? 2.5 : z;
    return 1.0 + sd * z;
}

/* Value noise: one random factor per knot, eased from knot to knot, so the
 * rate drifts by a few percent over hours without any state. */
static double slow_noise(uint64_t seed, size_t d, const gen_dist *dist, int minute)
{
    int k = minute / dist->noise_knot;
    double t = (double)(minute % dist->noise_knot) / dist->noise_knot;
    double a = noise_knot(seed, d, k, dist->noise_sd), b = noise_knot(seed, d, k + 1, dist->noise_sd);
    double ease = (1.0 - cos(M_PI * t)) / 2.0;
    return a + (b - a) * ease;
}

/* Bursts come at random: each block of minutes holds one with some chance,
 * starting anywhere in it. A burst may run into the next block, so the
 * previous block is checked too. */
typedef struct {
    int block;
    double chance;
    int min_len, max_len; /* <= block */
} gen_burst_spec;

static const gen_burst_spec TINY_BURSTS = {60, 0.10, 2, 4};       /* ~2 a day */
static const gen_burst_spec LEGACY_BURSTS = {240, 0.60, 10, 60};  /* ~3.6 a day */
static const gen_burst_spec LEGACY_ERRORS = {360, 0.70, 10, 40};  /* ~3 a day */

/* True inside a burst; *out is then the burst's own PRNG, for its size. */
static bool in_burst(uint64_t seed, uint64_t stream, size_t d, int minute, const gen_burst_spec *b, ew_rng *out)
{
    int blk = minute / b->block;
    for (int k = blk > 0 ? blk - 1 : 0; k <= blk; k++) {
        ew_rng r = ew_rng_derive(seed, stream, ((uint64_t)d << 32) | (uint64_t)k);
        if (!rng_chance(&r, b->chance))
            continue;
        int start = k * b->block + (int)ew_rng_below(&r, (uint64_t)b->block);
        int len = (int)rng_range(&r, (uint64_t)b->min_len, (uint64_t)b->max_len);
        if (minute >= start && minute < start + len) {
            *out = r;
            return true;
        }
    }
    return false;
}

/* Tiny bursts are x5, but capped at 8/min so that even a burst stays under
 * a 10/min traffic floor: tiny distributions must never alert. */
enum { TINY_BURST_FACTOR = 5, TINY_BURST_CAP = 8 };

static void class_fx(const gen_world *w, const gen_opts *o, size_t d, int minute, gen_fx *fx)
{
    const gen_dist *dist = &w->dists[d];
    int64_t ms = o->start_ms + (int64_t)minute * GEN_MINUTE_MS;
    fx->rate *= daily_factor(dist, ms) * (1.0 - dist->weekend_dip * weekend_weight(ms)) *
                slow_noise(o->seed, d, dist, minute);
    ew_rng b;
    if (dist->cls == DIST_TINY && in_burst(o->seed, STREAM_BURST, d, minute, &TINY_BURSTS, &b)) {
        double burst = fx->rate * TINY_BURST_FACTOR;
        fx->rate = burst < TINY_BURST_CAP ? burst : fx->rate > TINY_BURST_CAP ? fx->rate : TINY_BURST_CAP;
    }
    if (dist->cls != DIST_LEGACY)
        return;
    if (in_burst(o->seed, STREAM_BURST, d, minute, &LEGACY_BURSTS, &b))
        fx->rate *= ew_rng_uniform(&b, 4.0, 8.0);
    if (in_burst(o->seed, STREAM_ERROR_BURST, d, minute, &LEGACY_ERRORS, &b)) {
        bool forbidden = rng_chance(&b, 0.5);
        double share = ew_rng_uniform(&b, 0.2, 0.6);
        *(forbidden ? &fx->p_403 : &fx->p_5xx) = share;
    }
}

/* 0 at the edges of a ramped anomaly, 1 on its plateau. */
static double ramp_level(const gen_anomaly *a, int minute)
{
    if (a->ramp_minutes <= 0)
        return 1.0;
    double in = (double)(minute - a->start_minute + 1) / a->ramp_minutes;
    double out = (double)(a->end_minute - minute) / a->ramp_minutes;
    double level = in < out ? in : out;
    return level < 1.0 ? level : 1.0;
}

static void anomaly_fx(const gen_anomaly *a, int minute, gen_fx *fx)
{
    switch (a->effect) {
    case FX_NONE:
        break;
    case FX_RATE:
        if (a->ramp_minutes > 0)
            fx->rate *= 1.0 + (a->strength - 1.0) * ramp_level(a, minute);
        else
            fx->rate *= a->strength;
        fx->attack = a->attack;
        break;
    case FX_403:
        fx->p_403 = a->strength;
        break;
    case FX_5XX:
        fx->p_5xx = a->strength;
        break;
    case FX_LATENCY:
        fx->latency *= a->strength;
        break;
    case FX_CACHE: /* recovers linearly to the normal ratio at the end */
        fx->hit *= a->strength + (1.0 - a->strength) * (minute - a->start_minute) /
                                     (double)(a->end_minute - a->start_minute);
        break;
    }
}

static void minute_fx(const gen_world *w, const gen_opts *o, size_t d, int minute, gen_fx *fx)
{
    *fx = (gen_fx){.rate = w->dists[d].base_rate, .latency = 1.0, .hit = 1.0};
    if (w->dists[d].cls != DIST_FLAT)
        class_fx(w, o, d, minute, fx);
    for (size_t i = 0; i < w->n_anomalies; i++) {
        const gen_anomaly *a = &w->anomalies[i];
        if (a->dist == d && minute >= a->start_minute && minute < a->end_minute)
            anomaly_fx(a, minute, fx);
    }
}

/* How one request is bent, drawn from a stream of its own so that a
 * request an anomaly does not bend is drawn exactly as without it. */
typedef struct {
    const gen_error_kind *error; /* forced response, or NULL */
    double latency;
    double hit;
    const char *attack_ip;       /* from an attack client, or NULL */
} gen_twist;

static void draw_twist(const gen_world *w, const gen_fx *fx, uint64_t seed, gen_twist *t)
{
    *t = (gen_twist){.latency = fx->latency, .hit = fx->hit};
    if (fx->p_403 <= 0 && fx->p_5xx <= 0 && fx->attack <= 0)
        return;
    ew_rng r = ew_rng_derive(seed, STREAM_TWIST, 0);
    double u = ew_rng_unit(&r);
    if (u < fx->p_403)
        t->error = &FORCED_403;
    else if (u < fx->p_403 + fx->p_5xx)
        t->error = PICK(&r, ORIGIN_5XX);
    if (rng_chance(&r, fx->attack))
        t->attack_ip = w->attack_ips[ew_rng_below(&r, GEN_ATTACK_IPS)];
}

/* ------------------------------------------------------ one request */

typedef struct {
    int64_t ts_ms;
    const gen_dist *dist;
    const gen_asset *asset;
    const gen_region *region;
    const char *edge_location;
    unsigned asn;
    unsigned c_port;
    bool ipv6;
    char c_ip[48];
    char xff[24];
    const char *method;
    const char *protocol;
    const char *proto_version;
    const char *host;
    const char *user_agent;
    const char *accept_encoding;
    const char *accept_language;
    char stem[256];
    const char *query;       /* points into stem after '?', or NULL */
    char referer[128];
    char cookie[96];
    char request_id[57];
    char etag[20];
    int status;
    const char *result;      /* x-edge-result-type */
    const char *detailed;    /* x-edge-detailed-result-type */
    const char *content_type;
    int64_t content_len;     /* -1: '-' */
    int64_t range_start;     /* -1: '-' */
    int64_t range_end;
    uint64_t sc_bytes;
    uint64_t cs_bytes;
    double ttfb;
    double time_taken;
    double origin_fbl;       /* < 0: '-' */
    double origin_lbl;
    const char *ssl_protocol;
    const char *ssl_cipher;
    char headers[GEN_HEADERS_MAX + 1];
    char header_names[256];
    size_t headers_len;
    size_t names_len;
    unsigned header_count;
} gen_request;

/* The region prefixes are two groups; six random groups complete the address. */
static void write_ipv6(char *dst, size_t cap, const char *prefix, ew_rng *r)
{
    int n = snprintf(dst, cap, "%s", prefix);
    for (int i = 0; i < 6 && n > 0 && (size_t)n < cap; i++)
        n += snprintf(dst + n, cap - (size_t)n, ":%x", (unsigned)ew_rng_below(r, 0x10000));
}

static void pick_client(gen_request *q, ew_rng *r)
{
    q->region = PICK_WEIGHTED(r, REGIONS, ARRAY_LEN(REGIONS), gen_region);
    size_t k = ew_rng_below(r, 3);
    q->edge_location = q->region->pops[k];
    q->asn = q->region->asns[ew_rng_below(r, 3)];
    q->ipv6 = rng_chance(r, 0.18);
    if (q->ipv6)
        write_ipv6(q->c_ip, sizeof q->c_ip, q->region->v6_prefix, r);
    else
        snprintf(q->c_ip, sizeof q->c_ip, "%u.%u.%u.%u", q->region->v4_first[ew_rng_below(r, 2)],
                 (unsigned)ew_rng_below(r, 256), (unsigned)ew_rng_below(r, 256), (unsigned)rng_range(r, 1, 254));
    /* A few viewers come through a proxy that reports the original address. */
    if (rng_chance(r, 0.06))
        snprintf(q->xff, sizeof q->xff, "%u.%u.%u.%u", 10u, (unsigned)ew_rng_below(r, 256), (unsigned)ew_rng_below(r, 256),
                 (unsigned)rng_range(r, 1, 254));
    else
        snprintf(q->xff, sizeof q->xff, "-");
    q->c_port = (unsigned)rng_range(r, 1024, 65535);
}

/* An attack client always comes from the same address, network and POP. */
static void set_attacker(gen_request *q, const char *ip)
{
    q->region = &ATTACK_REGION;
    size_t n = strlen(ip);
    q->edge_location = ATTACK_REGION.pops[(unsigned char)ip[n - 1] % 3];
    q->asn = ATTACK_REGION.asns[0];
    q->ipv6 = false;
    snprintf(q->c_ip, sizeof q->c_ip, "%s", ip);
    snprintf(q->xff, sizeof q->xff, "-");
}

static void write_stem(gen_request *q, ew_rng *r)
{
    char *s = q->stem;
    size_t cap = sizeof q->stem;
    uint32_t salt = q->dist->asset_salt;
    switch (q->asset->kind) {
    case ASSET_HTML: {
        unsigned page = (unsigned)ew_rng_below(r, 3);
        const char *dir = *PICK(r, PAGE_PATHS);
        if (*dir)
            snprintf(s, cap, "/%s%u", dir, (unsigned)rng_range(r, 1000, 99999));
        else if (page == 0)
            snprintf(s, cap, "/");
        else
            snprintf(s, cap, "/?utm_source=newsletter&utm_campaign=spring%u", page);
        break;
    }
    case ASSET_JS: {
        size_t b = ew_rng_below(r, ARRAY_LEN(JS_BUNDLES));
        snprintf(s, cap, "/static/js/%s.%08x.js", JS_BUNDLES[b], (unsigned)ew_mix64(salt + b) & 0xffffffffu);
        break;
    }
    case ASSET_CSS:
        snprintf(s, cap, "/static/css/site.%08x.css", (unsigned)(ew_mix64(salt) & 0xffffffffu));
        break;
    case ASSET_IMAGE:
        snprintf(s, cap, "/images/products/%u.webp?w=%u&q=80", (unsigned)rng_range(r, 10000, 99999),
                 320u << ew_rng_below(r, 3));
        break;
    case ASSET_FAVICON:
        snprintf(s, cap, "/favicon.ico");
        break;
    case ASSET_SEARCH:
        snprintf(s, cap, "/api/v1/search?q=%s&page=%u&sort=relevance", *PICK(r, SEARCH_TERMS),
                 (unsigned)rng_range(r, 1, 5));
        break;
    case ASSET_ITEM:
        snprintf(s, cap, "/api/v2/items/%u?fields=id,name,price,availability", (unsigned)rng_range(r, 100000, 999999));
        break;
    case ASSET_CART:
        snprintf(s, cap, "/api/v1/cart/items");
        break;
    case ASSET_HEALTH:
        snprintf(s, cap, "/api/health");
        break;
    case ASSET_SEGMENT:
        snprintf(s, cap, "/media/vod/%u/1080p/seg-%05u.ts", (unsigned)rng_range(r, 1000, 1400),
                 (unsigned)ew_rng_below(r, 900));
        break;
    case ASSET_PLAYLIST:
        snprintf(s, cap, "/media/vod/%u/index.m3u8?token=%08x", (unsigned)rng_range(r, 1000, 1400),
                 (unsigned)(ew_rng_next(r) & 0xffffffffu));
        break;
    case ASSET_MP4:
        snprintf(s, cap, "/media/downloads/%u/full.mp4", (unsigned)rng_range(r, 1000, 1400));
        break;
    case ASSET_THUMB:
        snprintf(s, cap, "/thumbs/%u.jpg?size=320x180", (unsigned)rng_range(r, 1000, 1400));
        break;
    }
    char *qmark = strchr(s, '?');
    q->query = qmark ? qmark + 1 : NULL;
}

static void pick_agent(gen_request *q, ew_rng *r)
{
    bool api = q->dist->profile == PROFILE_API;
    bool media = q->dist->profile == PROFILE_MEDIA;
    if (api && rng_chance(r, 0.6))
        q->user_agent = *PICK(r, API_AGENTS);
    else if (media && q->asset->kind != ASSET_THUMB && rng_chance(r, 0.7))
        q->user_agent = *PICK(r, PLAYER_AGENTS);
    else if (!media && rng_chance(r, 0.25))
        q->user_agent = *PICK(r, BOT_AGENTS);
    else
        q->user_agent = *PICK(r, BROWSER_AGENTS);
    bool is_curl = strncmp(q->user_agent, "curl/", 5) == 0;
    q->accept_encoding = is_curl ? NULL : *PICK(r, ACCEPT_ENCODINGS);
    /* Only page loads carry Accept-Language here: keeps lines near 700 B. */
    q->accept_language = q->asset->kind == ASSET_HTML ? *PICK(r, ACCEPT_LANGUAGES) : NULL;
    double v = ew_rng_unit(r);
    q->proto_version = v < 0.62 ? "HTTP/2.0" : v < 0.92 ? "HTTP/1.1" : "HTTP/3.0";
    q->host = rng_chance(r, 0.75) ? q->dist->alias : q->dist->domain;

    q->referer[0] = '\0';
    if (q->asset->kind == ASSET_HTML) {
        if (rng_chance(r, 0.4))
            snprintf(q->referer, sizeof q->referer, "https://www.google.com/");
    } else if (rng_chance(r, api ? 0.3 : 0.45)) {
        snprintf(q->referer, sizeof q->referer, "https://%s/", q->dist->alias);
    }
    q->cookie[0] = '\0';
    if (!media && rng_chance(r, 0.15)) {
        char sid[17];
        rng_chars(r, HEX, sid, 16);
        snprintf(q->cookie, sizeof q->cookie, "session-id=%s;%%20consent=%s", sid, rng_chance(r, 0.7) ? "all" : "none");
    }
}

static void set_error(gen_request *q, const gen_error_kind *e, ew_rng *r)
{
    q->status = e->status;
    q->result = "Error";
    q->detailed = e->detailed;
    q->origin_fbl = e->from_origin ? ew_rng_uniform(r, 0.02, e->status >= 500 ? 4.0 : 0.3) : -1;
}

/* Chooses status and cache result together, so they stay consistent. */
static void pick_outcome(gen_request *q, ew_rng *r, const gen_twist *t)
{
    const gen_asset *a = q->asset;
    double u = ew_rng_unit(r);
    q->origin_fbl = q->origin_lbl = -1;
    q->range_start = q->range_end = -1;
    q->etag[0] = '\0';
    if (t->error) {
        set_error(q, t->error, r);
        return;
    }
    if (u < 0.03) {
        set_error(q, PICK_WEIGHTED(r, q->dist->errors, q->dist->n_errors, gen_error_kind), r);
        return;
    }
    if (u < 0.038) {
        q->status = 301; /* HTTP -> HTTPS redirect; CloudFront answers it itself */
        q->result = q->detailed = "Redirect";
        return;
    }
    q->status = 200;
    if (rng_chance(r, a->range_ratio))
        q->status = 206;
    else if (strcmp(a->method, "GET") == 0 && a->hit_ratio > 0.5 && rng_chance(r, 0.12))
        q->status = 304;
    double c = ew_rng_unit(r);
    double hit = a->hit_ratio * t->hit;
    if (c < hit)
        q->result = "Hit";
    else if (c < hit + (1.0 - hit) * 0.15 && a->hit_ratio > 0)
        q->result = "RefreshHit";
    else
        q->result = "Miss";
    q->detailed = q->result;
    if (strcmp(q->result, "Hit") != 0)
        q->origin_fbl = ew_rng_uniform(r, 0.015, 0.45);
    if (q->status == 304)
        rng_chars(r, HEX, q->etag, 16);
}

static void pick_sizes(gen_request *q, ew_rng *r)
{
    const gen_asset *a = q->asset;
    uint64_t size = rng_range(r, a->min_size, a->max_size);
    uint64_t headers = rng_range(r, 280, 520);
    q->content_type = a->content_type;
    q->content_len = (int64_t)size;
    uint64_t body = size;
    if (q->status == 206) {
        uint64_t chunk = 1u << 20;
        q->range_start = (int64_t)(ew_rng_below(r, size / chunk + 1) * chunk);
        if ((uint64_t)q->range_start >= size)
            q->range_start = 0;
        q->range_end = q->range_start + (int64_t)(size - (uint64_t)q->range_start < chunk ? size - (uint64_t)q->range_start : chunk) - 1;
        body = (uint64_t)(q->range_end - q->range_start + 1);
        q->content_len = (int64_t)body;
    } else if (q->status == 304) {
        q->content_type = "-";
        q->content_len = -1;
        body = 0;
    } else if (q->status == 301) {
        q->content_type = "text/html";
        body = 167;
        q->content_len = 167;
    } else if (q->status >= 400) {
        q->content_type = q->dist->profile == PROFILE_API ? "application/json" : "text/html";
        body = q->status == 403 ? 919 : rng_range(r, 150, 1200);
        q->content_len = (int64_t)body;
    }
    if (strcmp(q->method, "HEAD") == 0)
        body = 0;
    q->sc_bytes = body + headers;
    q->cs_bytes = rng_range(r, 180, 900) + (strcmp(q->method, "POST") == 0 ? rng_range(r, 100, 3000) : 0);
}

static void pick_timings(gen_request *q, ew_rng *r, double latency)
{
    if (q->origin_fbl >= 0) {
        if (latency != 1.0) /* a slow origin: first and last byte and ttfb */
            q->origin_fbl *= latency;
        q->origin_lbl = q->origin_fbl + ew_rng_uniform(r, 0.0, 0.08) + (double)q->sc_bytes / 40e6;
        q->ttfb = q->origin_fbl + ew_rng_uniform(r, 0.001, 0.012);
    } else {
        q->ttfb = ew_rng_uniform(r, 0.001, 0.030);
    }
    /* Transfer time from a per-viewer throughput between 2 and 60 MB/s. */
    q->time_taken = q->ttfb + (double)q->sc_bytes / ew_rng_uniform(r, 2e6, 60e6);
}

static void pick_transport(gen_request *q, ew_rng *r)
{
    bool http = q->status == 301;
    q->protocol = http ? "http" : "https";
    if (http) {
        q->proto_version = "HTTP/1.1";
        q->ssl_protocol = q->ssl_cipher = "-";
    } else if (rng_chance(r, 0.85) || strcmp(q->proto_version, "HTTP/3.0") == 0) {
        q->ssl_protocol = "TLSv1.3";
        q->ssl_cipher = *PICK(r, TLS13_CIPHERS);
    } else {
        q->ssl_protocol = "TLSv1.2";
        q->ssl_cipher = *PICK(r, TLS12_CIPHERS);
    }
}

/* Appends bytes to a NUL-terminated buffer holding *len bytes, cut to fit
 * like snprintf; returns false if it had to cut. */
static bool append_cut(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    bool fits = *len + n < cap;
    if (!fits)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
    return fits;
}

/* Appends "Name:value%0A" to cs-headers and "Name%0A" to cs-header-names,
 * dropping headers that would cross CloudFront's 800-byte cap. */
static void add_header(gen_request *q, bool lower, const char *name, const char *value)
{
    char lname[40];
    size_t n = strlen(name);
    if (n >= sizeof lname)
        n = sizeof lname - 1;
    for (size_t i = 0; i < n; i++)
        lname[i] = lower && name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
    size_t vlen = strlen(value);
    if (vlen > 511) /* values were formatted into 512 bytes */
        vlen = 511;
    size_t used = q->headers_len;
    if (used + n + 1 + vlen + 3 >= sizeof q->headers)
        return;
    append_cut(q->headers, sizeof q->headers, &q->headers_len, lname, n);
    append_cut(q->headers, sizeof q->headers, &q->headers_len, ":", 1);
    append_cut(q->headers, sizeof q->headers, &q->headers_len, value, vlen);
    append_cut(q->headers, sizeof q->headers, &q->headers_len, "%0A", 3);
    if (append_cut(q->header_names, sizeof q->header_names, &q->names_len, lname, n))
        append_cut(q->header_names, sizeof q->header_names, &q->names_len, "%0A", 3);
    q->header_count++;
}

/* HTTP/2 and HTTP/3 viewers send lower-case names and CloudFront keeps the
 * viewer's case, so consumers must not match header names case-sensitively. */
static void build_headers(gen_request *q)
{
    bool lower = strcmp(q->proto_version, "HTTP/1.1") != 0;
    q->headers[0] = q->header_names[0] = '\0';
    q->headers_len = q->names_len = 0;
    q->header_count = 0;
    add_header(q, lower, "Host", q->host);
    add_header(q, lower, "User-Agent", q->user_agent);
    add_header(q, lower, "Accept", q->asset->accept);
    if (q->accept_encoding)
        add_header(q, lower, "Accept-Encoding", q->accept_encoding);
    if (q->accept_language)
        add_header(q, lower, "Accept-Language", q->accept_language);
    if (q->referer[0])
        add_header(q, lower, "Referer", q->referer);
    if (q->cookie[0])
        add_header(q, lower, "Cookie", q->cookie);
    char value[64];
    if (q->range_start >= 0) {
        snprintf(value, sizeof value, "bytes=%" PRId64 "-%" PRId64, q->range_start, q->range_end);
        add_header(q, lower, "Range", value);
    }
    if (q->etag[0]) {
        snprintf(value, sizeof value, "%%22%s%%22", q->etag);
        add_header(q, lower, "If-None-Match", value);
    }
    if (!lower)
        add_header(q, lower, "Connection", "keep-alive");
}

static void build_request(gen_request *q, const gen_dist *d, int64_t ts_ms, ew_rng *r, const gen_twist *t)
{
    q->ts_ms = ts_ms;
    q->dist = d;
    const gen_asset_set *pa = &PROFILE_ASSETS[d->profile];
    q->asset = PICK_WEIGHTED(r, pa->assets, pa->n, gen_asset);
    q->method = q->asset->method;
    if (strcmp(q->method, "GET") == 0 && rng_chance(r, 0.02))
        q->method = "HEAD";
    pick_client(q, r);
    if (t->attack_ip)
        set_attacker(q, t->attack_ip);
    write_stem(q, r);
    pick_agent(q, r);
    pick_outcome(q, r, t);
    pick_sizes(q, r);
    pick_timings(q, r, t->latency);
    pick_transport(q, r);
    build_headers(q);
    /* Looks like the real x-amz-cf-id: 54 base64url characters and "==". */
    rng_chars(r, BASE64URL, q->request_id, 54);
    memcpy(q->request_id + 54, "==", 3);
}

/* ------------------------------------------------------ line formatting */

/* A bounded, allocation-free line builder that counts the fields it adds. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int fields;
    bool overflow;
    bool all;      /* all 69 canonical fields, not the 43 default ones */
    uint64_t salt; /* draws values of the extra fields */
} gen_line;

static void field(gen_line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void field(gen_line *l, const char *fmt, ...)
{
    if (l->overflow)
        return;
    if (l->fields > 0 && l->len + 1 < l->cap)
        l->buf[l->len++] = '\t';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, l->cap - l->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= l->cap - l->len) {
        l->overflow = true;
        return;
    }
    l->len += (size_t)n;
    l->fields++;
}

/* Appends n bytes as one field. Most fields are plain strings or integers,
 * and a copy is several times cheaper than vsnprintf: formatting is most
 * of the generator's time, and 15-day scenarios write millions of lines. */
static void field_mem(gen_line *l, const char *s, size_t n)
{
    if (l->overflow)
        return;
    size_t sep = l->fields > 0;
    if (l->len + sep + n >= l->cap) {
        l->overflow = true;
        return;
    }
    if (sep)
        l->buf[l->len++] = '\t';
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    l->fields++;
}

static void field_str(gen_line *l, const char *s)
{
    field_mem(l, s, strlen(s));
}

/* Writes v in decimal ending at end; returns where the digits start. */
static char *u64_digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void field_u64(gen_line *l, uint64_t v)
{
    char buf[24];
    char *p = u64_digits(v, buf + sizeof buf);
    field_mem(l, p, (size_t)(buf + sizeof buf - p));
}

/* "<whole>.<3 digits>", as printf's %.3f would write it for a non-negative
 * value. */
static void field_fixed3(gen_line *l, uint64_t whole, unsigned frac)
{
    char buf[32];
    char *end = buf + sizeof buf;
    char *p = end - 4;
    p[0] = '.';
    p[1] = (char)('0' + frac / 100);
    p[2] = (char)('0' + frac / 10 % 10);
    p[3] = (char)('0' + frac % 10);
    p = u64_digits(whole, p);
    field_mem(l, p, (size_t)(end - p));
}

static const char *dash(const char *s)
{
    return s && *s ? s : "-";
}

/* Rounds like %.3f: s * 1000 is within an ulp of the exact product, so the
 * nearest integer is the right one unless the product sits on a tie, where
 * printf (which rounds the exact binary value) decides. */
static void field_seconds(gen_line *l, double s)
{
    if (s < 0) {
        field_str(l, "-");
        return;
    }
    double scaled = s * 1000.0;
    double k = floor(scaled + 0.5);
    if (scaled >= 1e15 || fabs(fabs(scaled - k) - 0.5) < 1e-6) {
        field(l, "%.3f", s);
        return;
    }
    uint64_t ms = (uint64_t)k;
    field_fixed3(l, ms / 1000, (unsigned)(ms % 1000));
}

static void field_int(gen_line *l, int64_t v)
{
    if (v < 0)
        field_str(l, "-");
    else
        field_u64(l, (uint64_t)v);
}

/* Fields 1-13 of the default set: timestamp .. x-host-header. */
static void write_request_fields(gen_line *l, const gen_request *q)
{
    field_fixed3(l, (uint64_t)(q->ts_ms / 1000), (unsigned)(q->ts_ms % 1000));
    field_str(l, q->c_ip);
    if (l->all) /* s-ip: the edge server that answered */
        field(l, "18.160.%u.%u", (unsigned)(l->salt >> 8 & 0xff), (unsigned)(l->salt >> 16 & 0xff));
    field_seconds(l, q->ttfb);
    field_u64(l, (uint64_t)q->status);
    field_u64(l, q->sc_bytes);
    field_str(l, q->method);
    field_str(l, q->protocol);
    field_str(l, q->host);
    field_str(l, q->stem);
    field_u64(l, q->cs_bytes);
    field_str(l, q->edge_location);
    field_str(l, q->request_id);
    field_str(l, q->dist->domain);
}

/* Fields 14-31: time-taken .. sc-range-end. */
static void write_response_fields(gen_line *l, const gen_request *q)
{
    field_seconds(l, q->time_taken);
    field_str(l, q->proto_version);
    field_str(l, q->ipv6 ? "IPv6" : "IPv4");
    field_str(l, q->user_agent);
    field_str(l, dash(q->referer));
    field_str(l, dash(q->cookie));
    field_str(l, dash(q->query));
    field_str(l, q->result);
    field_str(l, q->xff);
    field_str(l, q->ssl_protocol);
    field_str(l, q->ssl_cipher);
    field_str(l, q->result);
    field_str(l, "-"); /* fle-encrypted-fields: field-level encryption is off */
    field_str(l, "-"); /* fle-status */
    field_str(l, q->content_type);
    field_int(l, q->content_len);
    field_int(l, q->range_start);
    field_int(l, q->range_end);
}

/* Fields 47-69, only with --fields all: CMCD from media players, MQAR,
 * tenant and mTLS connection id, mostly "-" as on real traffic. */
static void write_extra_fields(gen_line *l, const gen_request *q)
{
    bool player = q->dist->profile == PROFILE_MEDIA;
    uint64_t z = l->salt;
    if (player) {
        field(l, "%u", 800 + (unsigned)(z % 4) * 1200);                   /* cmcd-encoded-bitrate */
        field(l, "%u", 2000 + (unsigned)(z >> 4 & 0x3fff));                /* cmcd-buffer-length */
        field_str(l, (z >> 20 & 31) == 0 ? "true" : "false");           /* cmcd-buffer-starvation */
        field_str(l, "movie-%2F7f3a");                                   /* cmcd-content-id */
        field(l, "%u", 4000);                                              /* cmcd-object-duration */
        field(l, "%u", 3000 + (unsigned)(z >> 24 & 0xfff));               /* cmcd-deadline */
        field(l, "%u", 20000 + (unsigned)(z >> 28 & 0xffff));             /* cmcd-measured-throughput */
        field_str(l, "..%2Fseg-101.m4s");                                /* cmcd-next-object-request */
        field_str(l, "-");                                                     /* cmcd-next-range-request */
        field_str(l, "av");                                              /* cmcd-object-type */
        field_str(l, "1");                                               /* cmcd-playback-rate */
        field(l, "%u", 15000);                                             /* cmcd-requested-maximum-throughput */
        field_str(l, "h");                                               /* cmcd-streaming-format */
        field(l, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(z >> 32), (unsigned)(z >> 16 & 0xffff),
              (unsigned)(z >> 4 & 0xfff), (unsigned)(z >> 40 & 0xfff),
              (unsigned long long)(z & 0xffffffffffffULL));                /* cmcd-session-id */
        field_str(l, "v");                                               /* cmcd-stream-type */
        field_str(l, "false");                                           /* cmcd-startup */
        field(l, "%u", 6000);                                              /* cmcd-top-bitrate */
        field_str(l, "1");                                               /* cmcd-version */
    } else {
        for (int i = 0; i < 18; i++)
            field_str(l, "-");
    }
    field_str(l, "-"); /* r-host */
    field_str(l, "-"); /* sr-reason */
    field_str(l, "-"); /* x-edge-mqcs */
    field_str(l, "-"); /* distribution-tenant-id */
    if (q->protocol[0] == 'h' && q->protocol[4] == 's') /* connection-id: https only */
        field(l, "%016llx", (unsigned long long)ew_mix64(z));
    else
        field_str(l, "-");
}

/* Fields 32-43: c-port .. asn. */
static void write_viewer_fields(gen_line *l, const gen_request *q)
{
    field_u64(l, q->c_port);
    field_str(l, q->detailed);
    field_str(l, q->region->country);
    field_str(l, dash(q->accept_encoding));
    field_str(l, q->asset->accept);
    field_str(l, q->asset->behavior);
    field_mem(l, q->headers, q->headers_len);
    field_mem(l, q->header_names, q->names_len);
    field_u64(l, q->header_count);
    if (l->all) { /* primary-distribution-id, -dns-name: no continuous deployment */
        field_str(l, "-");
        field_str(l, "-");
    }
    field_seconds(l, q->origin_fbl);
    field_seconds(l, q->origin_lbl);
    field_u64(l, q->asn);
    if (l->all)
        write_extra_fields(l, q);
}

/* Returns the line length, or 0 if the line did not fit (a programming error). */
static size_t format_request(const gen_request *q, bool all, uint64_t salt, char *buf, size_t cap)
{
    gen_line l = {buf, cap, 0, 0, false, all, salt};
    write_request_fields(&l, q);
    write_response_fields(&l, q);
    write_viewer_fields(&l, q);
    if (l.overflow || l.fields != (all ? GEN_ALL_FIELDS : GEN_FIELD_COUNT))
        return 0;
    return l.len;
}

/* ------------------------------------------------------------- sinks */

typedef struct {
    ew_bg_writer *writer;      /* --out FILE or '-', tsv or json lines */
    ew_avro_file_writer *avro; /* --encoding avro --out FILE: a container file */
    ew_gen_producer kafka;     /* --to-kafka */
    uint64_t records;
    uint64_t bytes;
    uint64_t good;
    uint64_t bad[EW_GEN_BAD_KINDS];
    const char *bad_reason[EW_GEN_BAD_KINDS];
} gen_sink;

static bool open_sink(gen_sink *s, const gen_opts *o)
{
    memset(s, 0, sizeof *s);
    static const char *const kafka_settings[] = {"batch.num.messages", "10000", "compression.type", "none",
                                                 "client.id", "edgewatch-gen", NULL};
    if (o->to_kafka)
        return ew_gen_producer_open(&s->kafka, o->to_kafka, o->topic, kafka_settings);
    if (o->encoding == EW_GEN_AVRO) {
        s->avro = ew_avro_file_writer_open(o->out, ew_schema_cloudfront_realtime_log, o->avro_deflate);
        if (!s->avro)
            ew_error("gen: cannot write %s: %s", o->out, strerror(errno));
        return s->avro != NULL;
    }
    /* stdout gets a descriptor of its own, which the writer closes. */
    bool to_stdout = strcmp(o->out, "-") == 0;
    int fd = to_stdout ? dup(STDOUT_FILENO) : open(o->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        ew_error("gen: cannot open %s: %s", to_stdout ? "stdout" : o->out, strerror(errno));
        return false;
    }
    s->writer = ew_bg_writer_open(fd);
    if (!s->writer) {
        ew_error("gen: cannot start the writer: %s", strerror(errno));
        close(fd);
        return false;
    }
    return true;
}

static bool sink_write(gen_sink *s, const char *line, size_t len, const char *key)
{
    s->records++;
    s->bytes += len;
    if (s->kafka.rk)
        return ew_gen_produce(&s->kafka, key, GEN_KEY_LEN, line, len);
    if (s->avro) {
        if (!ew_avro_file_writer_add(s->avro, (const uint8_t *)line, len)) {
            ew_error("gen: write failed: %s", strerror(errno));
            return false;
        }
        return true;
    }
    if (!ew_bg_writer_add(s->writer, line, len) || !ew_bg_writer_add(s->writer, "\n", 1)) {
        ew_error("gen: write failed: %s", strerror(errno));
        return false;
    }
    return true;
}

/* Flushes and closes; returns false if anything written was lost. */
static bool close_sink(gen_sink *s, bool ok)
{
    if (s->kafka.rk)
        return ew_gen_producer_close(&s->kafka) && ok;
    if (s->avro) {
        if (!ew_avro_file_writer_close(s->avro)) {
            ew_error("gen: write failed: %s", strerror(errno));
            ok = false;
        }
        s->avro = NULL;
        return ok;
    }
    if (s->writer && !ew_bg_writer_close(s->writer)) {
        if (ok) /* else the failed write was reported already */
            ew_error("gen: write failed: %s", strerror(errno));
        ok = false;
    }
    s->writer = NULL;
    return ok;
}

/* ------------------------------------------------------------ traffic */

/* One request to emit: drawn first, sorted by time, then formatted. */
typedef struct {
    int64_t ts_ms;
    uint32_t dist;
    uint64_t seed;
} gen_slot;

static int slot_cmp(const void *pa, const void *pb)
{
    const gen_slot *a = pa, *b = pb;
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms < b->ts_ms ? -1 : 1;
    if (a->dist != b->dist)
        return a->dist < b->dist ? -1 : 1;
    return a->seed < b->seed ? -1 : a->seed > b->seed;
}

/* Poisson-like count: normal approximation with sd = sqrt(rate), >= 0. */
static size_t draw_count(double rate, ew_rng *r)
{
    double n = rate + sqrt(rate) * ew_rng_normal(r);
    return n <= 0 ? 0 : (size_t)llround(n);
}

static bool reserve_slots(gen_slot **slots, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    gen_slot *p = realloc(*slots, ncap * sizeof *p);
    if (!p)
        return false;
    *slots = p;
    *cap = ncap;
    return true;
}

/* Draws every request of one minute and fills fx[] (one per distribution)
 * for them; returns how many, or SIZE_MAX on OOM. */
static size_t plan_minute(const gen_world *w, const gen_opts *o, int minute, gen_fx *fx, gen_slot **slots,
                          size_t *cap)
{
    ew_rng rng = ew_rng_derive(o->seed, STREAM_TRAFFIC, (uint64_t)minute);
    int64_t minute_start = o->start_ms + (int64_t)minute * GEN_MINUTE_MS;
    size_t n = 0;
    for (size_t d = 0; d < w->n_dists; d++) {
        minute_fx(w, o, d, minute, &fx[d]);
        size_t count = draw_count(fx[d].rate, &rng);
        if (!reserve_slots(slots, cap, n + count))
            return SIZE_MAX;
        for (size_t i = 0; i < count; i++) {
            gen_slot s = {minute_start + (int64_t)ew_rng_below(&rng, GEN_MINUTE_MS), (uint32_t)d, ew_rng_next(&rng)};
            (*slots)[n++] = s;
        }
    }
    return n;
}

/* Every --bad-every good records, one malformed record goes out first,
 * built from the good one; the kinds rotate through every DLQ reason. */
static bool emit_bad(const gen_opts *o, gen_sink *sink, const char *line, size_t len, const char *key)
{
    unsigned k = 0;
    uint64_t total = 0;
    for (unsigned i = 0; i < EW_GEN_BAD_KINDS; i++)
        total += sink->bad[i];
    k = (unsigned)(total % EW_GEN_BAD_KINDS);
    uint8_t bad[GEN_LINE_MAX + 20000];
    const char *reason = NULL;
    size_t n = ew_gen_bad_record(k, o->schema_id, o->names, o->n_names, line, len, bad, sizeof bad, &reason);
    if (n == 0 && strcmp(reason, "empty") != 0) {
        ew_error("gen: internal error: could not build a %s record", reason);
        return false;
    }
    sink->bad[k]++;
    sink->bad_reason[k] = reason;
    return sink_write(sink, (const char *)bad, n, key);
}

static bool emit_slot(const gen_world *w, const gen_opts *o, const gen_fx *fx, const gen_slot *slot,
                      gen_sink *sink)
{
    ew_rng rng = {slot->seed};
    gen_twist twist;
    draw_twist(w, &fx[slot->dist], slot->seed, &twist);
    gen_request q;
    build_request(&q, &w->dists[slot->dist], slot->ts_ms, &rng, &twist);
    char line[GEN_LINE_MAX];
    size_t len = format_request(&q, o->all_fields, ew_mix64(slot->seed ^ 0x5a17), line, sizeof line);
    if (len == 0) {
        ew_error("gen: internal error: record does not fit %d bytes or lacks fields", GEN_LINE_MAX);
        return false;
    }
    /* A random key spreads records over all partitions. */
    char key[GEN_KEY_LEN + 1];
    rng_chars(&rng, ALNUM_LOWER, key, GEN_KEY_LEN);
    if (o->bad_every && sink->good % o->bad_every == o->bad_every - 1 && !emit_bad(o, sink, line, len, key))
        return false;
    sink->good++;
    if (o->encoding == EW_GEN_TSV)
        return sink_write(sink, line, len, key);
    uint8_t msg[GEN_LINE_MAX * 2];
    size_t n = ew_gen_encode(o->encoding, o->schema_id, slot->seed >> 7, o->names, o->n_names, line, len, msg,
                             sizeof msg);
    if (n == 0) {
        ew_error("gen: internal error: could not encode a record");
        return false;
    }
    return sink_write(sink, (const char *)msg, n, key);
}

/* Sleeps while the sink is ahead of --rate, so tests can act mid-stream. */
static void throttle(const gen_opts *o, const gen_sink *sink, int64_t t0)
{
    if (!o->rate)
        return;
    int64_t due_ms = (int64_t)(sink->records * 1000 / o->rate);
    int64_t ahead = due_ms - (ew_mono_ms() - t0);
    if (ahead > 0) {
        if (sink->kafka.rk)
            rd_kafka_poll(sink->kafka.rk, (int)ahead); /* serve delivery reports meanwhile */
        else
            nanosleep(&(struct timespec){ahead / 1000, (long)(ahead % 1000) * 1000000L}, NULL);
    }
}

static bool generate(const gen_world *w, const gen_opts *o, gen_sink *sink)
{
    gen_slot *slots = NULL;
    size_t cap = 0;
    gen_fx *fx = calloc(w->n_dists, sizeof *fx);
    bool ok = fx != NULL;
    if (!ok)
        ew_error("gen: out of memory");
    int64_t t0 = ew_mono_ms();
    for (int m = 0; ok && m < o->minutes; m++) {
        size_t n = plan_minute(w, o, m, fx, &slots, &cap);
        if (n == SIZE_MAX) {
            ew_error("gen: out of memory");
            ok = false;
            break;
        }
        qsort(slots, n, sizeof *slots, slot_cmp);
        for (size_t i = 0; ok && i < n; i++) {
            ok = emit_slot(w, o, fx, &slots[i], sink);
            throttle(o, sink, t0);
        }
    }
    free(fx);
    free(slots);
    return ok;
}

/* ------------------------------------------------------- JSON outputs */

static bool write_json_file(const char *path, json_t *root, size_t flags, bool lines)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        ew_error("gen: cannot open %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = true;
    if (lines) {
        size_t i;
        json_t *v;
        json_array_foreach(root, i, v)
            ok = ok && json_dumpf(v, f, flags) == 0 && fputc('\n', f) != EOF;
    } else {
        ok = json_dumpf(root, f, flags) == 0 && fputc('\n', f) != EOF;
    }
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        ew_error("gen: cannot write %s", path);
    return ok;
}

/* One distribution's metadata; "floor" and "excluded" only where set, so
 * worlds without them write what they always did. */
static json_t *dist_metadata(const gen_dist *d)
{
    json_t *o = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s}", "id", d->id, "domain", d->domain, "aliases",
                          d->alias, "project", d->project, "owner", d->owner, "route", d->route);
    if (o && d->floor > 0 && json_object_set_new(o, "floor", json_real(d->floor)) != 0)
        o = (json_decref(o), NULL);
    if (o && d->excluded && json_object_set_new(o, "excluded", json_true()) != 0)
        o = (json_decref(o), NULL);
    return o;
}

static bool write_metadata(const gen_world *w, const char *path)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < w->n_dists; i++) {
        json_t *o = dist_metadata(&w->dists[i]);
        if (!o || json_array_append_new(list, o) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *root = list ? json_pack("{s:o}", "distributions", list) : NULL;
    if (!root) {
        ew_error("gen: out of memory building metadata");
        return false;
    }
    bool ok = write_json_file(path, root, JSON_INDENT(2), false);
    json_decref(root);
    return ok;
}

static bool write_bad_counts(const gen_sink *s, const char *path)
{
    json_t *root = json_object();
    for (unsigned k = 0; k < EW_GEN_BAD_KINDS; k++) {
        if (!s->bad[k])
            continue;
        json_t *old = json_object_get(root, s->bad_reason[k]);
        json_object_set_new(root, s->bad_reason[k],
                            json_integer((json_int_t)s->bad[k] + (old ? json_integer_value(old) : 0)));
    }
    bool ok = write_json_file(path, root, JSON_SORT_KEYS, false);
    json_decref(root);
    return ok;
}

static int64_t minute_ms(const gen_opts *o, int minute)
{
    return o->start_ms + (int64_t)minute * GEN_MINUTE_MS;
}

/* The rate multiplier, as an integer when it is one (2.5 stays 2.5). */
static json_t *multiplier_json(const gen_anomaly *a)
{
    double m = a->effect == FX_RATE ? a->strength : 1.0;
    return m == floor(m) ? json_integer((json_int_t)m) : json_real(m);
}

static json_t *anomaly_label(const gen_anomaly *a, const gen_dist *d, const gen_opts *o)
{
    return json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:s, s:s}", "scenario", o->scenario, "rule",
                     a->rule, "entity_type", "distribution", "entity_id", d->id, "domain", d->domain, "project",
                     d->project, "start", (json_int_t)minute_ms(o, a->start_minute), "end",
                     (json_int_t)minute_ms(o, a->end_minute), "multiplier", multiplier_json(a), "expect",
                     a->expect, "kind", a->kind);
}

/* The expected-traffic event a team would have registered ahead of a
 * promotion: 30 minutes of margin each side, created a day before. */
enum { EVENT_MARGIN_MS = 30 * GEN_MINUTE_MS, EVENT_MULTIPLIER = 3 };

static json_t *anomaly_event(const gen_anomaly *a, size_t index, const gen_dist *d, const gen_opts *o)
{
    char id[24];
    uint64_t h = ew_mix64(o->seed ^ 0x6576656e74ULL ^ (uint64_t)index) & 0xffffffffffffULL;
    snprintf(id, sizeof id, "evt-%012" PRIx64, h);
    int64_t start = minute_ms(o, a->start_minute), end = minute_ms(o, a->end_minute);
    return json_pack("{s:s, s:s, s:n, s:s, s:n, s:I, s:I, s:i, s:s, s:I}", "id", id, "kind", "event", "project",
                     "distribution", d->id, "rule", "from_ms", (json_int_t)(start - EVENT_MARGIN_MS), "to_ms",
                     (json_int_t)(end + EVENT_MARGIN_MS), "multiplier", EVENT_MULTIPLIER, "reason",
                     "registered promotion", "created_ms", (json_int_t)(start - 1440LL * GEN_MINUTE_MS));
}

/* Labels (events = false) or the registered events (events = true), one
 * JSON object per line. */
static bool write_anomalies(const gen_world *w, const gen_opts *o, const char *path, bool events)
{
    json_t *lines = json_array();
    for (size_t i = 0; lines && i < w->n_anomalies; i++) {
        const gen_anomaly *a = &w->anomalies[i];
        if (events && !a->registered)
            continue;
        const gen_dist *d = &w->dists[a->dist];
        json_t *v = events ? anomaly_event(a, i, d, o) : anomaly_label(a, d, o);
        if (!v || json_array_append_new(lines, v) != 0) {
            json_decref(lines);
            lines = NULL;
        }
    }
    if (!lines) {
        ew_error("gen: out of memory building %s", events ? "events" : "labels");
        return false;
    }
    bool ok = write_json_file(path, lines, JSON_COMPACT, true);
    json_decref(lines);
    return ok;
}

/* ------------------------------------------------------------- the CLI */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: edgewatch gen --scenario NAME (--to-kafka BOOTSTRAP | --out FILE) [options]\n"
            "\n"
            "Writes synthetic CloudFront real-time log lines (43 default fields, TAB-separated)\n"
            "with known injected anomalies. Output is byte-identical for the same --seed and --start.\n"
            "\n"
            "  --scenario NAME        traffic scenario (see below)\n"
            "  --out FILE             write lines to FILE ('-' = stdout)\n"
            "  --to-kafka BOOTSTRAP   produce lines to Kafka at BOOTSTRAP (host:port,...)\n"
            "  --topic NAME           Kafka topic (default " GEN_DEFAULT_TOPIC ")\n"
            "  --labels FILE          write the injected anomalies as JSON lines\n"
            "  --metadata-out FILE    write distribution metadata JSON (for the processor)\n"
            "  --events-out FILE      write the registered expected-traffic events as JSON lines\n"
            "  --seed N               PRNG seed (default 1)\n"
            "  --distributions N      number of distributions, 1-%d (default: the scenario's)\n"
            "  --minutes M            minutes of traffic, 1-%d (default: the scenario's)\n"
            "  --days N               N*1440 minutes, instead of --minutes\n"
            "  --start T              first minute, RFC 3339 or epoch seconds\n"
            "                         (default: now rounded down to the minute, minus M minutes)\n"
            "  --fields SET           default (the 43 default fields) or all (all 69)\n"
            "  --encoding ENC         tsv (default), json, avro, avro-confluent, or mixed\n"
            "                         (each in turn); with --out, avro writes an Avro object\n"
            "                         container file and mixed/avro-confluent are refused\n"
            "  --avro-codec C         null (default) or deflate, for --encoding avro --out\n"
            "  --schema-id N          Confluent schema id of Avro records (default 1)\n"
            "  --bad-every N          also inject one malformed record per N good ones,\n"
            "                         rotating through every dead-letter reason\n"
            "  --bad-out FILE         write the injected malformed records per reason (JSON)\n"
            "  --rate N               at most N records per second (default: no limit)\n"
            "  --help                 show this help\n"
            "\n"
            "scenarios:\n",
            GEN_MAX_DISTRIBUTIONS, GEN_MAX_MINUTES);
    for (size_t i = 0; i < ARRAY_LEN(SCENARIOS); i++) {
        int m = SCENARIOS[i].default_minutes;
        bool days = m % DAY_MINUTES == 0;
        fprintf(f, "  %-22s %s\n  %-22s (default %d %s, %zu distributions)\n", SCENARIOS[i].name,
                SCENARIOS[i].summary, "", days ? m / DAY_MINUTES : m, days ? "days" : "minutes",
                SCENARIOS[i].default_distributions);
    }
    fprintf(f, "  %-22s %s\n", "billing",
            "AWS billing line items (CUR rows, JSON lines) refreshed 3x/day, with 4\n"
            "                         labelled cost jumps and 5 quiet cases; options of its own\n"
            "                         (--days, --projects, --truth): see --scenario billing --help");
}

/* ---- flags shared with gen_billing.c ---- */

bool ew_gen_parse_u64(const char *flag, const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!ew_parse_u64(ew_str_make(text, strlen(text)), out) || *out < lo || *out > hi) {
        ew_error("gen: %s needs an integer from %" PRIu64 " to %" PRIu64 ", got '%s'", flag, lo, hi, text);
        return false;
    }
    return true;
}

bool ew_gen_parse_flags(int argc, char **argv, const char *see, ew_gen_flag_fn *apply, void *ctx, bool *help)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = true;
            return true;
        }
        if (strncmp(arg, "--", 2) != 0) {
            ew_error("gen: unexpected argument '%s' (see %s)", arg, see);
            return false;
        }
        char flag[64];
        const char *eq = strchr(arg, '=');
        const char *value;
        if (eq) {
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - arg), arg);
            value = eq + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                ew_error("gen: %s needs a value", arg);
                return false;
            }
            value = argv[++i];
        }
        if (!apply(ctx, flag, value))
            return false;
    }
    return true;
}

static bool apply_flag(gen_opts *o, const char *flag, const char *value)
{
    uint64_t v;
    if (strcmp(flag, "--scenario") == 0)
        o->scenario = value;
    else if (strcmp(flag, "--to-kafka") == 0)
        o->to_kafka = value;
    else if (strcmp(flag, "--out") == 0)
        o->out = value;
    else if (strcmp(flag, "--labels") == 0)
        o->labels = value;
    else if (strcmp(flag, "--metadata-out") == 0)
        o->metadata_out = value;
    else if (strcmp(flag, "--events-out") == 0)
        o->events_out = value;
    else if (strcmp(flag, "--topic") == 0)
        o->topic = value;
    else if (strcmp(flag, "--seed") == 0) {
        if (!ew_gen_parse_u64(flag, value, 0, UINT64_MAX, &o->seed))
            return false;
    } else if (strcmp(flag, "--distributions") == 0) {
        if (!ew_gen_parse_u64(flag, value, 1, GEN_MAX_DISTRIBUTIONS, &v))
            return false;
        o->distributions = (size_t)v;
    } else if (strcmp(flag, "--minutes") == 0 || strcmp(flag, "--days") == 0) {
        bool days = flag[2] == 'd';
        if (o->minutes && o->days_given != days) {
            ew_error("gen: give --minutes or --days, not both");
            return false;
        }
        o->days_given = days;
        if (!ew_gen_parse_u64(flag, value, 1, days ? GEN_MAX_MINUTES / DAY_MINUTES : GEN_MAX_MINUTES, &v))
            return false;
        o->minutes = (int)v * (days ? DAY_MINUTES : 1);
    } else if (strcmp(flag, "--fields") == 0) {
        if (strcmp(value, "all") != 0 && strcmp(value, "default") != 0) {
            ew_error("gen: --fields needs default or all, got '%s'", value);
            return false;
        }
        o->all_fields = value[0] == 'a';
    } else if (strcmp(flag, "--encoding") == 0) {
        if (!ew_gen_encoding_parse(value, &o->encoding)) {
            ew_error("gen: --encoding needs tsv, json, avro, avro-confluent or mixed, got '%s'", value);
            return false;
        }
    } else if (strcmp(flag, "--avro-codec") == 0) {
        if (strcmp(value, "null") != 0 && strcmp(value, "deflate") != 0) {
            ew_error("gen: --avro-codec needs null or deflate, got '%s'", value);
            return false;
        }
        o->avro_deflate = value[0] == 'd';
    } else if (strcmp(flag, "--schema-id") == 0) {
        if (!ew_gen_parse_u64(flag, value, 0, INT32_MAX, &v))
            return false;
        o->schema_id = (int32_t)v;
    } else if (strcmp(flag, "--bad-every") == 0) {
        if (!ew_gen_parse_u64(flag, value, 1, 1000000000, &o->bad_every))
            return false;
    } else if (strcmp(flag, "--rate") == 0) {
        if (!ew_gen_parse_u64(flag, value, 1, 100000000, &o->rate))
            return false;
    } else if (strcmp(flag, "--bad-out") == 0) {
        o->bad_out = value;
    } else if (strcmp(flag, "--start") == 0) {
        if (!ew_parse_time_ms(value, &o->start_ms)) {
            ew_error("gen: --start needs RFC 3339 or epoch seconds, got '%s'", value);
            return false;
        }
        o->start_given = true;
    } else {
        ew_error("gen: unknown option '%s' (see edgewatch gen --help)", flag);
        return false;
    }
    return true;
}

static bool apply_gen_flag(void *ctx, const char *flag, const char *value) { return apply_flag(ctx, flag, value); }

/* Fills in the scenario's defaults and checks it has room for its plan. */
static bool check_size(gen_opts *o, int scenario)
{
    if (!o->minutes)
        o->minutes = SCENARIOS[scenario].default_minutes;
    if (!o->distributions)
        o->distributions = SCENARIOS[scenario].default_distributions;
    if (o->minutes < SCENARIOS[scenario].min_minutes) {
        ew_error("gen: scenario %s needs at least %d minutes (%d days)", o->scenario, SCENARIOS[scenario].min_minutes,
                 SCENARIOS[scenario].min_minutes / DAY_MINUTES);
        return false;
    }
    if (o->distributions < SCENARIOS[scenario].min_distributions) {
        ew_error("gen: scenario %s needs at least %zu distributions", o->scenario,
                 SCENARIOS[scenario].min_distributions);
        return false;
    }
    return true;
}

static bool check_opts(gen_opts *o)
{
    if (!o->scenario) {
        ew_error("gen: --scenario is required (see edgewatch gen --help)");
        return false;
    }
    if (find_scenario(o->scenario) < 0) {
        char known[256] = "";
        for (size_t i = 0; i < ARRAY_LEN(SCENARIOS); i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", SCENARIOS[i].name);
        ew_error("gen: unknown scenario '%s' (known: %s, billing)", o->scenario, known);
        return false;
    }
    if (!check_size(o, find_scenario(o->scenario)))
        return false;
    if (!o->to_kafka == !o->out) {
        ew_error("gen: give exactly one of --to-kafka BOOTSTRAP or --out FILE");
        return false;
    }
    if (o->topic && !o->to_kafka) {
        ew_error("gen: --topic only applies with --to-kafka");
        return false;
    }
    if (!o->topic)
        o->topic = GEN_DEFAULT_TOPIC;
    if (o->out && (o->encoding == EW_GEN_MIXED || o->encoding == EW_GEN_AVRO_CONFLUENT)) {
        ew_error("gen: --encoding %s is per message: use --to-kafka (files take tsv, json, or avro: "
                 "an object container file)",
                 o->encoding == EW_GEN_MIXED ? "mixed" : "avro-confluent");
        return false;
    }
    if (o->out && o->encoding == EW_GEN_AVRO && strcmp(o->out, "-") == 0) {
        ew_error("gen: --encoding avro writes a container file: give --out FILE, not '-'");
        return false;
    }
    if (o->bad_out && !o->bad_every) {
        ew_error("gen: --bad-out needs --bad-every");
        return false;
    }
    if (o->all_fields) {
        for (int i = 1; i <= EW_CF_CANONICAL_FIELDS; i++)
            o->names[o->n_names++] = ew_field_name(i);
    } else {
        const char *const *names = ew_default_fields(&o->n_names);
        memcpy(o->names, names, o->n_names * sizeof *names);
    }
    if (!o->start_given)
        o->start_ms = ew_now_ms() / GEN_MINUTE_MS * GEN_MINUTE_MS - (int64_t)o->minutes * GEN_MINUTE_MS;
    return true;
}

static void print_summary(const gen_world *w, const gen_opts *o, const gen_sink *s)
{
    char from[32], to[32];
    ew_format_time(o->start_ms, from, sizeof from);
    ew_format_time(o->start_ms + (int64_t)o->minutes * GEN_MINUTE_MS, to, sizeof to);
    const gen_dist *spiked = w->n_anomalies ? &w->dists[w->anomalies[0].dist] : NULL;
    ew_info("gen: scenario=%s records=%" PRIu64 " bytes=%" PRIu64 " distributions=%zu anomaly=%s (%s) labels=%zu "
            "range=%s..%s to=%s%s",
            o->scenario, s->records, s->bytes, w->n_dists, spiked ? spiked->id : "-", spiked ? spiked->project : "-",
            w->n_anomalies, from, to, o->to_kafka ? "kafka:" : "", o->to_kafka ? o->topic : o->out);
}

static int run(const gen_opts *o)
{
    gen_world w;
    if (!build_world(&w, o)) {
        ew_error("gen: out of memory");
        return EW_EXIT_RUNTIME;
    }
    bool ok = (!o->metadata_out || write_metadata(&w, o->metadata_out)) &&
              (!o->labels || write_anomalies(&w, o, o->labels, false)) &&
              (!o->events_out || write_anomalies(&w, o, o->events_out, true));
    gen_sink sink;
    if (ok && open_sink(&sink, o)) {
        ok = generate(&w, o, &sink);
        ok = close_sink(&sink, ok);
        if (ok && o->bad_out)
            ok = write_bad_counts(&sink, o->bad_out);
        if (ok)
            print_summary(&w, o, &sink);
    } else {
        ok = false;
    }
    free(w.dists);
    return ok ? EW_EXIT_OK : EW_EXIT_RUNTIME;
}

/* Billing line items share no world with the traffic scenarios: they have
 * their own options and generator (tools/gen_billing.c). */
static bool wants_billing(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--scenario=billing") == 0 ||
            (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc && strcmp(argv[i + 1], "billing") == 0))
            return true;
    return false;
}

int ew_cmd_gen(int argc, char **argv)
{
    if (wants_billing(argc, argv))
        return ew_gen_billing(argc, argv);
    gen_opts o = {.seed = 1, .schema_id = 1};
    if (!ew_gen_parse_flags(argc, argv, "edgewatch gen --help", apply_gen_flag, &o, &o.help))
        return EW_EXIT_USAGE;
    if (o.help) {
        usage(stdout);
        return EW_EXIT_OK;
    }
    if (!check_opts(&o))
        return EW_EXIT_USAGE;
    return run(&o);
}
