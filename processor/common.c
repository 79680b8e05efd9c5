/* common.c -- string views, hashing, time parsing and logging.
 *
 * Time parsing accepts exactly what the CLI contract promises (RFC 3339 or
 * epoch seconds) and durations in the short form operators type ("3h").
 */
#include "edgewatch/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool ew_str_eq(ew_str s, const char *cstr)
{
    size_t n = strlen(cstr);
    return n == s.len && (n == 0 || memcmp(s.ptr, cstr, n) == 0);
}

char *ew_str_copy(ew_str s, char *dst, size_t cap)
{
    if (cap == 0)
        return dst;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
    return dst;
}

uint64_t ew_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

int64_t ew_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ew_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool ew_parse_duration_ms(const char *text, int64_t *out_ms)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (errno || end == text || !(v >= 0) || v > 1e12)
        return false;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60e3;
    else if (strcmp(end, "h") == 0)
        mult = 3600e3;
    else if (strcmp(end, "d") == 0)
        mult = 86400e3;
    else
        return false;
    *out_ms = (int64_t)(v * mult + 0.5);
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

int64_t ew_days_from_civil(int y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: avoids timegm's dependence on TZ. */
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

/* n digits at p as a number; -1 when one is not a digit. */
static int digits_value(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

bool ew_parse_date_days(ew_str t, int64_t *days)
{
    if (t.len < 10 || t.ptr[4] != '-' || t.ptr[7] != '-')
        return false;
    int y = digits_value(t.ptr, 4), m = digits_value(t.ptr + 5, 2), d = digits_value(t.ptr + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    *days = ew_days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

/* Fraction and zone after "YYYY-MM-DDTHH:MM:SS": [.digits][Z|+-HH:MM]. */
static bool parse_time_tail(const char *p, const char *end, bool zone_optional, int64_t *frac_ms, int64_t *offset_s)
{
    *frac_ms = 0;
    *offset_s = 0;
    if (p < end && *p == '.') {
        int n = 0;
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3)
                *frac_ms = *frac_ms * 10 + (*p - '0');
        if (n == 0)
            return false;
        for (; n < 3; n++)
            *frac_ms *= 10;
    }
    if (p == end)
        return zone_optional;
    if ((*p == 'Z' || *p == 'z') && p + 1 == end)
        return true;
    if ((*p != '+' && *p != '-') || end - p != 6 || p[3] != ':')
        return false;
    int oh = digits_value(p + 1, 2), om = digits_value(p + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59)
        return false;
    *offset_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
    return true;
}

bool ew_parse_rfc3339_ms(ew_str t, bool zone_optional, int64_t *out_ms)
{
    int64_t days, frac_ms, offset_s;
    const char *c = t.ptr;
    if (t.len < 19 || !ew_parse_date_days(ew_str_make(c, 10), &days) || (c[10] != 'T' && c[10] != 't' && c[10] != ' ') ||
        c[13] != ':' || c[16] != ':')
        return false;
    int h = digits_value(c + 11, 2), mi = digits_value(c + 14, 2), s = digits_value(c + 17, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60 ||
        !parse_time_tail(c + 19, c + t.len, zone_optional, &frac_ms, &offset_s))
        return false;
    *out_ms = (days * 86400 + h * 3600 + mi * 60 + s - offset_s) * 1000 + frac_ms;
    return true;
}

bool ew_parse_time_ms(const char *text, int64_t *out_ms)
{
    if (!text || !*text)
        return false;
    size_t n = strlen(text);
    if (all_digits(text, n) || (text[0] != '-' && strchr(text, '.') && !strchr(text, 'T') && !strchr(text, '-')))
        return ew_parse_seconds_ms(ew_str_make(text, n), out_ms);
    return ew_parse_rfc3339_ms(ew_str_make(text, n), false, out_ms);
}

char *ew_format_time(int64_t ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

bool ew_parse_u64(ew_str s, uint64_t *out)
{
    if (s.len == 0 || s.len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned c = (unsigned char)s.ptr[i] - '0';
        if (c > 9)
            return false;
        v = v * 10 + c;
    }
    *out = v;
    return true;
}

bool ew_parse_seconds_ms(ew_str s, int64_t *out_ms)
{
    size_t dot = s.len;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '.') {
            dot = i;
            break;
        }
    uint64_t whole;
    if (!ew_parse_u64(ew_str_make(s.ptr, dot), &whole) || whole > 253402300799ULL)
        return false;
    int64_t frac = 0;
    if (dot < s.len) {
        size_t digits = s.len - dot - 1;
        if (digits == 0 || digits > 9)
            return false;
        for (size_t i = 0; i < digits; i++) {
            unsigned c = (unsigned char)s.ptr[dot + 1 + i] - '0';
            if (c > 9)
                return false;
            if (i < 3)
                frac = frac * 10 + c;
        }
        for (size_t i = digits; i < 3; i++)
            frac *= 10;
    }
    *out_ms = (int64_t)whole * 1000 + frac;
    return true;
}

static ew_log_level threshold(void)
{
    const char *v = getenv("EDGEWATCH_LOG_LEVEL");
    if (!v)
        return EW_LOG_INFO;
    if (strcmp(v, "debug") == 0)
        return EW_LOG_DEBUG;
    if (strcmp(v, "warn") == 0)
        return EW_LOG_WARN;
    if (strcmp(v, "error") == 0)
        return EW_LOG_ERROR;
    return EW_LOG_INFO;
}

void ew_log(ew_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (level < threshold())
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, names[level], line);
}

void ew_set_error(char *err, size_t errcap, const char *fmt, ...)
{
    if (!err || errcap == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}
