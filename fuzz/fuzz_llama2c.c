/* libFuzzer target: llama2.c files. The input is read as a tokenizer file (parsed, converted to
 * tokenizer.json, built and used to encode and decode a sample), and as the start of a checkpoint
 * whose file size is the input's size (and, from its last 8 bytes, a claimed size). */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "io/config.h"
#include "models/llama.h"
#include "tokenizers/convert_llama2c.h"
#include "tokenizers/convert_spm.h"
#include "tokenizers/tokenizer_internal.h"

static const char sample[] = "Once upon a time \xE2\x96\x81 x\n\xF0\x9F\xA4\x97 <s> end";

static void exercise_tokenizer(const cf_spm_model *m)
{
    cf_error err = {0};
    cf_config cfg = {0};
    cJSON *doc = NULL;
    if (cf_spm_convert_bpe_model(m, &cfg, &doc, &err) != CF_OK)
        return;
    cf_tokenizer *tok = NULL;
    if (cf_tokenizer_from_json(doc, "fuzz", &tok, &err) == CF_OK) {
        cf_encoding enc;
        if (cf_tokenizer_encode(tok, sample, NULL, &enc, &err) == CF_OK) {
            char *text = NULL;
            if (cf_tokenizer_decode(tok, enc.ids, enc.n, 0, &text, &err) == CF_OK)
                free(text);
            cf_encoding_free(&enc);
        }
        cf_tokenizer_free(tok);
    }
    cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_error err = {0};
    cf_spm_model m;
    if (cf_llama2c_tokenizer_parse(data, size, "fuzz", &m, &err) == CF_OK) {
        if (m.n_pieces <= 4096)
            exercise_tokenizer(&m);
        cf_spm_model_free(&m);
    }
    (void)cf_llama2c_check_header(data, size, size, "fuzz", &err);
    if (size >= 36) {
        uint64_t claimed;
        memcpy(&claimed, data + size - 8, sizeof claimed);
        (void)cf_llama2c_check_header(data, size - 8, claimed, "fuzz", &err);
    }
    return 0;
}
