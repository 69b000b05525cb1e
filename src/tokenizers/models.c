/* The model of tokenizer.json ("model": {"type": ...}) and what the models share. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

cf_status cf_model_parse_vocab_object(const cJSON *vocab, const char *where, cf_vocab *v, cf_error *err)
{
    if (!cJSON_IsObject(vocab))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"vocab\" must be an object {token: id}", where);
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 2147483647.0 ||
            it->valuedouble != (double)(int64_t)it->valuedouble)
            return cf_fail(err, CF_ERR_FORMAT, "%s: vocab entry \"%.64s\" must have a non-negative integer id", where,
                           it->string);
        CF_TRY(cf_vocab_add(v, it->string, strlen(it->string), (int64_t)it->valuedouble, NULL, err));
    }
    return CF_OK;
}

cf_status cf_model_parse(const cJSON *j, cf_model *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    out->unk_id = -1;
    if (!cJSON_IsObject(j))
        return cf_fail(err, CF_ERR_FORMAT, "tokenizer.json: \"model\" must be an object");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : NULL;
    if (!type) {
        /* Files written by old versions omit the type: infer it from the fields. */
        if (cJSON_GetObjectItemCaseSensitive(j, "merges"))
            type = "BPE";
        else if (cJSON_GetObjectItemCaseSensitive(j, "continuing_subword_prefix"))
            type = "WordPiece";
        else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "vocab")))
            type = "Unigram";
        else
            type = "WordLevel";
    }
    if (!strcmp(type, "WordPiece")) {
        out->kind = CF_MODEL_WORDPIECE;
        return cf_wordpiece_parse(j, out, err);
    }
    if (!strcmp(type, "BPE")) {
        out->kind = CF_MODEL_BPE;
        return cf_bpe_parse(j, out, err);
    }
    if (!strcmp(type, "WordLevel")) {
        out->kind = CF_MODEL_WORDLEVEL;
        return cf_wordlevel_parse(j, out, err);
    }
    if (!strcmp(type, "Unigram")) {
        out->kind = CF_MODEL_UNIGRAM;
        return cf_unigram_model_parse(j, out, err);
    }
    return cf_fail(err, CF_ERR_UNSUPPORTED, "tokenizer.json: model type \"%s\" is not supported", type);
}

cf_status cf_model_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err)
{
    switch (m->kind) {
    case CF_MODEL_WORDPIECE:
        return cf_wordpiece_tokenize(m, s, len, out, err);
    case CF_MODEL_BPE:
        return cf_bpe_tokenize(m, s, len, out, err);
    case CF_MODEL_WORDLEVEL:
        return cf_wordlevel_tokenize(m, s, len, out, err);
    case CF_MODEL_UNIGRAM:
        return cf_unigram_model_tokenize(m, s, len, out, err);
    }
    return cf_fail(err, CF_ERR_INTERNAL, "unknown model kind");
}

void cf_model_free(cf_model *m)
{
    if (m->kind == CF_MODEL_BPE)
        cf_bpe_free(m);
    if (m->kind == CF_MODEL_UNIGRAM)
        cf_unigram_model_free(m);
    cf_vocab_free(&m->vocab);
    free(m->unk_token);
    free(m->continuing_subword_prefix);
    free(m->end_of_word_suffix);
    free(m->scores);
    memset(m, 0, sizeof *m);
}
