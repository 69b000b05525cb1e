/* libFuzzer: arbitrary bytes as text through a small byte-level BPE and a WordPiece tokenizer,
 * with truncation, stride and padding; invalid UTF-8 must be rejected, never crash. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cformer.h"
#include "tokenizers/tokenizer_internal.h"

static const char *DOCS[] = {
    "{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":true},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"[CLS]\":1,\"[SEP]\":2,\"[PAD]\":3,"
    "\"a\":4,\"##b\":5,\"ab\":6,\"c\":7}},\"added_tokens\":[{\"id\":3,\"content\":\"[PAD]\",\"special\":true}],"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",2],\"cls\":[\"[CLS]\",1]},"
    "\"decoder\":{\"type\":\"WordPiece\"},\"padding\":{\"pad_id\":3,\"pad_token\":\"[PAD]\"}}",
    "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true},\"model\":{\"type\":\"BPE\",\"vocab\":{"
    "\"a\":0,\"b\":1,\"ab\":2,\"\\u0120\":3,\"\\u0120a\":4},\"merges\":[\"a b\",\"\\u0120 a\"]},"
    "\"added_tokens\":[{\"id\":5,\"content\":\"<m>\",\"lstrip\":true,\"special\":true}],"
    "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"b\",1],\"cls\":[\"a\",0]},\"decoder\":{\"type\":\"ByteLevel\"}}",
    "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Prepend\",\"prepend\":\"\\u2581\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"prepend_scheme\":\"first\"},\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,"
    "\"fuse_unk\":true,\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<0x61>\":1,\"\\u2581\":2,\"a\":3},\"merges\":[]},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t half = strlen(text) / 2;
    for (size_t k = 0; k < sizeof DOCS / sizeof *DOCS; k++) {
        cJSON *doc = cJSON_Parse(DOCS[k]);
        cf_tokenizer *tok = NULL;
        cf_error err = {0};
        if (!doc || cf_tokenizer_from_json(doc, "fuzz", &tok, &err) != CF_OK)
            abort(); /* the fixed documents are valid */
        cJSON_Delete(doc);
        cf_encode_options opt = cf_encode_options_default();
        opt.truncation = CF_TRUNCATE_LONGEST_FIRST;
        opt.max_length = 8 + (int64_t)(size % 8);
        opt.stride = (int64_t)(size % 3);
        opt.return_overflowing = 1;
        opt.padding = k == 0 ? CF_PAD_MAX_LENGTH : CF_PAD_NONE;
        cf_encoding e;
        if (cf_tokenizer_encode_pair(tok, text, text + half, &opt, &e, &err) == CF_OK) {
            char *out = NULL;
            if (cf_tokenizer_decode(tok, e.ids, e.n, 0, &out, &err) == CF_OK)
                free(out);
            cf_encoding_free(&e);
        }
        cf_tokenizer_free(tok);
    }
    free(text);
    return 0;
}
