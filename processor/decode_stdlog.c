/* decode_stdlog.c -- archived CloudFront standard log files, for replay.
 *
 * Standard logs are what people have in S3 when they want to know how a
 * setting would have behaved last month: hourly gzip objects named
 * <prefix>/<DistributionID>.YYYY-MM-DD-HH.<unique>.gz, a "#Fields:" header,
 * then TAB-separated lines in no particular time order. The distribution id
 * is only in the object name, so we take it from there (it wins over any
 * "distributionid" a v2 line carries); the columns change
 * over the years (early files end at time-taken), so we never assume an
 * order and map every file by its own "#Fields:" line. Standard logging v2
 * can also write one JSON object per line; those go to the JSON decoder.
 *
 * zlib's gzread reads gzip and plain files alike, so there is one code
 * path. Lines are read into a single buffer of max_line_bytes + 2 bytes
 * (room for the line, its '\r' and its '\n') allocated at open: the buffer
 * slides, a line is decoded where it lies, and the record's strings point
 * into it. Nothing allocates per line. A line that does not fit is skipped
 * to its end and reported as too long, so one bad line never costs more
 * than the buffer and never desynchronises the lines after it.
 */
#include "edgewatch/decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Current files have 33-35 columns; anything past this is not a log. */
#define STDLOG_MAX_COLUMNS 64
#define STDLOG_MAX_ID 64
#define STDLOG_MAX_LINE ((size_t)1 << 30)

struct ew_stdlog_reader {
    gzFile gz;
    char *path;               /* for messages */
    char *buf;                /* the line buffer: data in [start, end) */
    size_t cap, start, end;
    size_t scan;              /* bytes in [start, scan) hold no '\n' */
    size_t max_line;
    uint64_t line;            /* physical line number of the last line read */
    bool eof, failed;
    size_t n_columns;         /* 0 until a "#Fields:" line */
    int8_t slot_of_column[STDLOG_MAX_COLUMNS];
    bool has_field[EW_F_NEEDED];
    size_t id_len;            /* distribution id from the file name */
    char id[STDLOG_MAX_ID];
    char errmsg[256];         /* repeated after a failure */
};

/* Records a fatal error: the reader stays failed and says so again. */
static int fail(ew_stdlog_reader *rd, char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->errmsg, sizeof rd->errmsg, fmt, ap);
    va_end(ap);
    rd->failed = true;
    if (err && errcap)
        snprintf(err, errcap, "%s", rd->errmsg);
    return -1;
}

/* ---- file name ---- */

static bool all_of(const char *p, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !strchr(set, p[i]))
            return false;
    return true;
}

/* "YYYY-MM-DD-HH." */
static bool hour_stamp(const char *p)
{
    static const char digits[] = "0123456789";
    return all_of(p, 4, digits) && p[4] == '-' && all_of(p + 5, 2, digits) && p[7] == '-' &&
           all_of(p + 8, 2, digits) && p[10] == '-' && all_of(p + 11, 2, digits) && p[13] == '.';
}

ew_str ew_stdlog_distribution_from_name(const char *path)
{
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path ? path : "";
    size_t id = strspn(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    if (id == 0 || id > STDLOG_MAX_ID || base[id] != '.')
        return ew_str_make(base, 0);
    const char *stamp = base + id + 1;
    if (strlen(stamp) < 14 || !hour_stamp(stamp))
        return ew_str_make(base, 0);
    const char *unique = stamp + 14;
    size_t n = strlen(unique);
    if (n >= 3 && strcmp(unique + n - 3, ".gz") == 0)
        n -= 3;
    return ew_str_make(base, n ? id : 0);
}

/* ---- open and close ---- */

static gzFile open_gz(const char *path)
{
    if (strcmp(path, "-") != 0)
        return gzopen(path, "rb");
    int fd = dup(0); /* so closing the reader leaves stdin open */
    if (fd < 0)
        return NULL;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz)
        close(fd);
    return gz;
}

ew_stdlog_reader *ew_stdlog_open(const char *path, size_t max_line_bytes, char *err, size_t errcap)
{
    if (max_line_bytes == 0 || max_line_bytes > STDLOG_MAX_LINE) {
        snprintf(err, errcap, "%s: max line bytes must be 1..%zu, not %zu", path, STDLOG_MAX_LINE,
                 max_line_bytes);
        return NULL;
    }
    ew_stdlog_reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->path = strdup(path)) || !(rd->buf = malloc(max_line_bytes + 2))) {
        snprintf(err, errcap, "%s: out of memory", path);
        ew_stdlog_close(rd);
        return NULL;
    }
    errno = 0;
    if (!(rd->gz = open_gz(path))) {
        snprintf(err, errcap, "cannot open %s: %s", path, errno ? strerror(errno) : "out of memory");
        ew_stdlog_close(rd);
        return NULL;
    }
    gzbuffer(rd->gz, 128 * 1024);
    rd->cap = max_line_bytes + 2;
    rd->max_line = max_line_bytes;
    ew_str id = ew_stdlog_distribution_from_name(path);
    memcpy(rd->id, id.ptr, id.len);
    rd->id_len = id.len;
    return rd;
}

void ew_stdlog_close(ew_stdlog_reader *rd)
{
    if (!rd)
        return;
    if (rd->gz)
        gzclose(rd->gz);
    free(rd->buf);
    free(rd->path);
    free(rd);
}

uint64_t ew_stdlog_line(const ew_stdlog_reader *rd) { return rd->line; }

/* ---- lines ---- */

/* gzerror() says "<path>: <what>"; we name the path ourselves. */
static const char *zlib_message(const char *msg)
{
    const char *what = msg;
    for (const char *p = msg; (p = strstr(p, ": ")) != NULL; p += 2)
        what = p + 2;
    return what;
}

/* Moves what is left to the front and reads more after it: bytes read,
 * 0 at end of file, -1 on a read error or a truncated gzip stream. */
static int fill(ew_stdlog_reader *rd, char *err, size_t errcap)
{
    if (rd->start) {
        memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
        rd->end -= rd->start;
        rd->scan -= rd->start;
        rd->start = 0;
    }
    if (rd->eof)
        return 0;
    int n = gzread(rd->gz, rd->buf + rd->end, (unsigned)(rd->cap - rd->end));
    int errnum = Z_OK;
    const char *msg = n <= 0 ? gzerror(rd->gz, &errnum) : "";
    if (errnum == Z_ERRNO)
        return fail(rd, err, errcap, "read %s: %s", rd->path, strerror(errno));
    if (n < 0 || errnum == Z_BUF_ERROR)
        return fail(rd, err, errcap, "read %s: %s (after line %llu)", rd->path, zlib_message(msg),
                    (unsigned long long)rd->line);
    rd->eof = n == 0;
    rd->end += (size_t)n;
    return n;
}

/* Hands out [start, start + len) as the next line and moves past it. */
static int take(ew_stdlog_reader *rd, const char **line, size_t *len, size_t n, size_t skip)
{
    *line = rd->buf + rd->start;
    *len = n;
    rd->start = rd->scan = rd->start + n + skip;
    rd->line++;
    return 1;
}

/* The buffer is full and holds no '\n': drops the line up to its end. */
static int skip_long_line(ew_stdlog_reader *rd, const char **line, size_t *len, char *err, size_t errcap)
{
    for (;;) {
        rd->start = rd->end = rd->scan = 0;
        int n = fill(rd, err, errcap);
        if (n < 0)
            return -1;
        const char *nl = n ? memchr(rd->buf, '\n', rd->end) : NULL;
        if (n == 0 || nl) {
            size_t rest = nl ? (size_t)(nl - rd->buf) + 1 : 0;
            rd->line++;
            rd->start = rd->scan = rest;
            *line = NULL; /* too long: there is nothing to look at */
            *len = 0;
            return 1;
        }
    }
}

/* Next physical line without its '\n' (*line NULL when it was too long to
 * keep): 1, 0 at end of file, -1 on error. */
static int next_line(ew_stdlog_reader *rd, const char **line, size_t *len, char *err, size_t errcap)
{
    for (;;) {
        const char *nl = memchr(rd->buf + rd->scan, '\n', rd->end - rd->scan);
        if (nl)
            return take(rd, line, len, (size_t)(nl - rd->buf) - rd->start, 1);
        rd->scan = rd->end;
        if (rd->end - rd->start == rd->cap)
            return skip_long_line(rd, line, len, err, errcap);
        int n = fill(rd, err, errcap);
        if (n < 0)
            return -1;
        if (n == 0)
            return rd->end > rd->start ? take(rd, line, len, rd->end - rd->start, 0) : 0;
    }
}

/* ---- header and data lines ---- */

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* "#Fields: date time ..." (p and n are what follows the colon). */
static int set_fields(ew_stdlog_reader *rd, const char *p, size_t n, char *err, size_t errcap)
{
    const char *end = p + n;
    size_t cols = 0;
    memset(rd->has_field, 0, sizeof rd->has_field);
    for (;;) {
        while (p < end && is_blank(*p))
            p++;
        if (p == end)
            break;
        const char *name = p;
        while (p < end && !is_blank(*p))
            p++;
        if (cols == STDLOG_MAX_COLUMNS)
            return fail(rd, err, errcap, "%s:%llu: #Fields lists more than %d fields", rd->path,
                        (unsigned long long)rd->line, STDLOG_MAX_COLUMNS);
        int slot = ew_stdlog_field_slot(ew_str_make(name, (size_t)(p - name)));
        rd->slot_of_column[cols++] = (int8_t)slot;
        if (slot >= 0)
            rd->has_field[slot] = true;
    }
    if (cols == 0)
        return fail(rd, err, errcap, "%s:%llu: #Fields lists no fields", rd->path, (unsigned long long)rd->line);
    rd->n_columns = cols;
    return 0;
}

/* "#Fields:" maps the columns; "#Version:" and other comments say nothing
 * the decoder needs. */
static int comment(ew_stdlog_reader *rd, const char *line, size_t len, char *err, size_t errcap)
{
    static const char fields[] = "#Fields:";
    size_t k = sizeof fields - 1;
    if (len >= k && memcmp(line, fields, k) == 0)
        return set_fields(rd, line + k, len - k, err, errcap);
    return 0;
}

/* The object name is where CloudFront puts the distribution id, so when
 * the name has that shape it wins over a "distributionid" value in the
 * record (decode.h): a file is one distribution's, whatever its lines say. */
static bool apply_file_id(const ew_stdlog_reader *rd, ew_cf_record *out)
{
    if (!rd->id_len)
        return false;
    out->distribution_id = ew_str_make(rd->id, rd->id_len);
    return true;
}

static ew_decode_error decode_tsv(const ew_stdlog_reader *rd, const char *line, size_t len, ew_cf_record *out)
{
    ew_decode_error e = ew_cf_put_columns(rd->slot_of_column, rd->n_columns, rd->has_field, line, len, out);
    if (e != EW_DECODE_OK)
        return e;
    apply_file_id(rd, out);
    return ew_cf_finish(out);
}

/* The JSON decoder finishes the record itself, so the file name's id is
 * set afterwards; a record that failed only for want of an identity is
 * finished again with it. */
static ew_decode_error decode_json(const ew_stdlog_reader *rd, const char *line, size_t len, ew_cf_record *out)
{
    ew_decode_error e = ew_cf_decode_json(EW_JSON_STANDARD, line, len, rd->max_line, out);
    if (e != EW_DECODE_OK && e != EW_DECODE_NO_IDENTITY)
        return e;
    if (apply_file_id(rd, out) && e == EW_DECODE_NO_IDENTITY)
        return ew_cf_finish(out);
    return e;
}

static ew_decode_error decode_line(const ew_stdlog_reader *rd, const char *line, size_t len, ew_cf_record *out)
{
    if (line[0] == '{')
        return decode_json(rd, line, len, out);
    ew_cf_record_reset(out);
    if (rd->n_columns == 0)
        return EW_DECODE_COLUMNS;
    return decode_tsv(rd, line, len, out);
}

int ew_stdlog_next(ew_stdlog_reader *rd, ew_cf_record *out, ew_decode_error *e, char *err, size_t errcap)
{
    if (rd->failed) {
        if (err && errcap)
            snprintf(err, errcap, "%s", rd->errmsg);
        return -1;
    }
    for (;;) {
        const char *line;
        size_t len;
        int r = next_line(rd, &line, &len, err, errcap);
        if (r <= 0)
            return r;
        if (len && line[len - 1] == '\r')
            len--;
        if (line && rd->line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
            line += 3, len -= 3; /* a byte-order mark from some editor */
        if (!line || len > rd->max_line) {
            ew_cf_record_reset(out);
            *e = EW_DECODE_TOO_LONG;
            return 1;
        }
        if (len == 0)
            continue;
        if (line[0] == '#') {
            if (comment(rd, line, len, err, errcap) < 0)
                return -1;
            continue;
        }
        *e = decode_line(rd, line, len, out);
        return 1;
    }
}
