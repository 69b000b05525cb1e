#include <stdio.h>

#include "cli/commands.h"

int cf_cmd_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cformer bench: not available yet\n");
    return CF_EXIT_ERROR;
}
