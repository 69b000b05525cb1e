#include "generation/logits_process.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cf_lp_scratch_init(cf_lp_scratch *s, int64_t vocab)
{
    memset(s, 0, sizeof *s);
    s->vocab = vocab;
    s->order = malloc((size_t)vocab * sizeof *s->order);
    s->values = malloc((size_t)vocab * sizeof *s->values);
    s->cumsum = malloc((size_t)vocab * sizeof *s->cumsum);
    s->seen = calloc((size_t)vocab, 1);
    if (!s->order || !s->values || !s->cumsum || !s->seen) {
        cf_lp_scratch_free(s);
        return false;
    }
    return true;
}

void cf_lp_scratch_free(cf_lp_scratch *s)
{
    free(s->order);
    free(s->values);
    free(s->cumsum);
    free(s->seen);
    memset(s, 0, sizeof *s);
}

static bool in_vocab(int64_t id, int64_t vocab) { return id >= 0 && id < vocab; }

void cf_lp_repetition_penalty(float *row, int64_t vocab, const int64_t *ids, int64_t len, float penalty,
                              cf_lp_scratch *s)
{
    /* gather-then-scatter in Python: a token repeated in ids is penalised once */
    for (int64_t i = 0; i < len; i++) {
        int64_t t = ids[i];
        if (!in_vocab(t, vocab) || s->seen[t])
            continue;
        s->seen[t] = 1;
        row[t] = row[t] < 0 ? row[t] * penalty : row[t] / penalty;
    }
    for (int64_t i = 0; i < len; i++)
        if (in_vocab(ids[i], vocab))
            s->seen[ids[i]] = 0;
}

void cf_lp_no_repeat_ngram(float *row, int64_t vocab, const int64_t *ids, int64_t len, int64_t n)
{
    if (n <= 0 || len + 1 < n)
        return;
    const int64_t *tail = ids + len - (n - 1); /* the n-1 tokens an n-gram would continue */
    for (int64_t start = 0; start + n <= len; start++) {
        if (memcmp(ids + start, tail, (size_t)(n - 1) * sizeof *ids) != 0)
            continue;
        int64_t banned = ids[start + n - 1];
        if (in_vocab(banned, vocab))
            row[banned] = -INFINITY;
    }
}

void cf_lp_bad_words(float *row, int64_t vocab, const int64_t *ids, int64_t len, const int64_t *const *words,
                     const size_t *word_lens, size_t n_words)
{
    for (size_t w = 0; w < n_words; w++) {
        size_t wl = word_lens[w];
        if (wl == 0)
            continue;
        size_t prefix = wl - 1;
        if ((int64_t)prefix > len)
            continue;
        if (prefix && memcmp(ids + len - (int64_t)prefix, words[w], prefix * sizeof *ids) != 0)
            continue;
        int64_t banned = words[w][prefix];
        if (in_vocab(banned, vocab))
            row[banned] = -INFINITY;
    }
}

void cf_lp_ban_tokens(float *row, int64_t vocab, const int64_t *tokens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (in_vocab(tokens[i], vocab))
            row[tokens[i]] = -INFINITY;
}

void cf_lp_force_tokens(float *row, int64_t vocab, const int64_t *tokens, size_t n)
{
    for (int64_t i = 0; i < vocab; i++)
        row[i] = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (in_vocab(tokens[i], vocab))
            row[tokens[i]] = 0.0f;
}

void cf_lp_temperature(float *row, int64_t vocab, float temperature)
{
    for (int64_t i = 0; i < vocab; i++)
        row[i] = row[i] / temperature;
}

/* k-th largest (1-based) of v[0..n) by quickselect; v is reordered. */
static float kth_largest(float *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot)
                i++;
            while (v[j] < pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return v[want];
}

void cf_lp_top_k(float *row, int64_t vocab, int64_t k, int64_t min_keep, cf_lp_scratch *s)
{
    if (k < min_keep)
        k = min_keep;
    if (k >= vocab || k <= 0)
        return;
    memcpy(s->values, row, (size_t)vocab * sizeof *row);
    float kth = kth_largest(s->values, vocab, k);
    for (int64_t i = 0; i < vocab; i++)
        if (row[i] < kth)
            row[i] = -INFINITY;
}

/* Ascending by key; equal keys by index, so the order is deterministic. */
static int cmp_key_asc(const void *a, const void *b, void *keys_)
{
    const float *keys = keys_;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    float x = keys[i], y = keys[j];
    if (x != y)
        return x < y ? -1 : 1;
    return (i > j) - (i < j);
}

static void sort_by_key(int32_t *order, int64_t n, const float *keys)
{
    qsort_r(order, (size_t)n, sizeof *order, cmp_key_asc, (void *)keys);
}

/* Softmax probabilities of logits[order[0..n)] accumulated in order into cum (double, as
 * torch's CPU cumsum accumulates float in double). */
static void cumulative_probs(const float *logits, const int32_t *order, int64_t n, double *cum)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = fmaxf(mx, logits[order[i]]);
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += expf(logits[order[i]] - mx);
    double acc = 0;
    for (int64_t i = 0; i < n; i++) {
        acc += (float)(expf(logits[order[i]] - mx) / sum);
        cum[i] = (float)acc;
    }
}

void cf_lp_top_p(float *row, int64_t vocab, float top_p, int64_t min_keep, cf_lp_scratch *s)
{
    /* -inf entries sort first with probability 0: they stay removed and add nothing */
    int64_t n = 0;
    for (int64_t i = 0; i < vocab; i++)
        if (row[i] != -INFINITY)
            s->order[n++] = (int32_t)i;
    sort_by_key(s->order, n, row);
    cumulative_probs(row, s->order, n, s->cumsum);
    float threshold = 1.0f - top_p;
    for (int64_t i = 0; i < n - min_keep; i++)
        if (s->cumsum[i] <= threshold)
            row[s->order[i]] = -INFINITY;
}

void cf_lp_typical_p(float *row, int64_t vocab, float mass, int64_t min_keep, cf_lp_scratch *s)
{
    /* entropy of the distribution; -inf tokens have p = 0 and are skipped (nansum) */
    float *logp = s->values;
    memcpy(logp, row, (size_t)vocab * sizeof *row);
    cf_lp_log_softmax(logp, vocab);
    double ent = 0;
    for (int64_t i = 0; i < vocab; i++)
        if (logp[i] != -INFINITY)
            ent -= (double)logp[i] * expf(logp[i]);
    float entf = (float)ent;
    for (int64_t i = 0; i < vocab; i++) {
        logp[i] = fabsf(-logp[i] - entf); /* shifted score: distance from the entropy */
        s->order[i] = (int32_t)i;
    }
    sort_by_key(s->order, vocab, logp);
    cumulative_probs(row, s->order, vocab, s->cumsum);
    int64_t last = 0;
    for (int64_t i = 0; i < vocab; i++)
        last += s->cumsum[i] < mass;
    if (last > vocab - 1)
        last = vocab - 1;
    float cutoff = logp[s->order[last]];
    for (int64_t i = min_keep; i < vocab; i++)
        if (logp[s->order[i]] > cutoff)
            row[s->order[i]] = -INFINITY;
}

void cf_lp_softmax(float *row, int64_t vocab)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < vocab; i++)
        mx = fmaxf(mx, row[i]);
    double sum = 0;
    for (int64_t i = 0; i < vocab; i++) {
        row[i] = expf(row[i] - mx);
        sum += row[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < vocab; i++)
        row[i] *= inv;
}

void cf_lp_log_softmax(float *row, int64_t vocab)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < vocab; i++)
        mx = fmaxf(mx, row[i]);
    double sum = 0;
    for (int64_t i = 0; i < vocab; i++)
        sum += expf(row[i] - mx);
    float lse = (float)log(sum);
    for (int64_t i = 0; i < vocab; i++)
        row[i] = row[i] - mx - lse;
}
