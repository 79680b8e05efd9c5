/* line_feed.h -- real-time log lines of one replay input, read, split and
 * decoded ahead on a second thread.
 *
 * Decoding is most of a replay's work, and the rest (windows, aggregation,
 * the state store, scoring) is single-owner state that must see records in
 * input order. So one thread reads (gunzipping), splits and decodes
 * batches of lines while the caller folds earlier ones; a caller that
 * catches up decodes the next batch itself rather than wait, so on two
 * cores both decode. The caller gets every non-empty line's record in
 * input order whatever the threads' timing, so results do not change.
 *
 * Lines follow replay's rules: without their LF or CR LF; a line longer
 * than max_line_bytes is decoded cut at max_line_bytes + 1 bytes (so the
 * decoder names it line_too_long) and its rest is skipped; an unterminated
 * last line counts. Nothing is allocated per record: batches are reused.
 */
#ifndef EDGEWATCH_LINE_FEED_H
#define EDGEWATCH_LINE_FEED_H

#include "edgewatch/config.h"
#include "edgewatch/decode.h"
#include "edgewatch/metadata.h"

#include <zlib.h>

typedef struct ew_line_feed ew_line_feed;

/* Decodes with its own decoders, one per thread, configured as the core's
 * is from cfg (fields, max_line_bytes, Avro schemas). NULL with err set. */
ew_line_feed *ew_line_feed_new(const ew_config *cfg, char *err, size_t errcap);
/* Stops a running input first. */
void ew_line_feed_free(ew_line_feed *f);

/* Starts reading gz from its current position; the feed reads it until
 * ew_line_feed_stop, and the caller must not touch gz until then. */
bool ew_line_feed_start(ew_line_feed *f, gzFile gz, char *err, size_t errcap);
/* The next non-empty line's record: true with *rec and *e set (rec's
 * strings stay valid until the next call), false at the end of the input. */
bool ew_line_feed_next(ew_line_feed *f, ew_cf_record *rec, ew_decode_error *e);
/* Also does, for every record, the work ew_core_fold_prepared expects done
 * ahead: its top-list values cleaned (ew_topk_clean_record) and its
 * identity looked up in m (which must not change while the feed runs;
 * lookups only read it). That work then runs on the reading thread, off
 * the caller's. Call before ew_line_feed_start; NULL turns it off. */
void ew_line_feed_prepare(ew_line_feed *f, const ew_metadata *m);
/* With prepare: the distribution of the record ew_line_feed_next last
 * returned (if it decoded), as ew_core_fold_prepared takes it. */
size_t ew_line_feed_dist(const ew_line_feed *f);
/* With prepare: the event time and distribution of the record `ahead`
 * records after the one ew_line_feed_next last returned, when the reading
 * thread decoded it and it is in the same batch; false otherwise. For
 * prefetching only: it may be a record that will not decode. */
bool ew_line_feed_peek(const ew_line_feed *f, size_t ahead, int64_t *ts_ms, size_t *dist);
/* Where the input was (gzoffset) when the batch being read was filled. */
uint64_t ew_line_feed_position(const ew_line_feed *f);
/* Ends the input early or after its end, and waits for the thread. */
void ew_line_feed_stop(ew_line_feed *f);

#endif
