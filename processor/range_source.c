/* range_source.c -- a topic's partitions between two times, outside any
 * group (see range_source.h for the rules).
 */
#include "edgewatch/range_source.h"
#include "edgewatch/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 10000

typedef struct {
    int32_t id;
    int64_t start, stop; /* [start, stop) */
    bool done;
} range_part;

struct ew_range_source {
    rd_kafka_t *rk;
    char *topic;
    range_part *parts;
    size_t n_parts, n_done, fallbacks;
    bool reassign; /* the next partition still has to be assigned */
    uint64_t total;
};

static bool topic_partitions(ew_range_source *s, char *err, size_t errcap)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(s->rk, s->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(s->rk, 0, t, &md, TIMEOUT_MS);
    rd_kafka_topic_destroy(t);
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(err, errcap, "topic %s: %s", s->topic,
                 rd_kafka_err2str(e ? e : md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return false;
    }
    s->n_parts = (size_t)md->topics[0].partition_cnt;
    s->parts = calloc(s->n_parts ? s->n_parts : 1, sizeof *s->parts);
    for (size_t i = 0; i < s->n_parts; i++)
        s->parts[i].id = md->topics[0].partitions[i].id;
    rd_kafka_metadata_destroy(md);
    return s->n_parts > 0 || (snprintf(err, errcap, "topic %s has no partitions", s->topic), false);
}

/* Offsets for a time per partition, -1 where the broker has none. */
static bool offsets_at(ew_range_source *s, int64_t ms, int64_t *out, char *err, size_t errcap)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->n_parts);
    for (size_t i = 0; i < s->n_parts; i++)
        rd_kafka_topic_partition_list_add(l, s->topic, s->parts[i].id)->offset = ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(s->rk, l, TIMEOUT_MS);
    for (size_t i = 0; !e && i < s->n_parts; i++)
        out[i] = l->elems[i].err ? -1 : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        snprintf(err, errcap, "offsets for time %lld: %s", (long long)ms, rd_kafka_err2str(e));
    return !e;
}

static bool plan_partition(ew_range_source *s, range_part *p, int64_t from_off, int64_t to_off, char *err,
                           size_t errcap)
{
    int64_t lo, hi;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(s->rk, s->topic, p->id, &lo, &hi, TIMEOUT_MS);
    if (e) {
        snprintf(err, errcap, "partition %d: %s", p->id, rd_kafka_err2str(e));
        return false;
    }
    bool fallback = from_off < 0 || to_off < 0;
    s->fallbacks += fallback;
    p->start = from_off >= 0 ? from_off : lo;
    p->stop = to_off >= 0 ? to_off : hi;
    if (p->start < lo)
        p->start = lo;
    if (p->stop > hi)
        p->stop = hi;
    p->done = p->start >= p->stop;
    s->n_done += p->done;
    s->total += p->done ? 0 : (uint64_t)(p->stop - p->start);
    return true;
}

/* Partitions are read one after the other, in partition order, never
 * interleaved: what a replay computes then depends on the records alone.
 * Counters and alerts would not care about the interleaving, but top
 * contributors would: a Space-Saving sketch's lower bounds depend on the
 * order it sees values in, and fetch timing would change them run to run. */
static bool assign_next(ew_range_source *s, char *err, size_t errcap)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    for (size_t i = 0; i < s->n_parts; i++)
        if (!s->parts[i].done) {
            rd_kafka_topic_partition_list_add(l, s->topic, s->parts[i].id)->offset = s->parts[i].start;
            break;
        }
    rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, l->cnt ? l : NULL);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        snprintf(err, errcap, "assign: %s", rd_kafka_err2str(e));
    return !e;
}

static bool plan(ew_range_source *s, int64_t from_ms, int64_t to_ms, char *err, size_t errcap)
{
    int64_t *from_off = calloc(s->n_parts, sizeof *from_off), *to_off = calloc(s->n_parts, sizeof *to_off);
    bool ok = offsets_at(s, from_ms, from_off, err, errcap) && offsets_at(s, to_ms, to_off, err, errcap);
    for (size_t i = 0; ok && i < s->n_parts; i++)
        ok = plan_partition(s, &s->parts[i], from_off[i], to_off[i], err, errcap);
    free(from_off);
    free(to_off);
    return ok && assign_next(s, err, errcap);
}

ew_range_source *ew_range_open(const ew_config *cfg, const char *topic, int64_t from_ms, int64_t to_ms, char *err,
                               size_t errcap)
{
    /* A group id of its own, and nothing ever committed: the live group's
     * offsets stay where they are. */
    char group[64];
    snprintf(group, sizeof group, "edgewatch-replay-%lld", (long long)ew_now_ms());
    const char *extra[] = {"group.id", group, "enable.auto.commit", "false", "enable.auto.offset.store", "false",
                           "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *conf = ew_config_kafka(cfg, extra, err, errcap);
    if (!conf)
        return NULL;
    ew_range_source *s = calloc(1, sizeof *s);
    s->topic = strdup(topic);
    if (!(s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errcap))) {
        ew_range_close(s);
        return NULL;
    }
    rd_kafka_poll_set_consumer(s->rk);
    if (!topic_partitions(s, err, errcap) || !plan(s, from_ms, to_ms, err, errcap)) {
        ew_range_close(s);
        return NULL;
    }
    return s;
}

void ew_range_close(ew_range_source *s)
{
    if (!s)
        return;
    if (s->rk) {
        rd_kafka_assign(s->rk, NULL);
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    free(s->parts);
    free(s->topic);
    free(s);
}

size_t ew_range_partitions(const ew_range_source *s, int32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_parts && n < cap; i++)
        out[n++] = s->parts[i].id;
    return n;
}

size_t ew_range_fallbacks(const ew_range_source *s) { return s->fallbacks; }
uint64_t ew_range_total(const ew_range_source *s) { return s->total; }

static range_part *part_of(ew_range_source *s, int32_t id)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i].id == id)
            return &s->parts[i];
    return NULL;
}

/* A partition that reached its stop hands over to the next one. */
static void finish_part(ew_range_source *s, range_part *p)
{
    p->done = true;
    s->n_done++;
    s->reassign = true;
}

rd_kafka_message_t *ew_range_next(ew_range_source *s, int timeout_ms, bool *done)
{
    *done = s->n_done == s->n_parts;
    if (*done)
        return NULL;
    if (s->reassign) {
        char err[256];
        if (!assign_next(s, err, sizeof err)) {
            ew_warn("replay: %s; retrying", err); /* the caller polls again */
            return NULL;
        }
        s->reassign = false;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, timeout_ms);
    if (!m)
        return NULL;
    range_part *p = part_of(s, m->partition);
    if (m->err) {
        /* The end of a partition also ends it when offsets before the stop
         * hold no records (transaction markers, compaction). */
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && p && !p->done && m->offset >= p->stop - 1)
            finish_part(s, p);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            ew_warn("replay: %s", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
        *done = s->n_done == s->n_parts;
        return NULL;
    }
    if (!p || p->done || m->offset >= p->stop) {
        rd_kafka_message_destroy(m);
        return NULL;
    }
    if (m->offset + 1 >= p->stop)
        finish_part(s, p);
    *done = s->n_done == s->n_parts;
    return m;
}
