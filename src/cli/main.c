/* cformer: the command line front end. */
#include <stdio.h>
#include <string.h>

#include "cformer.h"
#include "cli/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command k_commands[] = {
    {"run", cf_cmd_run, "run a pipeline task on inputs (TASK [-m MODEL] INPUT... | --json PAYLOAD)"},
    {"tokenize", cf_cmd_tokenize, "tokenize text with a model's tokenizer (MODEL TEXT [--json])"},
    {"inspect", cf_cmd_inspect, "describe a model folder or Hub id: config, tensors, parameters"},
    {"bench", cf_cmd_bench, "time a model's forward pass on its task's shapes"},
    {"pull", cf_cmd_pull, "download a model from the Hub into the HF cache (ORG/NAME[@REV])"},
    {"ls", cf_cmd_ls, "list the models in the HF cache with their sizes"},
    {"rm", cf_cmd_rm, "remove a model (or ORG/NAME@REV) from the HF cache"},
    {"serve", cf_cmd_serve, "serve pipelines over HTTP (Inference API, KServe v2, playground)"},
    {"tasks", cf_cmd_tasks, "list the pipeline tasks this build runs, their aliases and default models"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer COMMAND [ARGS...]\n"
            "\n"
            "Run Hugging Face transformer models on the CPU.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(out,
            "\n"
            "options:\n"
            "  -h, --help     this help (COMMAND --help for a command's own)\n"
            "  --version      print the version\n"
            "\n"
            "environment: CFORMER_THREADS (threads, default = cores), CFORMER_LOG (error|warn|info|debug),\n"
            "HF_HUB_CACHE / HF_HOME (where Hub ids are looked up)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CF_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("cformer %s\n", cf_version());
        return CF_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (!strcmp(argv[1], k_commands[i].name))
            return k_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cformer: unknown command '%s' (see cformer --help)\n", argv[1]);
    return CF_EXIT_USAGE;
}
