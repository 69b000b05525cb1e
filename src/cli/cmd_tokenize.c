/* cformer tokenize MODEL "text" [--pair TEXT] [--json] [--no-special]: ids, tokens and offsets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cformer.h"
#include "cli/commands.h"

static void usage(void)
{
    fprintf(stderr, "usage: cformer tokenize MODEL_DIR TEXT [--pair TEXT] [--json] [--no-special] [--legacy]\n");
}

static void print_json(const cf_encoding *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(o, "ids"), *toks = cJSON_AddArrayToObject(o, "tokens");
    cJSON *offs = cJSON_AddArrayToObject(o, "offsets"), *types = cJSON_AddArrayToObject(o, "type_ids");
    cJSON *words = cJSON_AddArrayToObject(o, "word_ids");
    for (size_t i = 0; i < e->n; i++) {
        cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)e->ids[i]));
        cJSON_AddItemToArray(toks, cJSON_CreateString(e->tokens[i]));
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)e->offsets[i][0]));
        cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)e->offsets[i][1]));
        cJSON_AddItemToArray(offs, pair);
        cJSON_AddItemToArray(types, cJSON_CreateNumber((double)e->type_ids[i]));
        cJSON_AddItemToArray(words, e->word_ids[i] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)e->word_ids[i]));
    }
    char *s = cJSON_PrintUnformatted(o);
    puts(s ? s : "{}");
    free(s);
    cJSON_Delete(o);
}

int cf_cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *text = NULL, *pair = NULL;
    int json = 0, legacy = 0;
    cf_encode_options opt = cf_encode_options_default();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--legacy"))
            legacy = 1;
        else if (!strcmp(argv[i], "--no-special"))
            opt.add_special_tokens = 0;
        else if (!strcmp(argv[i], "--pair") && i + 1 < argc)
            pair = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            usage();
            return CF_EXIT_USAGE;
        } else if (!model)
            model = argv[i];
        else if (!text)
            text = argv[i];
        else {
            usage();
            return CF_EXIT_USAGE;
        }
    }
    if (!model || !text) {
        usage();
        return CF_EXIT_USAGE;
    }
    cf_error err = {0};
    cf_tokenizer *tok = NULL;
    if ((legacy ? cf_tokenizer_load_legacy(model, &tok, &err) : cf_tokenizer_load(model, &tok, &err)) != CF_OK) {
        fprintf(stderr, "cformer tokenize: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    cf_encoding e;
    if (cf_tokenizer_encode_pair(tok, text, pair, &opt, &e, &err) != CF_OK) {
        fprintf(stderr, "cformer tokenize: %s\n", err.message);
        cf_tokenizer_free(tok);
        return CF_EXIT_ERROR;
    }
    if (json) {
        print_json(&e);
    } else {
        for (size_t i = 0; i < e.n; i++)
            printf("%6lld  %-20s [%lld, %lld)\n", (long long)e.ids[i], e.tokens[i], (long long)e.offsets[i][0],
                   (long long)e.offsets[i][1]);
    }
    cf_encoding_free(&e);
    cf_tokenizer_free(tok);
    return CF_EXIT_OK;
}
