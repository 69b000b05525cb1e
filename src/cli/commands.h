/* Sub-commands of the cformer CLI. Each returns the process exit code: 0 ok, 1 error, 2 usage. */
#ifndef CF_CLI_COMMANDS_H
#define CF_CLI_COMMANDS_H

enum { CF_EXIT_OK = 0, CF_EXIT_ERROR = 1, CF_EXIT_USAGE = 2 };

int cf_cmd_inspect(int argc, char **argv);
int cf_cmd_tokenize(int argc, char **argv);
int cf_cmd_run(int argc, char **argv);
int cf_cmd_bench(int argc, char **argv);
int cf_cmd_pull(int argc, char **argv);
int cf_cmd_ls(int argc, char **argv);
int cf_cmd_rm(int argc, char **argv);
int cf_cmd_serve(int argc, char **argv);

#endif
