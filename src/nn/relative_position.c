#include "nn/relative_position.h"

#include <math.h>
#include <string.h>

int cf_relative_position_bucket(int64_t relative, bool bidirectional, int num_buckets, int max_distance)
{
    int bucket = 0;
    int64_t distance;
    if (bidirectional) {
        num_buckets /= 2;
        bucket += relative > 0 ? num_buckets : 0;
        distance = relative < 0 ? -relative : relative;
    } else {
        distance = relative < 0 ? -relative : 0;
    }
    int max_exact = num_buckets / 2;
    if (distance < max_exact)
        return bucket + (int)distance;
    /* float32 throughout, as torch computes it; the cast truncates */
    float ratio = logf((float)distance / (float)max_exact) / (float)log((double)max_distance / max_exact);
    float scaled = ratio * (float)(num_buckets - max_exact);
    int64_t large = max_exact + (int64_t)scaled;
    if (large > num_buckets - 1)
        large = num_buckets - 1;
    return bucket + (int)large;
}

cf_status cf_relative_position_load(cf_relative_position *r, const cf_safetensors *st, const char *name,
                                    int n_heads, int num_buckets, int max_distance, bool bidirectional,
                                    cf_error *err)
{
    *r = (cf_relative_position){.n_heads = n_heads, .num_buckets = num_buckets, .max_distance = max_distance,
                                .bidirectional = bidirectional};
    int exact = bidirectional ? num_buckets / 4 : num_buckets / 2;
    if (exact < 1)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: %d relative position buckets are too few for %s attention",
                       name, num_buckets, bidirectional ? "bidirectional" : "causal");
    if (max_distance <= exact)
        return cf_fail(err, CF_ERR_UNSUPPORTED,
                       "%s: relative_attention_max_distance %d must exceed the %d exactly counted distances", name,
                       max_distance, exact);
    return cf_weight_load(&r->table, st, name, 2, (int64_t[]){num_buckets, n_heads}, err);
}

void cf_relative_position_free(cf_relative_position *r) { cf_weight_free(&r->table); }

static float table_at(const cf_relative_position *r, int64_t relative, int h)
{
    int b = cf_relative_position_bucket(relative, r->bidirectional, r->num_buckets, r->max_distance);
    return r->table.data[(int64_t)b * r->n_heads + h];
}

/* The bias depends on j - i only (a Toeplitz matrix): per head, the first row and the first column
 * are looked up, every later row is the row above shifted right by one. */
void cf_relative_position_bias(const cf_relative_position *r, int64_t q_start, int64_t n_q, int64_t n_kv,
                               float *bias)
{
    if (n_q <= 0 || n_kv <= 0)
        return;
    for (int h = 0; h < r->n_heads; h++) {
        float *plane = bias + (int64_t)h * n_q * n_kv;
        for (int64_t j = 0; j < n_kv; j++)
            plane[j] = table_at(r, j - q_start, h);
        for (int64_t i = 1; i < n_q; i++) {
            float *row = plane + i * n_kv;
            row[0] = table_at(r, -(q_start + i), h);
            memcpy(row + 1, row - n_kv, (size_t)(n_kv - 1) * sizeof(float));
        }
    }
}
