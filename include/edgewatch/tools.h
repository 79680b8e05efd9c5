/* tools.h -- developer and test subcommands that live outside the processor.
 *
 * Each entry point takes the subcommand's own argc/argv (argv[0] is the
 * subcommand name) and returns the process exit code, so processor/main.c
 * only has to dispatch on the name.
 */
#ifndef EDGEWATCH_TOOLS_H
#define EDGEWATCH_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

/* `edgewatch dev-kafka`: an in-process librdkafka mock cluster (tools/devkafka.c). */
int ew_cmd_dev_kafka(int argc, char **argv);

/* `edgewatch gen`: deterministic synthetic CloudFront real-time logs (tools/gen.c). */
int ew_cmd_gen(int argc, char **argv);
/* `edgewatch gen --scenario billing`: labelled billing line items
 * (tools/gen_billing.c); ew_cmd_gen hands it its whole argv. */
int ew_gen_billing(int argc, char **argv);
/* Both generators' flags: "--flag value" or "--flag=value", each handed to
 * apply; --help or -h sets *help and stops. A stray argument or a flag
 * without a value is one error line naming it (and `see`). */
typedef bool ew_gen_flag_fn(void *ctx, const char *flag, const char *value);
bool ew_gen_parse_flags(int argc, char **argv, const char *see, ew_gen_flag_fn *apply, void *ctx, bool *help);
/* text as an integer in [lo, hi], or one error line naming flag. */
bool ew_gen_parse_u64(const char *flag, const char *text, uint64_t lo, uint64_t hi, uint64_t *out);

/* `edgewatch state show`: stored aggregates as JSON (tools/state_cli.c). */
int ew_cmd_state(int argc, char **argv);

/* `edgewatch score`: one detector over a timestamp,value CSV (tools/score_cli.c). */
int ew_cmd_score(int argc, char **argv);

/* `edgewatch silence` and `edgewatch event` (add, list, rm): silences and
 * expected traffic events in Valkey (tools/suppress_cli.c). */
int ew_cmd_silence(int argc, char **argv);
int ew_cmd_event(int argc, char **argv);

/* Transcoders from a real-time TSV line (names = its selected fields, in
 * any order, as in the config) to the other encodings on the topic, for
 * `edgewatch gen --encoding` and the tests. Each returns the bytes written,
 * or 0 when the line does not split into n columns or out is too small. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* One JSON object, keys = field names; numeric fields as JSON numbers
 * (tools/encode_json.c). */
size_t ew_encode_json_line(const char *const *names, size_t n, const char *line, size_t len, char *out,
                           size_t cap);
/* One bare Avro datum of schemas/cloudfront_realtime_log.avsc; fields not
 * selected or "-" are null (tools/encode_avro.c). */
size_t ew_encode_avro_line(const char *const *names, size_t n, const char *line, size_t len, uint8_t *out,
                           size_t cap);

/* Avro object container files (tools/encode_avro.c): datums of one writer
 * schema in blocks of about 64 KiB, codec null or deflate. */
typedef struct ew_avro_file_writer ew_avro_file_writer;
ew_avro_file_writer *ew_avro_file_writer_open(const char *path, const char *schema_json, bool deflate);
bool ew_avro_file_writer_add(ew_avro_file_writer *w, const uint8_t *datum, size_t len);
bool ew_avro_file_writer_close(ew_avro_file_writer *w);

/* A file written from a second thread, through two 4 MiB buffers, so that
 * producing bytes and the kernel taking them overlap (tools/bg_writer.c).
 * open takes ownership of fd; add and close return false (errno set) if a
 * write failed; close always frees the writer and closes fd. */
typedef struct ew_bg_writer ew_bg_writer;
ew_bg_writer *ew_bg_writer_open(int fd);
bool ew_bg_writer_add(ew_bg_writer *w, const void *data, size_t len);
bool ew_bg_writer_close(ew_bg_writer *w);

/* How `edgewatch gen` encodes the records it produces (tools/gen_shape.c). */
typedef enum {
    EW_GEN_TSV,
    EW_GEN_JSON,
    EW_GEN_AVRO,           /* bare datum */
    EW_GEN_AVRO_CONFLUENT, /* 0x00 + schema id + datum */
    EW_GEN_MIXED,          /* each of the above in turn, chosen by the record's pick */
    EW_GEN_ENCODINGS
} ew_gen_encoding;

/* Parses "tsv", "json", "avro", "avro-confluent" or "mixed". */
bool ew_gen_encoding_parse(const char *name, ew_gen_encoding *out);
/* Re-encodes one generated TSV line; returns the length, or 0 on failure. */
size_t ew_gen_encode(ew_gen_encoding enc, int32_t schema_id, uint64_t pick, const char *const *names, size_t n,
                     const char *line, size_t len, uint8_t *out, size_t cap);

/* Malformed records the generator can inject, one per dead-letter reason. */
#define EW_GEN_BAD_KINDS 14
/* Builds malformed record number k (kinds rotate) from a good TSV line;
 * *reason is the DLQ reason the processor must give it. Returns the length
 * (0 is a valid length: the empty message). */
size_t ew_gen_bad_record(unsigned k, int32_t schema_id, const char *const *names, size_t n, const char *line,
                         size_t len, uint8_t *out, size_t cap, const char **reason);

#endif
