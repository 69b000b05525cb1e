/* bf16 and int8 block kernels for AVX2 (no bf16 or VNNI dot instructions): same packed panels as
 * the AVX-512 path. bf16 words are split into their even/odd halves as f32 and FMA'd; int8 quads
 * are widened to 16 bits and summed pairwise with vpmaddwd, which is exact (no saturation). Up to 4
 * rows x 16 columns per register tile. */
#include <immintrin.h>

#include "kernels/gemm_lowp.h"

#define AVX2_MR 4
#define INLINE static inline __attribute__((always_inline))

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

INLINE __m256 bf16_even(__m256i w) { return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)); }
INLINE __m256 bf16_odd(__m256i w) { return _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32((int)0xffff0000u))); }

/* C[i0 + r, j0 + 0..15] for r < rows, from columns c0, c0 + 8 of the panel. */
INLINE void bf16_tile(const cf_lowp_task *t, const uint32_t *panel, int64_t words, int64_t i, int64_t c0,
                      float out[AVX2_MR][16], const int rows)
{
    __m256 acc[AVX2_MR][2];
    #pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    const uint32_t *a = t->a + i * t->a_ld;
    for (int64_t kw = 0; kw < words; kw++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(panel + kw * LOWP_NR + c0));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(panel + kw * LOWP_NR + c0 + 8));
        __m256 e0 = bf16_even(w0), o0 = bf16_odd(w0), e1 = bf16_even(w1), o1 = bf16_odd(w1);
        #pragma GCC unroll 4
        for (int r = 0; r < rows; r++) {
            __m256i aw = _mm256_set1_epi32((int)a[r * t->a_ld + kw]);
            __m256 ae = bf16_even(aw), ao = bf16_odd(aw);
            acc[r][0] = _mm256_fmadd_ps(ae, e0, _mm256_fmadd_ps(ao, o0, acc[r][0]));
            acc[r][1] = _mm256_fmadd_ps(ae, e1, _mm256_fmadd_ps(ao, o1, acc[r][1]));
        }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_ps(out[r], acc[r][0]);
        _mm256_storeu_ps(out[r] + 8, acc[r][1]);
    }
}

/* Four columns' quads against one row's quad: lanes hold (k0 k1) and (k2 k3) partial sums per column. */
INLINE __m256i quad_dot(__m128i w4, __m256i a16) { return _mm256_madd_epi16(_mm256_cvtepi8_epi16(w4), a16); }

/* Sum adjacent lanes of (columns 0-3, columns 4-7) into 8 column sums in order. */
INLINE __m256i pair_sums(__m256i lo, __m256i hi)
{
    return _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo, hi), _MM_SHUFFLE(3, 1, 2, 0));
}

INLINE void int8_tile(const cf_lowp_task *t, const uint32_t *panel, int64_t words, int64_t i, int64_t c0,
                      int32_t out[AVX2_MR][16], const int rows)
{
    __m256i acc[AVX2_MR][4];
    #pragma GCC unroll 4
    for (int r = 0; r < rows; r++)
        #pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            acc[r][q] = _mm256_setzero_si256();
    const uint32_t *a = t->a + i * t->a_ld;
    for (int64_t kw = 0; kw < words; kw++) {
        const uint32_t *b = panel + kw * LOWP_NR + c0;
        __m128i w[4];
        #pragma GCC unroll 4
        for (int q = 0; q < 4; q++)
            w[q] = _mm_loadu_si128((const __m128i *)(b + 4 * q));
        #pragma GCC unroll 4
        for (int r = 0; r < rows; r++) {
            __m256i a16 = _mm256_cvtepu8_epi16(_mm_set1_epi32((int)a[r * t->a_ld + kw]));
            #pragma GCC unroll 4
            for (int q = 0; q < 4; q++)
                acc[r][q] = _mm256_add_epi32(acc[r][q], quad_dot(w[q], a16));
        }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < rows; r++) {
        _mm256_storeu_si256((__m256i *)out[r], pair_sums(acc[r][0], acc[r][1]));
        _mm256_storeu_si256((__m256i *)(out[r] + 8), pair_sums(acc[r][2], acc[r][3]));
    }
}

#define ROWS_SWITCH(fn, rows, ...)                                                                                   \
    switch (rows) {                                                                                                  \
    case 1: fn(__VA_ARGS__, 1); break;                                                                               \
    case 2: fn(__VA_ARGS__, 2); break;                                                                               \
    case 3: fn(__VA_ARGS__, 3); break;                                                                               \
    default: fn(__VA_ARGS__, 4); break;                                                                              \
    }

/* Finished C values for rows [i, i + rows) x the panel's columns [c0, c0 + n) (n <= 16), output
 * column j + c0 + x, into out[r][x]. */
typedef void (*segment_fn)(const cf_lowp_task *t, const uint32_t *panel, int64_t words, int64_t i, int64_t rows,
                           int64_t j, int64_t c0, int64_t n, float out[AVX2_MR][16]);

static void bf16_segment(const cf_lowp_task *t, const uint32_t *panel, int64_t words, int64_t i, int64_t rows,
                         int64_t j, int64_t c0, int64_t n, float out[AVX2_MR][16])
{
    (void)j, (void)n;
    ROWS_SWITCH(bf16_tile, rows, t, panel, words, i, c0, out)
}

static void int8_segment(const cf_lowp_task *t, const uint32_t *panel, int64_t words, int64_t i, int64_t rows,
                         int64_t j, int64_t c0, int64_t n, float out[AVX2_MR][16])
{
    int32_t acc[AVX2_MR][16];
    ROWS_SWITCH(int8_tile, rows, t, panel, words, i, c0, acc)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t x = 0; x < n; x++) {
            int64_t col = j + c0 + x;
            int32_t s = acc[r][x] - t->a_zero[i + r] * t->w->colsum[col];
            out[r][x] = (float)s * (t->a_scale[i + r] * t->w->scale[col]);
        }
}

static void avx2_blocks(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1, segment_fn segment)
{
    int64_t words = cf_lowp_words(t->w);
    for (int64_t p = p0; p < p1; p++) {
        const uint32_t *panel = t->w->panels + p * words * LOWP_NR;
        int64_t j = p * LOWP_NR, cols = min64(LOWP_NR, t->w->N - j);
        for (int64_t i = i0; i < i1; i += AVX2_MR) {
            int64_t rows = min64(AVX2_MR, i1 - i);
            for (int64_t c0 = 0; c0 < cols; c0 += 16) {
                float out[AVX2_MR][16];
                int64_t n = min64(16, cols - c0);
                segment(t, panel, words, i, rows, j, c0, n, out);
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t x = 0; x < n; x++)
                        t->c[(i + r) * t->ldc + j + c0 + x] = out[r][x];
            }
            for (int64_t r = 0; r < rows; r++)
                cf_lowp_finish_row(t, t->c + (i + r) * t->ldc + j, j, cols);
        }
    }
}

void cf_lowp_bf16_avx2(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1)
{
    avx2_blocks(t, i0, i1, p0, p1, bf16_segment);
}

void cf_lowp_int8_avx2(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1)
{
    avx2_blocks(t, i0, i1, p0, p1, int8_segment);
}
