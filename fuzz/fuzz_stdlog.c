/* fuzz_stdlog.c -- libFuzzer target for archived standard-log files
 * (ew_stdlog_open / ew_stdlog_next / ew_stdlog_close).
 *
 * The input is the whole file, gzip or plain. It is written to a memfd that
 * is reached through a symlink named like a real object,
 * /tmp/edgewatch-fuzz-stdlog/<pid>/E2FUZZ.2024-01-01-00.x, so the reader
 * sees a file name that carries a distribution id, and every record is
 * read with a small max_line_bytes (512). Checks: the invariants of
 * fuzz_check.h on every OK record (strings are read byte by byte, so ASan
 * catches any that outlive the reader's buffer), line numbers that only
 * grow, end of file that stays the end, and the file name's distribution
 * id on every record.
 * ew_stdlog_distribution_from_name is fuzzed on the side with the input's
 * first line as a path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_check.h"

#define MAX_LINE 512
#define OBJECT_NAME "E2FUZZ.2024-01-01-00.x"
#define DIST_ID "E2FUZZ"

/* Set once in LLVMFuzzerInitialize and only read afterwards (the file's
 * contents are rewritten per input): the memfd, the symlink's path and
 * whether the reader takes the id from that name. Static state of this
 * kind is acceptable in a fuzz harness. */
static int memfd = -1;
static char tmpdir[64];
static char path[128];
static bool name_gives_id;

#define PARENT "/tmp/edgewatch-fuzz-stdlog"

static void cleanup(void)
{
    unlink(path);
    rmdir(tmpdir);
}

/* A crash ends the process without atexit(), leaving PARENT/<pid>/ behind:
 * remove those of processes that are gone. */
static void remove_stale(void)
{
    DIR *d = opendir(PARENT);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[192];
        snprintf(p, sizeof p, "%s/%s/%s", PARENT, e->d_name, OBJECT_NAME);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s", PARENT, e->d_name);
        rmdir(p);
    }
    closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("edgewatch-fuzz-stdlog", MFD_CLOEXEC);
    if (memfd < 0) {
        perror("fuzz_stdlog: memfd_create");
        abort();
    }
    mkdir(PARENT, 0700);
    remove_stale();
    snprintf(tmpdir, sizeof tmpdir, "%s/%ld", PARENT, (long)getpid());
    snprintf(path, sizeof path, "%s/%s", tmpdir, OBJECT_NAME);
    unlink(path);
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", memfd);
    if ((mkdir(tmpdir, 0700) != 0 && errno != EEXIST) || symlink(target, path) != 0) {
        perror("fuzz_stdlog: " PARENT);
        abort();
    }
    atexit(cleanup);
    ew_str id = ew_stdlog_distribution_from_name(path);
    name_gives_id = ew_str_eq(id, DIST_ID);
    return 0;
}

static void fuzz_name(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t n = nl ? (size_t)(nl - data) : size;
    if (n > 255)
        n = 255;
    char *name = malloc(n + 1);
    if (!name)
        abort();
    memcpy(name, data, n);
    name[n] = '\0';
    size_t slen = strlen(name);
    ew_str id = ew_stdlog_distribution_from_name(name);
    if (id.len)
        FUZZ_CHECK(fuzz_within(id.ptr, id.len, name, slen));
    free(name);
}

static bool write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(memfd, 0) != 0)
        return false;
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(memfd, data + off, size - off, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_name(data, size);
    if (!write_input(data, size))
        abort();

    char err[256];
    memset(err, 'x', sizeof err); /* no NUL: a failure must write a message */
    ew_stdlog_reader *rd = ew_stdlog_open(path, MAX_LINE, err, sizeof err);
    if (!rd) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        return 0;
    }
    ew_cf_record r;
    uint64_t last_line = 0;
    for (;;) {
        ew_decode_error e = EW_DECODE_REASONS;
        err[0] = '\0';
        int rc = ew_stdlog_next(rd, &r, &e, err, sizeof err);
        FUZZ_CHECK(rc >= -1 && rc <= 1);
        if (rc == 0) {
            /* The end stays the end. */
            FUZZ_CHECK(ew_stdlog_next(rd, &r, &e, err, sizeof err) != 1);
            break;
        }
        if (rc < 0) {
            FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
            break;
        }
        uint64_t line = ew_stdlog_line(rd);
        FUZZ_CHECK(line > last_line);
        last_line = line;
        /* Strings point into the reader's line buffer (unknown here: only
         * read) or the record's scratch; a line is at most MAX_LINE bytes. */
        fuzz_check_outcome(e, &r, (fuzz_span){NULL, 0}, MAX_LINE);
        /* The file name carries an id, and it wins over a record's own
         * "distributionid" (decode.h). */
        if (e == EW_DECODE_OK && name_gives_id)
            FUZZ_CHECK(ew_str_eq(r.distribution_id, DIST_ID));
    }
    ew_stdlog_close(rd);
    return 0;
}
