/* Unigram (sentencepiece): the scored pieces and Viterbi search live in unigram.c; this
 * adapts them to the model interface of tokenizer.json. A model with a "lattice" (Marian,
 * written by the converter) segments with the sentencepiece pieces and takes its ids and
 * token strings from "vocab". */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"
#include "tokenizers/unigram.h"

cf_status cf_unigram_model_parse(const cJSON *j, cf_model *m, cf_error *err)
{
    const char *w = "tokenizer.json Unigram model";
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(j, "vocab");
    if (!cJSON_IsArray(vocab))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"vocab\" must be an array of [piece, score]", w);
    cf_unigram *u;
    CF_TRY(cf_unigram_from_json(j, &u, err));
    m->unigram = u;
    const cJSON *lattice = cJSON_GetObjectItemCaseSensitive(j, "lattice");
    m->unigram_mapped = lattice && !cJSON_IsNull(lattice);
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, vocab)
    {
        const char *piece = cJSON_GetArrayItem(it, 0)->valuestring; /* checked by cf_unigram_from_json */
        bool added;
        CF_TRY(cf_vocab_add(&m->vocab, piece, strlen(piece), (int64_t)i, &added, err));
        i++;
    }
    int64_t unk_id = -1;
    CF_TRY(cf_json_int(j, "unk_id", w, &unk_id, err));
    m->unk_id = unk_id;
    return CF_OK;
}

cf_status cf_unigram_model_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err)
{
    cf_unigram_token *toks = NULL;
    size_t n = 0;
    CF_TRY(cf_unigram_encode(m->unigram, s, len, &toks, &n, err));
    cf_status st = CF_OK;
    for (size_t i = 0; i < n && st == CF_OK; i++)
        if (!cf_toks_push(out, toks[i].id, toks[i].start, toks[i].end))
            st = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    free(toks);
    return st;
}

void cf_unigram_model_free(cf_model *m)
{
    if (m->unigram)
        cf_unigram_free(m->unigram);
    m->unigram = NULL;
}
