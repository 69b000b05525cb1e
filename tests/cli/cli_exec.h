/* Running the built cformer binary (CF_CLI_PATH) from a CLI test: argv, extra environment
 * assignments, captured stdout/stderr and the exit status. Header-only: each test file is its
 * own executable. */
#ifndef CF_TESTS_CLI_EXEC_H
#define CF_TESTS_CLI_EXEC_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"

typedef struct cli_result {
    int status; /* exit code, or 128 + signal */
    char *out, *err;
} cli_result;

static char *cli_slurp(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    cf_error e = {0};
    return cf_read_file(path, (size_t)1 << 28, &text, &len, &e) == CF_OK ? text : strdup("");
}

/* args: NULL-terminated, without the program; env: NULL-terminated "KEY=VALUE" list or NULL. */
static cli_result cli_run(const char *const *args, const char *const *env)
{
    char out_path[] = "/tmp/cf_cli_out_XXXXXX", err_path[] = "/tmp/cf_cli_err_XXXXXX";
    int fout = mkstemp(out_path), ferr = mkstemp(err_path);
    cr_assert(fout >= 0 && ferr >= 0);
    const char *argv[64] = {CF_CLI_PATH};
    size_t n = 1;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(fout, 1);
        dup2(ferr, 2);
        for (size_t i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(CF_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(fout);
    close(ferr);
    cli_result r = {.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)};
    r.out = cli_slurp(out_path);
    r.err = cli_slurp(err_path);
    unlink(out_path);
    unlink(err_path);
    return r;
}

static void cli_free(cli_result *r)
{
    free(r->out);
    free(r->err);
}

#endif
