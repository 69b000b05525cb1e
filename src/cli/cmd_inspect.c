#include <stdio.h>

#include "cli/commands.h"

int cf_cmd_inspect(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cformer inspect: not available yet\n");
    return CF_EXIT_ERROR;
}
