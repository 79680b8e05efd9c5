/* tools.h -- developer and test subcommands that live outside the processor.
 *
 * Each entry point takes the subcommand's own argc/argv (argv[0] is the
 * subcommand name) and returns the process exit code, so processor/main.c
 * only has to dispatch on the name.
 */
#ifndef EDGEWATCH_TOOLS_H
#define EDGEWATCH_TOOLS_H

/* `edgewatch dev-kafka`: an in-process librdkafka mock cluster (tools/devkafka.c). */
int ew_cmd_dev_kafka(int argc, char **argv);

/* `edgewatch gen`: deterministic synthetic CloudFront real-time logs (tools/gen.c). */
int ew_cmd_gen(int argc, char **argv);

/* Transcoders from a real-time TSV line (names = its selected fields, in
 * any order, as in the config) to the other encodings on the topic, for
 * `edgewatch gen --encoding` and the tests. Each returns the bytes written,
 * or 0 when the line does not split into n columns or out is too small. */
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

#endif
