/* cformer tasks: the pipeline tasks this build runs, from the task registry. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "pipelines/pipeline.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer tasks [--json]\n"
            "\n"
            "List the pipeline tasks this build runs: the task name, the other names it answers to\n"
            "(the Python pipeline's aliases) and the model used when none is given.\n"
            "\n"
            "options:\n"
            "  --json       machine-readable output\n"
            "  -h, --help   this help\n");
}

static void print_json(void)
{
    cJSON *list = cJSON_CreateArray();
    const cf_task *t;
    for (size_t i = 0; (t = cf_task_at(i)) != NULL; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "task", t->name);
        cJSON *aliases = cJSON_AddArrayToObject(o, "aliases");
        for (const char *const *a = t->aliases; a && *a; a++)
            cJSON_AddItemToArray(aliases, cJSON_CreateString(*a));
        cJSON_AddStringToObject(o, "default_model", t->default_model ? t->default_model : "");
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_PrintUnformatted(list);
    puts(text ? text : "[]");
    free(text);
    cJSON_Delete(list);
}

static void print_table(void)
{
    printf("%-30s %-28s %s\n", "TASK", "ALIASES", "DEFAULT MODEL");
    const cf_task *t;
    for (size_t i = 0; (t = cf_task_at(i)) != NULL; i++) {
        char aliases[256] = "-";
        size_t len = 0;
        for (const char *const *a = t->aliases; a && *a && len < sizeof aliases; a++)
            len += (size_t)snprintf(aliases + len, sizeof aliases - len, "%s%s", len ? "," : "", *a);
        printf("%-30s %-28s %s\n", t->name, aliases, t->default_model ? t->default_model : "-");
    }
}

int cf_cmd_tasks(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return CF_EXIT_OK;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        fprintf(stderr, "cformer tasks: unknown argument '%s'\n", argv[i]);
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    if (json)
        print_json();
    else
        print_table();
    return CF_EXIT_OK;
}
