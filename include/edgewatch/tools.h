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

#endif
