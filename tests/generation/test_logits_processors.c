/* Logits processors against transformers 4.35.2: every case folder under generation/ holds raw
 * `scores` + `input_ids` and, per named tensor, what the listed processor classes return.
 * Processor parameters are read from the tensor name ("top_k_20", "chain_rep1.2_temp0.8_..."). */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generation/logits_process.h"
#include "io/safetensors.h"
#include "common/testutil.h"

#define TOL 1e-6 /* absolute and relative, on every finite score */

/* Number following `key` in name at a word boundary ('_' or start), or NAN. */
static double param(const char *name, const char *const *keys)
{
    for (size_t k = 0; keys[k]; k++) {
        for (const char *p = strstr(name, keys[k]); p; p = strstr(p + 1, keys[k])) {
            if (p != name && p[-1] != '_')
                continue;
            const char *num = p + strlen(keys[k]);
            char *end;
            double v = strtod(num, &end);
            if (end != num)
                return v;
        }
    }
    return NAN;
}

typedef struct proc_case {
    const char *name;
    const int64_t *ids;
    int64_t len, vocab;
    cf_lp_scratch *scratch;
} proc_case;

/* Apply one processor class to a row; false when the class is unknown or its parameter missing. */
static bool apply(const char *cls, const proc_case *c, float *row)
{
    const char *n = c->name;
    if (!strcmp(cls, "TemperatureLogitsWarper")) {
        double t = param(n, (const char *const[]){"temperature_", "temp", NULL});
        if (isnan(t))
            return false;
        cf_lp_temperature(row, c->vocab, (float)t);
    } else if (!strcmp(cls, "TopKLogitsWarper")) {
        double k = param(n, (const char *const[]){"top_k_", "topk", NULL});
        if (isnan(k))
            return false;
        cf_lp_top_k(row, c->vocab, (int64_t)k, 1, c->scratch);
    } else if (!strcmp(cls, "TopPLogitsWarper")) {
        double p = param(n, (const char *const[]){"top_p_", "topp", NULL});
        if (isnan(p))
            return false;
        cf_lp_top_p(row, c->vocab, (float)p, 1, c->scratch);
    } else if (!strcmp(cls, "TypicalLogitsWarper")) {
        double p = param(n, (const char *const[]){"typical_p_", "typical", NULL});
        if (isnan(p))
            return false;
        cf_lp_typical_p(row, c->vocab, (float)p, 1, c->scratch);
    } else if (!strcmp(cls, "RepetitionPenaltyLogitsProcessor")) {
        double p = param(n, (const char *const[]){"repetition_penalty_", "rep", NULL});
        if (isnan(p))
            return false;
        cf_lp_repetition_penalty(row, c->vocab, c->ids, c->len, (float)p, c->scratch);
    } else if (!strcmp(cls, "NoRepeatNGramLogitsProcessor")) {
        double ng = param(n, (const char *const[]){"no_repeat_ngram_", "ngram", NULL});
        if (isnan(ng))
            return false;
        cf_lp_no_repeat_ngram(row, c->vocab, c->ids, c->len, (int64_t)ng);
    } else if (!strcmp(cls, "MinNewTokensLengthLogitsProcessor") || !strcmp(cls, "MinLengthLogitsProcessor")) {
        /* input_ids are taken as the prompt of a first generation step: no new tokens yet */
        double min_new = param(n, (const char *const[]){"min_new_tokens_", "min_length_", NULL});
        double eos = param(n, (const char *const[]){"eos_", NULL});
        if (isnan(min_new) || isnan(eos))
            return false;
        int64_t e = (int64_t)eos;
        bool short_ = !strcmp(cls, "MinLengthLogitsProcessor") ? c->len < (int64_t)min_new : 0 < (int64_t)min_new;
        if (short_)
            cf_lp_ban_tokens(row, c->vocab, &e, 1);
    } else {
        return false;
    }
    return true;
}

static void check_tensor(const char *dir, const char *name, const cJSON *classes, const float *scores,
                         const int64_t *ids, int64_t rows, int64_t len, int64_t vocab, const float *expected)
{
    cf_lp_scratch scratch;
    cr_assert(cf_lp_scratch_init(&scratch, vocab));
    float *row = malloc((size_t)vocab * sizeof *row);
    for (int64_t r = 0; r < rows; r++) {
        memcpy(row, scores + r * vocab, (size_t)vocab * sizeof *row);
        proc_case c = {name, ids + r * len, len, vocab, &scratch};
        if (cJSON_IsString(classes)) {
            cr_assert(apply(classes->valuestring, &c, row), "%s: %s: cannot apply %s", dir, name,
                      classes->valuestring);
        } else {
            for (const cJSON *cl = classes->child; cl; cl = cl->next)
                cr_assert(apply(cl->valuestring, &c, row), "%s: %s: cannot apply %s", dir, name, cl->valuestring);
        }
        const float *want = expected + r * vocab;
        for (int64_t i = 0; i < vocab; i++) {
            if (isinf(want[i]) || isinf(row[i])) {
                cr_assert(row[i] == want[i], "%s: %s row %lld token %lld: got %g, want %g", dir, name, (long long)r,
                          (long long)i, row[i], want[i]);
                continue;
            }
            cr_assert(fabs(row[i] - want[i]) <= TOL + TOL * fabs(want[i]),
                      "%s: %s row %lld token %lld: got %.9g, want %.9g", dir, name, (long long)r, (long long)i,
                      row[i], want[i]);
        }
    }
    free(row);
    cf_lp_scratch_free(&scratch);
}

Test(logits_processors, match_transformers)
{
    char **dirs;
    size_t n = cf_test_cases("generation", "expected.json", &dirs);
    size_t checked = 0;
    for (size_t d = 0; d < n; d++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/expected.json", dirs[d]);
        cJSON *exp = cf_test_read_json(path);
        cr_assert(exp);
        const cJSON *procs = cJSON_GetObjectItem(exp, "processors");
        if (!procs) {
            cJSON_Delete(exp);
            continue;
        }
        snprintf(path, sizeof path, "%s/expected.safetensors", dirs[d]);
        cf_safetensors *st;
        cf_error err = {0};
        cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
        float *scores;
        cr_assert_eq(cf_st_get_f32(st, "scores", 2, (int64_t[]){-1, -1}, &scores, &err), CF_OK, "%s", err.message);
        const cf_tensor *ids_t = cf_st_find(st, "input_ids");
        cr_assert(ids_t && ids_t->dtype == CF_DTYPE_I64 && ids_t->ndim == 2);
        const cf_tensor *sc_t = cf_st_find(st, "scores");
        int64_t rows = sc_t->shape[0], vocab = sc_t->shape[1];
        cr_assert_eq(ids_t->shape[0], rows);
        for (const cJSON *p = procs->child; p; p = p->next) {
            float *want;
            cr_assert_eq(cf_st_get_f32(st, p->string, 2, (int64_t[]){rows, vocab}, &want, &err), CF_OK, "%s",
                         err.message);
            check_tensor(dirs[d], p->string, p, scores, ids_t->data, rows, ids_t->shape[1], vocab, want);
            free(want);
            checked++;
        }
        free(scores);
        cf_st_close(st);
        cJSON_Delete(exp);
    }
    cf_test_free_list(dirs, n);
    cr_assert(checked > 0, "no logits-processor cases found under %s/generation", cf_test_fixtures());
}
