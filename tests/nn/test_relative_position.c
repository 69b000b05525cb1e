/* T5 relative position buckets: distances worked out by hand from the formula of
 * transformers' T5Attention._relative_position_bucket (num_buckets 32, max_distance 128, the
 * T5 defaults): exact buckets for small distances, log-spaced ones up to max_distance, the last
 * bucket beyond; the encoder gives later keys the upper half, the decoder ignores them. */
#include <criterion/criterion.h>

#include "nn/relative_position.h"

Test(relative_position, bidirectional_buckets)
{
    /* relative = key - query; 16 buckets per direction, 8 exact */
    struct { int64_t rel; int bucket; } cases[] = {
        {0, 0}, {-1, 1}, {-7, 7}, {-8, 8}, {-16, 10}, {-32, 12}, {-127, 15}, {-128, 15}, {-100000, 15},
        {1, 17}, {7, 23}, {8, 24}, {16, 26}, {127, 31}, {100000, 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(cf_relative_position_bucket(cases[i].rel, true, 32, 128), cases[i].bucket,
                     "relative %lld: bucket %d, want %d", (long long)cases[i].rel,
                     cf_relative_position_bucket(cases[i].rel, true, 32, 128), cases[i].bucket);
}

Test(relative_position, causal_buckets)
{
    /* 32 buckets, 16 exact; keys after the query all fall in bucket 0 */
    struct { int64_t rel; int bucket; } cases[] = {
        {5, 0}, {0, 0}, {-5, 5}, {-15, 15}, {-16, 16}, {-32, 21}, {-64, 26}, {-127, 31}, {-5000, 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(cf_relative_position_bucket(cases[i].rel, false, 32, 128), cases[i].bucket,
                     "relative %lld: bucket %d, want %d", (long long)cases[i].rel,
                     cf_relative_position_bucket(cases[i].rel, false, 32, 128), cases[i].bucket);
}

Test(relative_position, bias_layout_is_heads_queries_keys)
{
    enum { H = 2, NQ = 5, NKV = 9, Q0 = 3 };
    float table[8 * H];
    for (int b = 0; b < 8; b++)
        for (int h = 0; h < H; h++)
            table[b * H + h] = (float)(b * 10 + h);
    for (int bidirectional = 0; bidirectional < 2; bidirectional++) {
        cf_relative_position r = {.n_heads = H, .num_buckets = 8, .max_distance = 6,
                                  .bidirectional = bidirectional, .table = {.data = table}};
        float bias[H * NQ * NKV];
        cf_relative_position_bias(&r, Q0, NQ, NKV, bias); /* queries at positions 3..7, keys 0..8 */
        for (int h = 0; h < H; h++)
            for (int i = 0; i < NQ; i++)
                for (int j = 0; j < NKV; j++) {
                    int b = cf_relative_position_bucket(j - (Q0 + i), bidirectional, 8, 6);
                    cr_expect_eq(bias[(h * NQ + i) * NKV + j], table[b * H + h], "head %d query %d key %d", h, i, j);
                }
    }
}
