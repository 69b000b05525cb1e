/* Unigram (sentencepiece): the scored pieces and Viterbi search live in unigram.c; this
 * adapts them to the model interface of tokenizer.json. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

#if defined(__has_include)
#if __has_include("tokenizers/unigram.h")
#include "tokenizers/unigram.h"
#define CF_HAVE_UNIGRAM 1
#endif
#endif

cf_status cf_unigram_model_parse(const cJSON *j, cf_model *m, cf_error *err)
{
    const char *w = "tokenizer.json Unigram model";
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsArray(vocab))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"vocab\" must be an array of [piece, score]", w);
    int64_t unk_id = -1;
    CF_TRY(cf_json_int(j, "unk_id", w, &unk_id, err));
    bool byte_fallback = false;
    CF_TRY(cf_json_bool(j, "byte_fallback", w, &byte_fallback, err));
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    const char **pieces = calloc(n ? n : 1, sizeof *pieces);
    m->scores = calloc(n ? n : 1, sizeof *m->scores);
    if (!pieces || !m->scores) {
        free(pieces);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    size_t i = 0;
    const cJSON *it;
    cf_status st = CF_OK;
    cJSON_ArrayForEach(it, vocab)
    {
        const cJSON *p = cJSON_GetArrayItem(it, 0), *s = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || !cJSON_IsString(p) || !cJSON_IsNumber(s)) {
            st = cf_fail(err, CF_ERR_FORMAT, "%s: vocab entry %zu must be [piece, score]", w, i);
            break;
        }
        pieces[i] = p->valuestring;
        m->scores[i] = s->valuedouble;
        bool added;
        st = cf_vocab_add(&m->vocab, p->valuestring, strlen(p->valuestring), (int64_t)i, &added, err);
        if (st != CF_OK)
            break;
        i++;
    }
    if (st == CF_OK && unk_id >= (int64_t)n)
        st = cf_fail(err, CF_ERR_FORMAT, "%s: unk_id %lld is outside the vocabulary of %zu pieces", w,
                     (long long)unk_id, n);
    m->unk_id = unk_id;
#ifdef CF_HAVE_UNIGRAM
    if (st == CF_OK)
        st = cf_unigram_new(pieces, m->scores, n, unk_id, byte_fallback, (cf_unigram **)&m->unigram, err);
#else
    if (st == CF_OK)
        st = cf_fail(err, CF_ERR_UNSUPPORTED, "the Unigram model is not available in this build");
#endif
    free(pieces);
    return st;
}

cf_status cf_unigram_model_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err)
{
#ifdef CF_HAVE_UNIGRAM
    cf_unigram_token *toks = NULL;
    size_t n = 0;
    CF_TRY(cf_unigram_encode(m->unigram, s, len, &toks, &n, err));
    cf_status st = CF_OK;
    for (size_t i = 0; i < n && st == CF_OK; i++)
        if (!cf_toks_push(out, toks[i].id, toks[i].start, toks[i].end))
            st = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    free(toks);
    return st;
#else
    (void)m, (void)s, (void)len, (void)out;
    return cf_fail(err, CF_ERR_UNSUPPORTED, "the Unigram model is not available in this build");
#endif
}

void cf_unigram_model_free(cf_model *m)
{
#ifdef CF_HAVE_UNIGRAM
    if (m->unigram)
        cf_unigram_free(m->unigram);
#endif
    m->unigram = NULL;
}
