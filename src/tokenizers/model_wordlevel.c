/* WordLevel: each pre-tokenized word is one vocabulary entry, else the unknown token. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

cf_status cf_wordlevel_parse(const cJSON *j, cf_model *m, cf_error *err)
{
    const char *w = "tokenizer.json WordLevel model";
    CF_TRY(cf_model_parse_vocab_object(cJSON_GetObjectItemCaseSensitive(j, "vocab"), w, &m->vocab, err));
    const char *unk = "<unk>";
    CF_TRY(cf_json_string(j, "unk_token", w, &unk, err));
    if (!(m->unk_token = strdup(unk)))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    m->unk_id = cf_vocab_find(&m->vocab, unk, strlen(unk));
    return CF_OK;
}

cf_status cf_wordlevel_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err)
{
    int64_t id = cf_vocab_find(&m->vocab, s, len);
    if (id < 0)
        id = m->unk_id;
    if (id < 0)
        return cf_fail(err, CF_ERR_FORMAT, "WordLevel: \"%.*s\" is not in the vocabulary and the unknown token \"%s\" is not either",
                       (int)(len > 64 ? 64 : len), s, m->unk_token);
    return cf_toks_push(out, id, 0, len) ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
}
