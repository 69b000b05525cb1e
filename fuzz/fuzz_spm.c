/* libFuzzer target: the sentencepiece ModelProto reader, and the precompiled charsmap
 * (both the one a parsed model carries and the raw input read as a charsmap). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizers/precompiled.h"
#include "tokenizers/spm_proto.h"
#include "tokenizers/unigram.h"

static const char sample[] = "Hello \xEF\xBD\x97orld\tna\xC3\xAFve a\xCC\x81\xCC\x81 \xE2\x96\x81x \xF0\x9F\xA4\x97";

static void exercise_charsmap(const uint8_t *map, size_t len)
{
    cf_error err = {0};
    cf_precompiled *p;
    if (cf_precompiled_new(map, len, &p, &err) != CF_OK)
        return;
    char *out;
    size_t out_len;
    if (cf_precompiled_normalize_string(p, sample, sizeof sample - 1, &out, &out_len, &err) == CF_OK)
        free(out);
    cf_precompiled_free(p);
}

static void exercise_unigram(const cf_spm_model *m)
{
    size_t n = m->n_pieces;
    const char **pieces = malloc(n * sizeof *pieces);
    double *scores = malloc(n * sizeof *scores);
    if (!pieces || !scores)
        goto done;
    for (size_t i = 0; i < n; i++) {
        pieces[i] = m->pieces[i].piece;
        scores[i] = m->pieces[i].score;
    }
    cf_error err = {0};
    cf_unigram *u;
    if (cf_unigram_new(pieces, scores, n, m->trainer.unk_id, m->trainer.byte_fallback, &u, &err) == CF_OK) {
        cf_unigram_token *t;
        size_t nt;
        if (cf_unigram_encode(u, sample, sizeof sample - 1, &t, &nt, &err) == CF_OK)
            free(t);
        cf_unigram_free(u);
    }
done:
    free(pieces);
    free(scores);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cf_error err = {0};
    cf_spm_model m;
    if (cf_spm_parse(data, size, "fuzz.model", &m, &err) == CF_OK) {
        if (m.normalizer.charsmap_len)
            exercise_charsmap(m.normalizer.precompiled_charsmap, m.normalizer.charsmap_len);
        if (m.n_pieces <= 4096)
            exercise_unigram(&m);
        cf_spm_model_free(&m);
    }
    exercise_charsmap(data, size);
    return 0;
}
