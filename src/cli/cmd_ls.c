/* cformer ls: the models in the Hugging Face cache, with their sizes. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "io/hub.h"
#include "io/hub_progress.h"
#include "io/model_dir.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer ls [--json] [--cache-dir DIR]\n"
            "\n"
            "List the models in the Hugging Face cache (shared with Python): id, size on disk,\n"
            "files, snapshots, refs and last change. '(partial)' marks unfinished downloads.\n");
}

static void print_json(const cf_hub_cached_repo *repos, size_t n)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", repos[i].id);
        cJSON_AddStringToObject(o, "path", repos[i].path);
        cJSON_AddNumberToObject(o, "size_bytes", (double)repos[i].size_bytes);
        cJSON_AddNumberToObject(o, "files", repos[i].n_files);
        cJSON_AddNumberToObject(o, "snapshots", repos[i].n_snapshots);
        cJSON_AddStringToObject(o, "refs", repos[i].refs);
        cJSON_AddNumberToObject(o, "modified", (double)repos[i].modified);
        cJSON_AddBoolToObject(o, "incomplete", repos[i].incomplete);
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_PrintUnformatted(list);
    puts(text ? text : "[]");
    free(text);
    cJSON_Delete(list);
}

static void print_table(const char *cache, const cf_hub_cached_repo *repos, size_t n)
{
    uint64_t total = 0;
    printf("%-40s %10s %6s %5s  %-16s %s\n", "MODEL", "SIZE", "FILES", "SNAPS", "MODIFIED", "REFS");
    for (size_t i = 0; i < n; i++) {
        char size[32], when[32] = "-";
        time_t t = (time_t)repos[i].modified;
        struct tm tm;
        if (t > 0 && localtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
        printf("%-40s %10s %6d %5d  %-16s %s%s\n", repos[i].id,
               cf_hub_format_bytes((double)repos[i].size_bytes, size, sizeof size), repos[i].n_files,
               repos[i].n_snapshots, when, repos[i].refs, repos[i].incomplete ? " (partial)" : "");
        total += repos[i].size_bytes;
    }
    char size[32];
    printf("%zu model%s, %s in %s\n", n, n == 1 ? "" : "s", cf_hub_format_bytes((double)total, size, sizeof size),
           cache);
}

int cf_cmd_ls(int argc, char **argv)
{
    bool json = false;
    const char *cache_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return CF_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc) {
            cache_arg = argv[++i];
        } else {
            fprintf(stderr, "cformer ls: unexpected argument '%s' (see cformer ls --help)\n", argv[i]);
            return CF_EXIT_USAGE;
        }
    }
    char cache[CF_PATH_MAX];
    cf_error err = {0};
    if (cache_arg)
        snprintf(cache, sizeof cache, "%s", cache_arg);
    else if (cf_hf_cache_dir(cache, sizeof cache, &err) != CF_OK) {
        fprintf(stderr, "cformer ls: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    cf_hub_cached_repo *repos = NULL;
    size_t n = 0;
    if (cf_hub_cache_list(cache, &repos, &n, &err) != CF_OK) {
        fprintf(stderr, "cformer ls: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    if (json)
        print_json(repos, n);
    else
        print_table(cache, repos, n);
    free(repos);
    return CF_EXIT_OK;
}
