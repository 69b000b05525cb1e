/* Start and stop tests/mockhub/mockhub.py (a mock Hugging Face Hub on 127.0.0.1) from a C test,
 * and small filesystem helpers for the Hub tests. Header-only: each test is one executable. */
#ifndef CF_TEST_MOCKHUB_LAUNCH_H
#define CF_TEST_MOCKHUB_LAUNCH_H

#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct mockhub {
    pid_t pid;
    int port, cdn_port;
    char endpoint[64];
    char dir[256];      /* scratch folder of this mock: port file, log */
    char log_path[300];
} mockhub;

static const char *mockhub_source_dir(void)
{
    const char *s = getenv("CFORMER_SOURCE_DIR");
    return s && *s ? s : ".";
}

/* Start the mock with extra arguments (NULL-terminated: "--repo", "org/x=DIR", "--fault", ...). */
static bool mockhub_start(mockhub *m, const char *const *args)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "/tmp/cf_mockhub_XXXXXX");
    if (!mkdtemp(m->dir))
        return false;
    char script[512], port_file[300];
    snprintf(script, sizeof script, "%s/tests/mockhub/mockhub.py", mockhub_source_dir());
    snprintf(port_file, sizeof port_file, "%s/ports", m->dir);
    snprintf(m->log_path, sizeof m->log_path, "%s/requests.log", m->dir);
    const char *argv[64] = {"python3", script, "--port-file", port_file, "--log", m->log_path};
    int n = 6;
    for (int i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    m->pid = fork();
    if (m->pid < 0)
        return false;
    if (m->pid == 0) {
        execvp("python3", (char *const *)argv);
        _exit(127);
    }
    for (int waited = 0; waited < 200; waited++) { /* up to 10 s */
        FILE *f = fopen(port_file, "r");
        if (f) {
            bool ok = fscanf(f, "%d %d", &m->port, &m->cdn_port) == 2;
            fclose(f);
            if (ok) {
                snprintf(m->endpoint, sizeof m->endpoint, "http://127.0.0.1:%d", m->port);
                return true;
            }
        }
        if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
            m->pid = 0;
            return false;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

static int mockhub_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* rm -r */
static void mockhub_rmtree(const char *path) { nftw(path, mockhub_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static void mockhub_stop(mockhub *m)
{
    if (m->pid > 0) {
        kill(m->pid, SIGTERM);
        waitpid(m->pid, NULL, 0);
        m->pid = 0;
    }
    if (m->dir[0])
        mockhub_rmtree(m->dir);
}

/* The request log, one JSON object per line (caller frees), or NULL. */
static char *mockhub_log(const mockhub *m)
{
    FILE *f = fopen(m->log_path, "rb");
    if (!f)
        return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, (size_t)n + 1);
    if (text && fread(text, 1, (size_t)n, f) != (size_t)n)
        text[0] = '\0';
    fclose(f);
    return text;
}

/* How many log lines contain every one of the NULL-terminated needles. */
static int mockhub_count(const mockhub *m, const char *const *needles)
{
    char *log = mockhub_log(m);
    int count = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        bool all = true;
        for (int i = 0; needles[i] && all; i++)
            all = strstr(line, needles[i]) != NULL;
        count += all;
    }
    free(log);
    return count;
}

#endif
