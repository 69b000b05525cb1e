#include <stdio.h>

#include "cli/commands.h"

int cf_cmd_tokenize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "cformer tokenize: not available yet\n");
    return CF_EXIT_ERROR;
}
