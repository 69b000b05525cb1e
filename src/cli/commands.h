/* Sub-commands of the cformer CLI. Each returns the process exit code: 0 ok, 1 error, 2 usage. */
#ifndef CF_CLI_COMMANDS_H
#define CF_CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

enum { CF_EXIT_OK = 0, CF_EXIT_ERROR = 1, CF_EXIT_USAGE = 2 };

/* cf_pipeline_open options JSON for --threads / --dtype (cmd_bench.c); false, after saying why,
 * when the dtype is not f32, bf16 or int8. */
bool cf_cli_load_options(char *out, size_t size, int threads, const char *dtype);

int cf_cmd_inspect(int argc, char **argv);
int cf_cmd_tokenize(int argc, char **argv);
int cf_cmd_run(int argc, char **argv);
int cf_cmd_bench(int argc, char **argv);
int cf_cmd_pull(int argc, char **argv);
int cf_cmd_ls(int argc, char **argv);
int cf_cmd_rm(int argc, char **argv);
int cf_cmd_serve(int argc, char **argv);
int cf_cmd_tasks(int argc, char **argv);

#endif
