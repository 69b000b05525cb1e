/* cformer rm: remove a model (or one revision of it) from the Hugging Face cache. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "io/hub.h"
#include "io/hub_progress.h"
#include "io/model_dir.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer rm ORG/NAME[@REVISION]... [--cache-dir DIR]\n"
            "\n"
            "Remove models from the Hugging Face cache. With @REVISION only that revision's snapshot\n"
            "goes, with the files no other revision uses.\n");
}

int cf_cmd_rm(int argc, char **argv)
{
    const char *cache_arg = NULL;
    int n_ids = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return CF_EXIT_OK;
        }
        if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc)
            cache_arg = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "cformer rm: unknown option %s (see cformer rm --help)\n", argv[i]);
            return CF_EXIT_USAGE;
        } else
            n_ids++;
    }
    if (n_ids == 0) {
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    char cache[CF_PATH_MAX];
    cf_error err = {0};
    if (cache_arg)
        snprintf(cache, sizeof cache, "%s", cache_arg);
    else if (cf_hf_cache_dir(cache, sizeof cache, &err) != CF_OK) {
        fprintf(stderr, "cformer rm: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    int rc = CF_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            i += !strcmp(argv[i], "--cache-dir");
            continue;
        }
        uint64_t freed = 0;
        char size[32];
        if (cf_hub_cache_remove(cache, argv[i], &freed, &err) != CF_OK) {
            fprintf(stderr, "cformer rm: %s\n", err.message);
            rc = err.status == CF_ERR_INVALID_ARG ? CF_EXIT_USAGE : CF_EXIT_ERROR;
            continue;
        }
        printf("removed %s (%s freed)\n", argv[i], cf_hub_format_bytes((double)freed, size, sizeof size));
    }
    return rc;
}
