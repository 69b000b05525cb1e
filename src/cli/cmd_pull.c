/* cformer pull: download a model from the Hub into the shared Hugging Face cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "io/hub.h"
#include "io/model_dir.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer pull ORG/NAME[@REVISION] [options]\n"
            "\n"
            "Download a model into the Hugging Face cache that Python's huggingface_hub uses\n"
            "($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) and print its snapshot\n"
            "folder. Only the files cformer reads are fetched: configs, tokenizer files and the\n"
            "safetensors weights (all shards). Interrupted downloads resume.\n"
            "\n"
            "options:\n"
            "  --revision REV      branch, tag or commit (default main; same as @REV)\n"
            "  --all               every file of the repo\n"
            "  -q, --quiet         no progress bar or summary\n"
            "  --parallel N        concurrent downloads (default 4)\n"
            "  --endpoint URL      Hub address (default $HF_ENDPOINT or https://huggingface.co)\n"
            "  --cache-dir DIR     cache folder instead of the default\n"
            "\n"
            "environment: HF_TOKEN (or ~/.cache/huggingface/token) for private and gated models,\n"
            "HF_ENDPOINT, HF_HUB_OFFLINE=1 (no network: succeed only if cached),\n"
            "HF_HUB_DISABLE_PROGRESS_BARS=1\n");
}

int cf_cmd_pull(int argc, char **argv)
{
    cf_hub_options opt = cf_hub_options_default();
    const char *id = NULL, *revision = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return CF_EXIT_OK;
        } else if (!strcmp(a, "--all")) {
            opt.all_files = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            opt.quiet = true;
        } else if (a[0] == '-' && !next) {
            fprintf(stderr, "cformer pull: %s needs a value (see cformer pull --help)\n", a);
            return CF_EXIT_USAGE;
        } else if (!strcmp(a, "--revision")) {
            revision = argv[++i];
        } else if (!strcmp(a, "--parallel")) {
            opt.parallel = atoi(argv[++i]);
        } else if (!strcmp(a, "--endpoint")) {
            opt.endpoint = argv[++i];
        } else if (!strcmp(a, "--cache-dir")) {
            opt.cache_dir = argv[++i];
        } else if (a[0] == '-' || id) {
            fprintf(stderr, "cformer pull: unexpected argument '%s' (see cformer pull --help)\n", a);
            return CF_EXIT_USAGE;
        } else {
            id = a;
        }
    }
    if (!id) {
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    char full_id[1024];
    if (revision && strchr(id, '@')) {
        fprintf(stderr, "cformer pull: give the revision once, as ID@REV or --revision REV\n");
        return CF_EXIT_USAGE;
    }
    snprintf(full_id, sizeof full_id, "%s%s%s", id, revision ? "@" : "", revision ? revision : "");
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    if (cf_hub_pull(full_id, &opt, dir, sizeof dir, &err) != CF_OK) {
        fprintf(stderr, "cformer pull: %s\n", err.message);
        return err.status == CF_ERR_INVALID_ARG ? CF_EXIT_USAGE : CF_EXIT_ERROR;
    }
    if (!opt.quiet)
        fprintf(stderr, "%s is in %s\n", full_id, dir);
    puts(dir);
    return CF_EXIT_OK;
}
