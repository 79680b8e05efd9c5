/* decode_avro_file.c -- Avro object container files, for replays of
 * archives written by Kinesis Firehose, Spark or any Avro writer.
 *
 * Layout (Avro 1.11 specification, "Object Container Files"): the magic
 * "Obj\x01"; a map of metadata (avro.schema: the writer schema's JSON,
 * avro.codec: "null" or "deflate"); a 16-byte sync marker; then blocks of
 * (object count, byte size, the objects, the sync marker). Each block is
 * read whole (inflated for deflate, raw RFC 1951) and its datums are
 * decoded one after the other with the writer schema, through the same
 * record builders as every other encoding. A block larger than 64 MiB, a
 * wrong sync marker or another codec makes the file broken: the records
 * read so far stand, and the caller reports the rest.
 */
#include "edgewatch/decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define MAX_BLOCK (64u << 20)
#define MAX_META 16           /* metadata map blocks */
#define MAX_META_ENTRIES 1024 /* entries in one block */

struct ew_avro_file {
    FILE *fp;
    ew_avro_schema *schema;
    bool deflate;
    uint8_t sync[16];
    uint8_t *block, *raw;
    size_t block_len, block_cap, raw_cap, pos;
    int64_t left; /* objects still to decode in the block */
    int ended;    /* 1 while reading; then 0 (end) or -1 (broken), for good */
};

bool ew_avro_file_magic(const void *buf, size_t len) { return len >= 4 && memcmp(buf, "Obj\x01", 4) == 0; }

/* Zig-zag varint long, as Avro writes counts and sizes. */
static bool read_long(FILE *fp, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        int c = fgetc(fp);
        if (c == EOF)
            return false;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return true;
        }
    }
    return false;
}

/* An Avro bytes/string value, malloc'd and NUL-terminated. */
static char *read_bytes(FILE *fp, size_t max, size_t *len)
{
    int64_t n;
    if (!read_long(fp, &n) || n < 0 || (uint64_t)n > max)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, fp) != (size_t)n) {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    *len = (size_t)n;
    return s;
}

static bool take_meta(ew_avro_file *f, const char *key, char *value, size_t len, char *err, size_t errcap)
{
    if (strcmp(key, "avro.codec") == 0) {
        f->deflate = strcmp(value, "deflate") == 0;
        if (!f->deflate && strcmp(value, "null") != 0) {
            snprintf(err, errcap, "Avro codec \"%s\" is not supported (null and deflate are)", value);
            return false;
        }
    } else if (strcmp(key, "avro.schema") == 0 && !f->schema) {
        char why[200];
        if (!(f->schema = ew_avro_schema_compile(value, len, why, sizeof why))) {
            snprintf(err, errcap, "writer schema: %s", why);
            return false;
        }
    }
    return true;
}

static bool read_header(ew_avro_file *f, char *err, size_t errcap)
{
    char magic[4];
    if (fread(magic, 1, 4, f->fp) != 4 || !ew_avro_file_magic(magic, 4)) {
        snprintf(err, errcap, "not an Avro object container file");
        return false;
    }
    int64_t count;
    for (int blocks = 0; read_long(f->fp, &count) && count != 0 && blocks < MAX_META; blocks++) {
        int64_t size;
        if (count < -MAX_META_ENTRIES || count > MAX_META_ENTRIES || (count < 0 && !read_long(f->fp, &size)))
            break;
        for (int64_t i = 0; i < (count < 0 ? -count : count); i++) {
            size_t klen, vlen;
            char *key = read_bytes(f->fp, 256, &klen), *value = key ? read_bytes(f->fp, 1u << 20, &vlen) : NULL;
            bool ok = key && value && take_meta(f, key, value, vlen, err, errcap);
            if (!key || !value)
                snprintf(err, errcap, "broken header metadata");
            free(key);
            free(value);
            if (!ok)
                return false;
        }
    }
    if (count != 0 || fread(f->sync, 1, 16, f->fp) != 16) {
        snprintf(err, errcap, "broken header");
        return false;
    }
    if (!f->schema) {
        snprintf(err, errcap, "the header has no avro.schema");
        return false;
    }
    return true;
}

ew_avro_file *ew_avro_file_open(const char *path, char *err, size_t errcap)
{
    ew_avro_file *f = calloc(1, sizeof *f);
    f->ended = 1;
    if (!(f->fp = fopen(path, "rb"))) {
        snprintf(err, errcap, "cannot open %s", path);
        free(f);
        return NULL;
    }
    if (!read_header(f, err, errcap)) {
        ew_avro_file_close(f);
        return NULL;
    }
    return f;
}

void ew_avro_file_close(ew_avro_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    ew_avro_schema_free(f->schema);
    free(f->block);
    free(f->raw);
    free(f);
}

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    uint8_t *b = realloc(*buf, need);
    if (!b)
        return false;
    *buf = b;
    *cap = need;
    return true;
}

/* Raw deflate (no zlib header) into f->block; output grows as needed. */
static bool inflate_block(ew_avro_file *f, size_t in_len)
{
    z_stream z = {.next_in = f->raw, .avail_in = (uInt)in_len};
    if (inflateInit2(&z, -15) != Z_OK)
        return false;
    int rc = Z_OK;
    f->block_len = 0;
    while (rc == Z_OK) {
        if (!grow(&f->block, &f->block_cap, f->block_len + 65536) || f->block_len > MAX_BLOCK) {
            rc = Z_MEM_ERROR;
            break;
        }
        z.next_out = f->block + f->block_len;
        z.avail_out = (uInt)(f->block_cap - f->block_len);
        rc = inflate(&z, Z_NO_FLUSH);
        f->block_len = f->block_cap - z.avail_out;
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    inflateEnd(&z);
    return rc == Z_STREAM_END;
}

/* 1: a block is ready; 0: clean end of file; -1: broken. */
static int next_block(ew_avro_file *f, char *err, size_t errcap)
{
    int64_t count, size;
    if (!read_long(f->fp, &count))
        return feof(f->fp) ? 0 : -1;
    if (count < 0 || !read_long(f->fp, &size) || size < 0 || (uint64_t)size > MAX_BLOCK) {
        snprintf(err, errcap, "broken block header");
        return -1;
    }
    uint8_t **dst = f->deflate ? &f->raw : &f->block;
    size_t *cap = f->deflate ? &f->raw_cap : &f->block_cap;
    uint8_t sync[16];
    if (!grow(dst, cap, (size_t)size + 1) || fread(*dst, 1, (size_t)size, f->fp) != (size_t)size ||
        fread(sync, 1, 16, f->fp) != 16 || memcmp(sync, f->sync, 16) != 0) {
        snprintf(err, errcap, "truncated block or wrong sync marker");
        return -1;
    }
    f->block_len = (size_t)size;
    if (f->deflate && !inflate_block(f, (size_t)size)) {
        snprintf(err, errcap, "a deflate block does not inflate");
        return -1;
    }
    f->pos = 0;
    f->left = count;
    return 1;
}

int ew_avro_file_next(ew_avro_file *f, ew_cf_record *out, ew_decode_error *e, char *err, size_t errcap)
{
    if (f->ended <= 0) {
        snprintf(err, errcap, "%s", f->ended ? "the file is broken" : "end of file");
        return f->ended;
    }
    while (f->left == 0) {
        int rc = next_block(f, err, errcap);
        if (rc <= 0)
            return f->ended = rc;
    }
    size_t used = 0;
    *e = ew_cf_decode_avro_prefix(f->schema, f->block + f->pos, f->block_len - f->pos, out, &used);
    f->left--;
    if (*e == EW_DECODE_AVRO) {
        /* The datum's end is unknown, so are the others' in this block. */
        f->left = 0;
        return 1;
    }
    f->pos += used;
    return 1;
}
