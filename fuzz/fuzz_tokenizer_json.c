/* libFuzzer: arbitrary bytes as tokenizer.json must load or fail cleanly, and a loaded
 * tokenizer must encode and decode a fixed text. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "tokenizers/tokenizer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (!doc)
        return 0;
    cf_tokenizer *tok = NULL;
    cf_error err = {0};
    if (cf_tokenizer_from_json(doc, "fuzz", &tok, &err) == CF_OK) {
        cf_encoding e;
        if (cf_tokenizer_encode_pair(tok, "Hello world, caf\xc3\xa9 \xe6\x97\xa5 <s>", "pair", NULL, &e, &err) == CF_OK) {
            char *text = NULL;
            if (cf_tokenizer_decode(tok, e.ids, e.n, 1, &text, &err) == CF_OK)
                free(text);
            cf_encoding_free(&e);
        }
        cf_tokenizer_free(tok);
    }
    cJSON_Delete(doc);
    return 0;
}
