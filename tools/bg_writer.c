/* bg_writer.c -- a file written from a second thread.
 *
 * `edgewatch gen` spends about as much time in write(2) (the kernel copying
 * lines into the page cache) as it does drawing and formatting them. With
 * two buffers, one being filled while the other is written, the two overlap
 * on two cores: a 15-day detection run (8 GB) takes about half the wall
 * time. The caller's bytes reach the file in the order they were added.
 */
#include "edgewatch/tools.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BG_BUFFER_SIZE (4u << 20)

struct ew_bg_writer {
    int fd;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf[2];
    size_t len;         /* bytes in buf[cur], owned by the caller */
    int cur;
    const char *queued; /* handed to the thread, NULL once written */
    size_t queued_len;
    bool stop;
    int error;          /* errno of the first failed write, 0 if none */
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *writer_main(void *arg)
{
    ew_bg_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->queued && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->queued)
            break;
        const char *p = w->queued;
        size_t n = w->queued_len;
        pthread_mutex_unlock(&w->mu);
        int err = w->error ? 0 : write_all(w->fd, p, n); /* after a failure, drop the rest */
        pthread_mutex_lock(&w->mu);
        if (err && !w->error)
            w->error = err;
        w->queued = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

ew_bg_writer *ew_bg_writer_open(int fd)
{
    ew_bg_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = fd;
    w->buf[0] = malloc(BG_BUFFER_SIZE);
    w->buf[1] = malloc(BG_BUFFER_SIZE);
    bool ok = w->buf[0] && w->buf[1];
    ok = ok && pthread_mutex_init(&w->mu, NULL) == 0;
    if (ok && pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        ok = false;
    }
    if (ok && pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        ok = false;
    }
    if (!ok) {
        free(w->buf[0]);
        free(w->buf[1]);
        free(w);
        return NULL;
    }
    return w;
}

/* Hands the current buffer to the thread once it has finished the previous
 * one, and continues in the other buffer. */
static bool hand_off(ew_bg_writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->queued)
        pthread_cond_wait(&w->cv, &w->mu);
    int error = w->error;
    if (w->len > 0 && !error) {
        w->queued = w->buf[w->cur];
        w->queued_len = w->len;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    w->cur ^= 1;
    w->len = 0;
    if (error)
        errno = error;
    return error == 0;
}

bool ew_bg_writer_add(ew_bg_writer *w, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        if (w->len == BG_BUFFER_SIZE && !hand_off(w))
            return false;
        size_t n = BG_BUFFER_SIZE - w->len < len ? BG_BUFFER_SIZE - w->len : len;
        memcpy(w->buf[w->cur] + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
    }
    return true;
}

bool ew_bg_writer_close(ew_bg_writer *w)
{
    bool ok = hand_off(w);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    int error = w->error;
    if (close(w->fd) != 0 && !error)
        error = errno;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->buf[0]);
    free(w->buf[1]);
    free(w);
    if (error)
        errno = error;
    return ok && error == 0;
}
