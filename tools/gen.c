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
 * spread over partitions). Per-record work formats into a stack buffer and
 * allocates nothing; only the per-minute list of pending requests is heap.
 *
 * Everything is derived from --seed through a splitmix64 PRNG so the same
 * seed and --start give byte-identical output; the world is drawn from its
 * own PRNG stream, so the distributions (and the metadata file) do not
 * change with --minutes. Each record has its own stream too, so its content
 * does not depend on the order records are emitted in.
 *
 * The injected anomalies are written as JSON lines (--labels) so tests can
 * compare what the processor alerted on with what was injected; "end" is
 * exclusive. --metadata-out writes the file processor/metadata.c reads.
 */
#include "edgewatch/common.h"
#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "edgewatch/tools.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define GEN_FIELD_COUNT 43
#define GEN_ALL_FIELDS 69
#define GEN_LINE_MAX 4096
#define GEN_HEADERS_MAX 800 /* CloudFront truncates cs-headers at 800 B */
#define GEN_MAX_DISTRIBUTIONS 1000
#define GEN_MAX_MINUTES 10080 /* one week */
#define GEN_MAX_ANOMALIES 8
#define GEN_MINUTE_MS 60000
#define GEN_KEY_LEN 8
#define GEN_DEFAULT_TOPIC "cloudfront-realtime-logs"
#define GEN_FLUSH_TIMEOUT_MS 30000

/* ---------------------------------------------------------------- PRNG */

/* splitmix64: tiny, fast, passes BigCrush, and any 64-bit seed is valid. */
typedef struct {
    uint64_t state;
} gen_rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(gen_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return mix64(r->state);
}

/* Independent streams per purpose and index, so adding a minute or a
 * distribution never shifts the values drawn elsewhere. */
enum { STREAM_WORLD = 1, STREAM_TRAFFIC = 2 };

static gen_rng rng_derive(uint64_t seed, uint64_t stream, uint64_t index)
{
    gen_rng r = {mix64(mix64(seed ^ (stream * 0xd1b54a32d192ed03ULL)) + index * 0x9e3779b97f4a7c15ULL)};
    return r;
}

/* Uniform in [0, n); the modulo bias is irrelevant for the small n used. */
static uint64_t rng_below(gen_rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

static uint64_t rng_range(gen_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_below(r, hi - lo + 1);
}

/* Uniform in [0, 1). */
static double rng_unit(gen_rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_uniform(gen_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * rng_unit(r);
}

static bool rng_chance(gen_rng *r, double p)
{
    return rng_unit(r) < p;
}

/* Standard normal via Box-Muller; u1 is shifted off zero so log() is finite. */
static double rng_normal(gen_rng *r)
{
    double u1 = ((double)(rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void rng_chars(gen_rng *r, const char *alphabet, char *dst, size_t n)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < n; i++)
        dst[i] = alphabet[rng_below(r, k)];
    dst[n] = '\0';
}

#define PICK(rng, table) (&(table)[rng_below((rng), ARRAY_LEN(table))])

/* Weighted choice over any table whose rows have an `unsigned weight`. */
static size_t pick_weighted(gen_rng *r, const void *table, size_t n, size_t stride, size_t weight_off)
{
    const unsigned char *base = table;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += *(const unsigned *)(const void *)(base + i * stride + weight_off);
    uint64_t x = rng_below(r, total);
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

/* ----------------------------------------------------------- the world */

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
} gen_dist;

/* Rate multiplier applied to one distribution for a span of minutes. */
typedef struct {
    size_t dist;
    const char *rule;   /* the processor rule expected to fire */
    int start_minute;
    int end_minute;     /* exclusive */
    unsigned multiplier;
} gen_anomaly;

typedef struct {
    gen_dist *dists;
    size_t n_dists;
    gen_anomaly anomalies[GEN_MAX_ANOMALIES];
    size_t n_anomalies;
} gen_world;

typedef struct {
    const char *scenario;
    const char *to_kafka;
    const char *out;
    const char *labels;
    const char *metadata_out;
    const char *topic;
    uint64_t seed;
    size_t distributions;
    int minutes;
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

/* A scenario only plans anomalies on the world (which distribution, when,
 * how strong); drawing and formatting the traffic is shared. To add one,
 * write a plan_* function and add a row to SCENARIOS. */
typedef void (*gen_plan_fn)(gen_world *w, const gen_opts *o, gen_rng *rng);

static void plan_spike(gen_world *w, const gen_opts *o, gen_rng *rng);

static const struct {
    const char *name;
    const char *summary;
    gen_plan_fn plan;
} SCENARIOS[] = {
    {"spike", "one distribution's request rate x8 for 3 minutes at 2/3 of the run", plan_spike},
};

static void add_anomaly(gen_world *w, gen_anomaly a)
{
    if (w->n_anomalies < GEN_MAX_ANOMALIES)
        w->anomalies[w->n_anomalies++] = a;
}

/* The spike starts at minute floor(M*2/3) so there is a long baseline before
 * it and room after it to see the alert resolve. */
enum { SPIKE_MULTIPLIER = 8, SPIKE_MINUTES = 3 };

static void plan_spike(gen_world *w, const gen_opts *o, gen_rng *rng)
{
    int start = o->minutes * 2 / 3;
    int end = start + SPIKE_MINUTES < o->minutes ? start + SPIKE_MINUTES : o->minutes;
    gen_anomaly a = {rng_below(rng, w->n_dists), "request_spike", start, end, SPIKE_MULTIPLIER};
    add_anomaly(w, a);
}

static int find_scenario(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(SCENARIOS); i++)
        if (strcmp(SCENARIOS[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void init_dist(gen_dist *d, size_t index, gen_rng *rng)
{
    d->id[0] = 'E';
    rng_chars(rng, ALNUM_UPPER, d->id + 1, 13);
    char host[14];
    rng_chars(rng, ALNUM_LOWER, host, 13);
    snprintf(d->domain, sizeof d->domain, "d%s.cloudfront.net", host);
    if (index < ARRAY_LEN(KNOWN_PROJECTS)) {
        snprintf(d->project, sizeof d->project, "%s", KNOWN_PROJECTS[index].project);
        snprintf(d->owner, sizeof d->owner, "%s", KNOWN_PROJECTS[index].owner);
        d->profile = KNOWN_PROJECTS[index].profile;
    } else {
        snprintf(d->project, sizeof d->project, "project-%zu", index + 1);
        snprintf(d->owner, sizeof d->owner, "%s", KNOWN_PROJECTS[index % ARRAY_LEN(KNOWN_PROJECTS)].owner);
        d->profile = (gen_profile)(index % PROFILE_COUNT);
    }
    snprintf(d->alias, sizeof d->alias, "www.%s.example", d->project);
    snprintf(d->route, sizeof d->route, "slack:#%s-oncall", d->project);
    d->asset_salt = (uint32_t)rng_next(rng);
}

/* Base rates lie between 10 and 60 requests/minute, one per stratum of that
 * range (so a run's volume hardly depends on the seed) and skewed to the low
 * end like real fleets, where a few distributions carry most traffic. The
 * mean of ~27/min keeps the default run (12 x 60 min, ~19k records, ~15 MB)
 * inside the dev broker's retention of ~5 MB per partition x 4 partitions.
 * A shuffle then decides which distribution gets which rate. */
static void assign_rates(gen_dist *dists, size_t n, gen_rng *rng)
{
    for (size_t k = 0; k < n; k++) {
        double x = ((double)k + rng_unit(rng)) / (double)n;
        dists[k].base_rate = round(10.0 + 50.0 * x * x);
    }
    for (size_t k = n - 1; k > 0; k--) {
        size_t j = rng_below(rng, k + 1);
        double t = dists[k].base_rate;
        dists[k].base_rate = dists[j].base_rate;
        dists[j].base_rate = t;
    }
}

static bool build_world(gen_world *w, const gen_opts *o)
{
    gen_rng rng = rng_derive(o->seed, STREAM_WORLD, 0);
    w->n_dists = o->distributions;
    w->n_anomalies = 0;
    w->dists = calloc(w->n_dists, sizeof *w->dists);
    if (!w->dists)
        return false;
    for (size_t i = 0; i < w->n_dists; i++)
        init_dist(&w->dists[i], i, &rng);
    assign_rates(w->dists, w->n_dists, &rng);
    SCENARIOS[find_scenario(o->scenario)].plan(w, o, &rng);
    return true;
}

static double rate_at(const gen_world *w, size_t dist, int minute)
{
    double rate = w->dists[dist].base_rate;
    for (size_t i = 0; i < w->n_anomalies; i++) {
        const gen_anomaly *a = &w->anomalies[i];
        if (a->dist == dist && minute >= a->start_minute && minute < a->end_minute)
            rate *= a->multiplier;
    }
    return rate;
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
    unsigned header_count;
} gen_request;

/* The region prefixes are two groups; six random groups complete the address. */
static void write_ipv6(char *dst, size_t cap, const char *prefix, gen_rng *r)
{
    int n = snprintf(dst, cap, "%s", prefix);
    for (int i = 0; i < 6 && n > 0 && (size_t)n < cap; i++)
        n += snprintf(dst + n, cap - (size_t)n, ":%x", (unsigned)rng_below(r, 0x10000));
}

static void pick_client(gen_request *q, gen_rng *r)
{
    q->region = PICK_WEIGHTED(r, REGIONS, ARRAY_LEN(REGIONS), gen_region);
    size_t k = rng_below(r, 3);
    q->edge_location = q->region->pops[k];
    q->asn = q->region->asns[rng_below(r, 3)];
    q->ipv6 = rng_chance(r, 0.18);
    if (q->ipv6)
        write_ipv6(q->c_ip, sizeof q->c_ip, q->region->v6_prefix, r);
    else
        snprintf(q->c_ip, sizeof q->c_ip, "%u.%u.%u.%u", q->region->v4_first[rng_below(r, 2)],
                 (unsigned)rng_below(r, 256), (unsigned)rng_below(r, 256), (unsigned)rng_range(r, 1, 254));
    /* A few viewers come through a proxy that reports the original address. */
    if (rng_chance(r, 0.06))
        snprintf(q->xff, sizeof q->xff, "%u.%u.%u.%u", 10u, (unsigned)rng_below(r, 256), (unsigned)rng_below(r, 256),
                 (unsigned)rng_range(r, 1, 254));
    else
        snprintf(q->xff, sizeof q->xff, "-");
    q->c_port = (unsigned)rng_range(r, 1024, 65535);
}

static void write_stem(gen_request *q, gen_rng *r)
{
    char *s = q->stem;
    size_t cap = sizeof q->stem;
    uint32_t salt = q->dist->asset_salt;
    switch (q->asset->kind) {
    case ASSET_HTML: {
        unsigned page = (unsigned)rng_below(r, 3);
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
        size_t b = rng_below(r, ARRAY_LEN(JS_BUNDLES));
        snprintf(s, cap, "/static/js/%s.%08x.js", JS_BUNDLES[b], (unsigned)mix64(salt + b) & 0xffffffffu);
        break;
    }
    case ASSET_CSS:
        snprintf(s, cap, "/static/css/site.%08x.css", (unsigned)(mix64(salt) & 0xffffffffu));
        break;
    case ASSET_IMAGE:
        snprintf(s, cap, "/images/products/%u.webp?w=%u&q=80", (unsigned)rng_range(r, 10000, 99999),
                 320u << rng_below(r, 3));
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
                 (unsigned)rng_below(r, 900));
        break;
    case ASSET_PLAYLIST:
        snprintf(s, cap, "/media/vod/%u/index.m3u8?token=%08x", (unsigned)rng_range(r, 1000, 1400),
                 (unsigned)(rng_next(r) & 0xffffffffu));
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

static void pick_agent(gen_request *q, gen_rng *r)
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
    double v = rng_unit(r);
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

/* Chooses status and cache result together, so they stay consistent. */
static void pick_outcome(gen_request *q, gen_rng *r)
{
    const gen_asset *a = q->asset;
    double u = rng_unit(r);
    q->origin_fbl = q->origin_lbl = -1;
    q->range_start = q->range_end = -1;
    q->etag[0] = '\0';
    if (u < 0.03) {
        const gen_error_kind *e = PICK_WEIGHTED(r, ERROR_KINDS, ARRAY_LEN(ERROR_KINDS), gen_error_kind);
        q->status = e->status;
        q->result = "Error";
        q->detailed = e->detailed;
        q->origin_fbl = e->from_origin ? rng_uniform(r, 0.02, e->status >= 500 ? 4.0 : 0.3) : -1;
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
    double c = rng_unit(r);
    if (c < a->hit_ratio)
        q->result = "Hit";
    else if (c < a->hit_ratio + (1.0 - a->hit_ratio) * 0.15 && a->hit_ratio > 0)
        q->result = "RefreshHit";
    else
        q->result = "Miss";
    q->detailed = q->result;
    if (strcmp(q->result, "Hit") != 0)
        q->origin_fbl = rng_uniform(r, 0.015, 0.45);
    if (q->status == 304)
        rng_chars(r, HEX, q->etag, 16);
}

static void pick_sizes(gen_request *q, gen_rng *r)
{
    const gen_asset *a = q->asset;
    uint64_t size = rng_range(r, a->min_size, a->max_size);
    uint64_t headers = rng_range(r, 280, 520);
    q->content_type = a->content_type;
    q->content_len = (int64_t)size;
    uint64_t body = size;
    if (q->status == 206) {
        uint64_t chunk = 1u << 20;
        q->range_start = (int64_t)(rng_below(r, size / chunk + 1) * chunk);
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

static void pick_timings(gen_request *q, gen_rng *r)
{
    if (q->origin_fbl >= 0) {
        q->origin_lbl = q->origin_fbl + rng_uniform(r, 0.0, 0.08) + (double)q->sc_bytes / 40e6;
        q->ttfb = q->origin_fbl + rng_uniform(r, 0.001, 0.012);
    } else {
        q->ttfb = rng_uniform(r, 0.001, 0.030);
    }
    /* Transfer time from a per-viewer throughput between 2 and 60 MB/s. */
    q->time_taken = q->ttfb + (double)q->sc_bytes / rng_uniform(r, 2e6, 60e6);
}

static void pick_transport(gen_request *q, gen_rng *r)
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

/* Appends "Name:value%0A" to cs-headers and "Name%0A" to cs-header-names,
 * dropping headers that would cross CloudFront's 800-byte cap. */
static void add_header(gen_request *q, bool lower, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_header(gen_request *q, bool lower, const char *name, const char *fmt, ...)
{
    char lname[40];
    size_t n = strlen(name);
    for (size_t i = 0; i <= n && i < sizeof lname; i++)
        lname[i] = lower && name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] + 32) : name[i];
    lname[sizeof lname - 1] = '\0';
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    size_t used = strlen(q->headers), used_names = strlen(q->header_names);
    int w = snprintf(q->headers + used, sizeof q->headers - used, "%s:%s%%0A", lname, value);
    if (w < 0 || (size_t)w >= sizeof q->headers - used) {
        q->headers[used] = '\0';
        return;
    }
    snprintf(q->header_names + used_names, sizeof q->header_names - used_names, "%s%%0A", lname);
    q->header_count++;
}

/* HTTP/2 and HTTP/3 viewers send lower-case names and CloudFront keeps the
 * viewer's case, so consumers must not match header names case-sensitively. */
static void build_headers(gen_request *q)
{
    bool lower = strcmp(q->proto_version, "HTTP/1.1") != 0;
    q->headers[0] = q->header_names[0] = '\0';
    q->header_count = 0;
    add_header(q, lower, "Host", "%s", q->host);
    add_header(q, lower, "User-Agent", "%s", q->user_agent);
    add_header(q, lower, "Accept", "%s", q->asset->accept);
    if (q->accept_encoding)
        add_header(q, lower, "Accept-Encoding", "%s", q->accept_encoding);
    if (q->accept_language)
        add_header(q, lower, "Accept-Language", "%s", q->accept_language);
    if (q->referer[0])
        add_header(q, lower, "Referer", "%s", q->referer);
    if (q->cookie[0])
        add_header(q, lower, "Cookie", "%s", q->cookie);
    if (q->range_start >= 0)
        add_header(q, lower, "Range", "bytes=%" PRId64 "-%" PRId64, q->range_start, q->range_end);
    if (q->etag[0])
        add_header(q, lower, "If-None-Match", "%%22%s%%22", q->etag);
    if (!lower)
        add_header(q, lower, "Connection", "keep-alive");
}

static void build_request(gen_request *q, const gen_dist *d, int64_t ts_ms, gen_rng *r)
{
    q->ts_ms = ts_ms;
    q->dist = d;
    const gen_asset_set *pa = &PROFILE_ASSETS[d->profile];
    q->asset = PICK_WEIGHTED(r, pa->assets, pa->n, gen_asset);
    q->method = q->asset->method;
    if (strcmp(q->method, "GET") == 0 && rng_chance(r, 0.02))
        q->method = "HEAD";
    pick_client(q, r);
    write_stem(q, r);
    pick_agent(q, r);
    pick_outcome(q, r);
    pick_sizes(q, r);
    pick_timings(q, r);
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

static const char *dash(const char *s)
{
    return s && *s ? s : "-";
}

static void field_seconds(gen_line *l, double s)
{
    if (s < 0)
        field(l, "-");
    else
        field(l, "%.3f", s);
}

static void field_int(gen_line *l, int64_t v)
{
    if (v < 0)
        field(l, "-");
    else
        field(l, "%" PRId64, v);
}

/* Fields 1-13 of the default set: timestamp .. x-host-header. */
static void write_request_fields(gen_line *l, const gen_request *q)
{
    field(l, "%" PRId64 ".%03d", q->ts_ms / 1000, (int)(q->ts_ms % 1000));
    field(l, "%s", q->c_ip);
    if (l->all) /* s-ip: the edge server that answered */
        field(l, "18.160.%u.%u", (unsigned)(l->salt >> 8 & 0xff), (unsigned)(l->salt >> 16 & 0xff));
    field_seconds(l, q->ttfb);
    field(l, "%d", q->status);
    field(l, "%" PRIu64, q->sc_bytes);
    field(l, "%s", q->method);
    field(l, "%s", q->protocol);
    field(l, "%s", q->host);
    field(l, "%s", q->stem);
    field(l, "%" PRIu64, q->cs_bytes);
    field(l, "%s", q->edge_location);
    field(l, "%s", q->request_id);
    field(l, "%s", q->dist->domain);
}

/* Fields 14-31: time-taken .. sc-range-end. */
static void write_response_fields(gen_line *l, const gen_request *q)
{
    field_seconds(l, q->time_taken);
    field(l, "%s", q->proto_version);
    field(l, "%s", q->ipv6 ? "IPv6" : "IPv4");
    field(l, "%s", q->user_agent);
    field(l, "%s", dash(q->referer));
    field(l, "%s", dash(q->cookie));
    field(l, "%s", dash(q->query));
    field(l, "%s", q->result);
    field(l, "%s", q->xff);
    field(l, "%s", q->ssl_protocol);
    field(l, "%s", q->ssl_cipher);
    field(l, "%s", q->result);
    field(l, "-"); /* fle-encrypted-fields: field-level encryption is off */
    field(l, "-"); /* fle-status */
    field(l, "%s", q->content_type);
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
        field(l, "%s", (z >> 20 & 31) == 0 ? "true" : "false");           /* cmcd-buffer-starvation */
        field(l, "%s", "movie-%2F7f3a");                                   /* cmcd-content-id */
        field(l, "%u", 4000);                                              /* cmcd-object-duration */
        field(l, "%u", 3000 + (unsigned)(z >> 24 & 0xfff));               /* cmcd-deadline */
        field(l, "%u", 20000 + (unsigned)(z >> 28 & 0xffff));             /* cmcd-measured-throughput */
        field(l, "%s", "..%2Fseg-101.m4s");                                /* cmcd-next-object-request */
        field(l, "-");                                                     /* cmcd-next-range-request */
        field(l, "%s", "av");                                              /* cmcd-object-type */
        field(l, "%s", "1");                                               /* cmcd-playback-rate */
        field(l, "%u", 15000);                                             /* cmcd-requested-maximum-throughput */
        field(l, "%s", "h");                                               /* cmcd-streaming-format */
        field(l, "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(z >> 32), (unsigned)(z >> 16 & 0xffff),
              (unsigned)(z >> 4 & 0xfff), (unsigned)(z >> 40 & 0xfff),
              (unsigned long long)(z & 0xffffffffffffULL));                /* cmcd-session-id */
        field(l, "%s", "v");                                               /* cmcd-stream-type */
        field(l, "%s", "false");                                           /* cmcd-startup */
        field(l, "%u", 6000);                                              /* cmcd-top-bitrate */
        field(l, "%s", "1");                                               /* cmcd-version */
    } else {
        for (int i = 0; i < 18; i++)
            field(l, "-");
    }
    field(l, "-"); /* r-host */
    field(l, "-"); /* sr-reason */
    field(l, "-"); /* x-edge-mqcs */
    field(l, "-"); /* distribution-tenant-id */
    if (q->protocol[0] == 'h' && q->protocol[4] == 's') /* connection-id: https only */
        field(l, "%016llx", (unsigned long long)mix64(z));
    else
        field(l, "-");
}

/* Fields 32-43: c-port .. asn. */
static void write_viewer_fields(gen_line *l, const gen_request *q)
{
    field(l, "%u", q->c_port);
    field(l, "%s", q->detailed);
    field(l, "%s", q->region->country);
    field(l, "%s", dash(q->accept_encoding));
    field(l, "%s", q->asset->accept);
    field(l, "%s", q->asset->behavior);
    field(l, "%s", q->headers);
    field(l, "%s", q->header_names);
    field(l, "%u", q->header_count);
    if (l->all) { /* primary-distribution-id, -dns-name: no continuous deployment */
        field(l, "-");
        field(l, "-");
    }
    field_seconds(l, q->origin_fbl);
    field_seconds(l, q->origin_lbl);
    field(l, "%u", q->asn);
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

/* Counts delivery reports; passed to librdkafka as the opaque, not global. */
typedef struct {
    uint64_t delivered;
    uint64_t failed;
    rd_kafka_resp_err_t first_error;
} gen_delivery;

typedef struct {
    FILE *file;
    bool close_file;
    ew_avro_file_writer *avro; /* --encoding avro --out FILE: a container file */
    rd_kafka_t *rk;
    const char *topic;
    const char *bootstrap;
    gen_delivery delivery;
    uint64_t records;
    uint64_t bytes;
    uint64_t good;
    uint64_t bad[EW_GEN_BAD_KINDS];
    const char *bad_reason[EW_GEN_BAD_KINDS];
} gen_sink;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    gen_delivery *d = opaque;
    if (msg->err) {
        if (d->failed++ == 0)
            d->first_error = msg->err;
    } else {
        d->delivered++;
    }
}

static bool set_conf(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        ew_error("gen: kafka config %s=%s: %s", key, value, err);
        return false;
    }
    return true;
}

static bool open_kafka(gen_sink *s, const char *bootstrap, const char *topic)
{
    /* Small linger batches well without delaying a short run; the flush
     * window bounds message.timeout.ms so a dead broker fails the run. */
    static const char *const settings[][2] = {
        {"linger.ms", "50"},
        {"batch.num.messages", "10000"},
        {"compression.type", "none"},
        {"message.timeout.ms", "30000"},
        {"client.id", "edgewatch-gen"},
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool ok = set_conf(conf, "bootstrap.servers", bootstrap);
    for (size_t i = 0; ok && i < ARRAY_LEN(settings); i++)
        ok = set_conf(conf, settings[i][0], settings[i][1]);
    if (!ok) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &s->delivery);
    char err[512];
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        ew_error("gen: cannot create kafka producer: %s", err);
        return false;
    }
    s->topic = topic;
    s->bootstrap = bootstrap;
    return true;
}

static bool open_sink(gen_sink *s, const gen_opts *o)
{
    memset(s, 0, sizeof *s);
    if (o->to_kafka)
        return open_kafka(s, o->to_kafka, o->topic);
    if (o->encoding == EW_GEN_AVRO) {
        s->avro = ew_avro_file_writer_open(o->out, ew_schema_cloudfront_realtime_log, o->avro_deflate);
        if (!s->avro)
            ew_error("gen: cannot write %s: %s", o->out, strerror(errno));
        return s->avro != NULL;
    }
    if (strcmp(o->out, "-") == 0) {
        s->file = stdout;
        return true;
    }
    s->file = fopen(o->out, "w");
    if (!s->file) {
        ew_error("gen: cannot open %s: %s", o->out, strerror(errno));
        return false;
    }
    s->close_file = true;
    return true;
}

static bool produce(gen_sink *s, const char *line, size_t len, const char *key)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(s->topic), RD_KAFKA_V_KEY((void *)key, GEN_KEY_LEN),
            RD_KAFKA_V_VALUE((void *)line, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_poll(s->rk, 0);
            return true;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            ew_error("gen: produce to %s failed: %s", s->topic, rd_kafka_err2str(err));
            return false;
        }
        /* The local queue is full: serve delivery reports to drain it. */
        rd_kafka_poll(s->rk, 100);
        if (s->delivery.failed)
            return false;
    }
}

static bool sink_write(gen_sink *s, const char *line, size_t len, const char *key)
{
    s->records++;
    s->bytes += len;
    if (s->rk)
        return produce(s, line, len, key) && s->delivery.failed == 0;
    if (s->avro) {
        if (!ew_avro_file_writer_add(s->avro, (const uint8_t *)line, len)) {
            ew_error("gen: write failed: %s", strerror(errno));
            return false;
        }
        return true;
    }
    if (fwrite(line, 1, len, s->file) != len || putc('\n', s->file) == EOF) {
        ew_error("gen: write failed: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool finish_kafka(gen_sink *s)
{
    rd_kafka_flush(s->rk, GEN_FLUSH_TIMEOUT_MS);
    uint64_t pending = (uint64_t)rd_kafka_outq_len(s->rk);
    bool ok = pending == 0 && s->delivery.failed == 0;
    if (!ok)
        ew_error("gen: %" PRIu64 " of %" PRIu64 " messages not delivered to topic %s at %s (%" PRIu64
                 " failed: %s; %" PRIu64 " still queued after %d s)",
                 s->records - s->delivery.delivered, s->records, s->topic, s->bootstrap, s->delivery.failed,
                 s->delivery.failed ? rd_kafka_err2str(s->delivery.first_error) : "-", pending,
                 GEN_FLUSH_TIMEOUT_MS / 1000);
    rd_kafka_destroy(s->rk);
    s->rk = NULL;
    return ok;
}

/* Flushes and closes; returns false if anything written was lost. */
static bool close_sink(gen_sink *s, bool ok)
{
    if (s->rk)
        return finish_kafka(s) && ok;
    if (s->avro) {
        if (!ew_avro_file_writer_close(s->avro)) {
            ew_error("gen: write failed: %s", strerror(errno));
            ok = false;
        }
        s->avro = NULL;
        return ok;
    }
    if (!s->file)
        return ok;
    if (fflush(s->file) != 0) {
        ew_error("gen: write failed: %s", strerror(errno));
        ok = false;
    }
    if (s->close_file && fclose(s->file) != 0) {
        ew_error("gen: close failed: %s", strerror(errno));
        ok = false;
    }
    s->file = NULL;
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
static size_t draw_count(double rate, gen_rng *r)
{
    double n = rate + sqrt(rate) * rng_normal(r);
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

/* Draws every request of one minute; returns how many, or SIZE_MAX on OOM. */
static size_t plan_minute(const gen_world *w, const gen_opts *o, int minute, gen_slot **slots, size_t *cap)
{
    gen_rng rng = rng_derive(o->seed, STREAM_TRAFFIC, (uint64_t)minute);
    int64_t minute_start = o->start_ms + (int64_t)minute * GEN_MINUTE_MS;
    size_t n = 0;
    for (size_t d = 0; d < w->n_dists; d++) {
        size_t count = draw_count(rate_at(w, d, minute), &rng);
        if (!reserve_slots(slots, cap, n + count))
            return SIZE_MAX;
        for (size_t i = 0; i < count; i++) {
            gen_slot s = {minute_start + (int64_t)rng_below(&rng, GEN_MINUTE_MS), (uint32_t)d, rng_next(&rng)};
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

static bool emit_slot(const gen_world *w, const gen_opts *o, const gen_slot *slot, gen_sink *sink)
{
    gen_rng rng = {slot->seed};
    gen_request q;
    build_request(&q, &w->dists[slot->dist], slot->ts_ms, &rng);
    char line[GEN_LINE_MAX];
    size_t len = format_request(&q, o->all_fields, mix64(slot->seed ^ 0x5a17), line, sizeof line);
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
        if (sink->rk)
            rd_kafka_poll(sink->rk, (int)ahead); /* serve delivery reports meanwhile */
        else
            nanosleep(&(struct timespec){ahead / 1000, (long)(ahead % 1000) * 1000000L}, NULL);
    }
}

static bool generate(const gen_world *w, const gen_opts *o, gen_sink *sink)
{
    gen_slot *slots = NULL;
    size_t cap = 0;
    bool ok = true;
    int64_t t0 = ew_mono_ms();
    for (int m = 0; ok && m < o->minutes; m++) {
        size_t n = plan_minute(w, o, m, &slots, &cap);
        if (n == SIZE_MAX) {
            ew_error("gen: out of memory");
            ok = false;
            break;
        }
        qsort(slots, n, sizeof *slots, slot_cmp);
        for (size_t i = 0; ok && i < n; i++) {
            ok = emit_slot(w, o, &slots[i], sink);
            throttle(o, sink, t0);
        }
    }
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

static bool write_metadata(const gen_world *w, const char *path)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < w->n_dists; i++) {
        const gen_dist *d = &w->dists[i];
        json_t *o = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s}", "id", d->id, "domain", d->domain, "aliases",
                              d->alias, "project", d->project, "owner", d->owner, "route", d->route);
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

static bool write_labels(const gen_world *w, const gen_opts *o, const char *path)
{
    json_t *lines = json_array();
    for (size_t i = 0; lines && i < w->n_anomalies; i++) {
        const gen_anomaly *a = &w->anomalies[i];
        const gen_dist *d = &w->dists[a->dist];
        json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i}", "scenario", o->scenario, "rule",
                              a->rule, "entity_type", "distribution", "entity_id", d->id, "domain", d->domain,
                              "project", d->project, "start",
                              (json_int_t)(o->start_ms + (int64_t)a->start_minute * GEN_MINUTE_MS), "end",
                              (json_int_t)(o->start_ms + (int64_t)a->end_minute * GEN_MINUTE_MS), "multiplier",
                              (int)a->multiplier);
        if (!v || json_array_append_new(lines, v) != 0) {
            json_decref(lines);
            lines = NULL;
        }
    }
    if (!lines) {
        ew_error("gen: out of memory building labels");
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
            "  --seed N               PRNG seed (default 1)\n"
            "  --distributions N      number of distributions, 1-%d (default 12)\n"
            "  --minutes M            minutes of traffic, 1-%d (default 60)\n"
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
    for (size_t i = 0; i < ARRAY_LEN(SCENARIOS); i++)
        fprintf(f, "  %-22s %s\n", SCENARIOS[i].name, SCENARIOS[i].summary);
}

static bool parse_bounded(const char *flag, const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!ew_parse_u64(ew_str_make(text, strlen(text)), out) || *out < lo || *out > hi) {
        ew_error("gen: %s needs an integer from %" PRIu64 " to %" PRIu64 ", got '%s'", flag, lo, hi, text);
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
    else if (strcmp(flag, "--topic") == 0)
        o->topic = value;
    else if (strcmp(flag, "--seed") == 0) {
        if (!parse_bounded(flag, value, 0, UINT64_MAX, &o->seed))
            return false;
    } else if (strcmp(flag, "--distributions") == 0) {
        if (!parse_bounded(flag, value, 1, GEN_MAX_DISTRIBUTIONS, &v))
            return false;
        o->distributions = (size_t)v;
    } else if (strcmp(flag, "--minutes") == 0) {
        if (!parse_bounded(flag, value, 1, GEN_MAX_MINUTES, &v))
            return false;
        o->minutes = (int)v;
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
        if (!parse_bounded(flag, value, 0, INT32_MAX, &v))
            return false;
        o->schema_id = (int32_t)v;
    } else if (strcmp(flag, "--bad-every") == 0) {
        if (!parse_bounded(flag, value, 1, 1000000000, &o->bad_every))
            return false;
    } else if (strcmp(flag, "--rate") == 0) {
        if (!parse_bounded(flag, value, 1, 100000000, &o->rate))
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

/* Accepts "--flag value" and "--flag=value". */
static bool parse_args(gen_opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            o->help = true;
            return true;
        }
        if (strncmp(arg, "--", 2) != 0) {
            ew_error("gen: unexpected argument '%s' (see edgewatch gen --help)", arg);
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
        if (!apply_flag(o, flag, value))
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
        ew_error("gen: unknown scenario '%s' (known: %s)", o->scenario, known);
        return false;
    }
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
    ew_info("gen: scenario=%s records=%" PRIu64 " bytes=%" PRIu64 " distributions=%zu anomaly=%s (%s) range=%s..%s to=%s%s",
            o->scenario, s->records, s->bytes, w->n_dists, spiked ? spiked->id : "-", spiked ? spiked->project : "-",
            from, to, o->to_kafka ? "kafka:" : "", o->to_kafka ? o->topic : o->out);
}

static int run(const gen_opts *o)
{
    gen_world w;
    if (!build_world(&w, o)) {
        ew_error("gen: out of memory");
        return EW_EXIT_RUNTIME;
    }
    bool ok = (!o->metadata_out || write_metadata(&w, o->metadata_out)) && (!o->labels || write_labels(&w, o, o->labels));
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

int ew_cmd_gen(int argc, char **argv)
{
    gen_opts o = {.seed = 1, .distributions = 12, .minutes = 60, .schema_id = 1};
    if (!parse_args(&o, argc, argv))
        return EW_EXIT_USAGE;
    if (o.help) {
        usage(stdout);
        return EW_EXIT_OK;
    }
    if (!check_opts(&o))
        return EW_EXIT_USAGE;
    return run(&o);
}
