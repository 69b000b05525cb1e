/* bf16 and int8 block kernels for AVX-512 BF16/VNNI. A register tile of up to 8 rows x 48 columns
 * (24 zmm accumulators) takes, per k-group, three loads of the packed panel and one 32-bit
 * broadcast of A per row: vdpbf16ps (2 bf16 products per lane) or vpdpbusd (4 u8 x s8 products
 * per lane). K is swept whole, so accumulators never leave registers; the epilogue applies the
 * int8 scales and zero point, the bias and the activation to the finished tile. */
#include <immintrin.h>

#include "kernels/gemm_lowp.h"
#include "kernels/vmath512.h"

#define NV 3 /* zmm vectors per tile row: LOWP_NR / 16 */
_Static_assert(LOWP_NR == 16 * NV, "panel width must be three zmm vectors");

#define INLINE static inline __attribute__((always_inline))

static inline __mmask16 cols_mask(int64_t cols)
{
    return cols >= 16 ? (__mmask16)0xffff : cols <= 0 ? (__mmask16)0 : (__mmask16)((1u << cols) - 1u);
}

typedef struct tile_pos {
    const uint32_t *panel;
    int64_t words, i, j, cols;
} tile_pos;

INLINE void store_row(const cf_lowp_task *t, const tile_pos *p, int r, const __m512 x[NV])
{
    float *c = t->c + (p->i + r) * t->ldc + p->j;
    #pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
        __mmask16 m = cols_mask(p->cols - 16 * v);
        __m512 y = x[v];
        if (t->bias)
            y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, t->bias + p->j + 16 * v));
        _mm512_mask_storeu_ps(c + 16 * v, m, cf_act512(t->act, y));
    }
}

/* The k loop of a tile: accumulators as named variables (c<row><vector>) so the compiler keeps
 * all 24 in registers (arrays of vectors invite spills here); rows is a constant per instance. */
#define ACC_DECL(T, zero, r) T c##r##0 = zero, c##r##1 = zero, c##r##2 = zero;
#define ACC_STEP(T, bcast, dot, r)                                                                                   \
    if (rows > r) {                                                                                                  \
        T av = bcast((int)a[r * ld + kw]);                                                                           \
        c##r##0 = dot(c##r##0, av, b0);                                                                              \
        c##r##1 = dot(c##r##1, av, b1);                                                                              \
        c##r##2 = dot(c##r##2, av, b2);                                                                              \
    }
#define ACC_SAVE(r)                                                                                                  \
    if (rows > r) {                                                                                                  \
        acc[r][0] = c##r##0, acc[r][1] = c##r##1, acc[r][2] = c##r##2;                                               \
    }
#define FOR_ROWS(M, ...) M(__VA_ARGS__, 0) M(__VA_ARGS__, 1) M(__VA_ARGS__, 2) M(__VA_ARGS__, 3) \
    M(__VA_ARGS__, 4) M(__VA_ARGS__, 5) M(__VA_ARGS__, 6) M(__VA_ARGS__, 7)
#define FOR_ROWS1(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
_Static_assert(LOWP_MR == 8, "the tile macros spell out 8 rows");

static inline __m512bh bcast_bf16(int x) { return (__m512bh)_mm512_set1_epi32(x); }
static inline __m512bh load_bf16(const uint32_t *p) { return (__m512bh)_mm512_load_si512(p); }

INLINE void bf16_tile(const cf_lowp_task *t, const tile_pos *p, const int rows)
{
    const uint32_t *a = t->a + p->i * t->a_ld;
    const int64_t ld = t->a_ld;
    FOR_ROWS(ACC_DECL, __m512, _mm512_setzero_ps())
    for (int64_t kw = 0; kw < p->words; kw++) {
        const uint32_t *b = p->panel + kw * LOWP_NR;
        __m512bh b0 = load_bf16(b), b1 = load_bf16(b + 16), b2 = load_bf16(b + 32);
        FOR_ROWS(ACC_STEP, __m512bh, bcast_bf16, _mm512_dpbf16_ps)
    }
    __m512 acc[LOWP_MR][NV];
    FOR_ROWS1(ACC_SAVE)
    for (int r = 0; r < rows; r++)
        store_row(t, p, r, acc[r]);
}

INLINE void int8_tile(const cf_lowp_task *t, const tile_pos *p, const int rows)
{
    const uint32_t *a = t->a + p->i * t->a_ld;
    const int64_t ld = t->a_ld;
    FOR_ROWS(ACC_DECL, __m512i, _mm512_setzero_si512())
    for (int64_t kw = 0; kw < p->words; kw++) {
        const uint32_t *b = p->panel + kw * LOWP_NR;
        __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 16), b2 = _mm512_load_si512(b + 32);
        FOR_ROWS(ACC_STEP, __m512i, _mm512_set1_epi32, _mm512_dpbusd_epi32)
    }
    __m512i acc[LOWP_MR][NV];
    FOR_ROWS1(ACC_SAVE)
    /* C = (acc - zero_a * colsum_w) * scale_a * scale_w: the u8 offset undone exactly in integers. */
    __m512i colsum[NV];
    __m512 wscale[NV];
    for (int v = 0; v < NV; v++) {
        __mmask16 m = cols_mask(p->cols - 16 * v);
        colsum[v] = _mm512_maskz_loadu_epi32(m, t->w->colsum + p->j + 16 * v);
        wscale[v] = _mm512_maskz_loadu_ps(m, t->w->scale + p->j + 16 * v);
    }
    for (int r = 0; r < rows; r++) {
        __m512i zero = _mm512_set1_epi32(t->a_zero[p->i + r]);
        __m512 ascale = _mm512_set1_ps(t->a_scale[p->i + r]);
        __m512 x[NV];
        for (int v = 0; v < NV; v++) {
            __m512i s = _mm512_sub_epi32(acc[r][v], _mm512_mullo_epi32(zero, colsum[v]));
            x[v] = _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(ascale, wscale[v]));
        }
        store_row(t, p, r, x);
    }
}

#define TILE_SWITCH(fn, t, pos, rows)                                                                                \
    switch (rows) {                                                                                                  \
    case 1: fn(t, pos, 1); break;                                                                                    \
    case 2: fn(t, pos, 2); break;                                                                                    \
    case 3: fn(t, pos, 3); break;                                                                                    \
    case 4: fn(t, pos, 4); break;                                                                                    \
    case 5: fn(t, pos, 5); break;                                                                                    \
    case 6: fn(t, pos, 6); break;                                                                                    \
    case 7: fn(t, pos, 7); break;                                                                                    \
    default: fn(t, pos, 8); break;                                                                                   \
    }

static tile_pos panel_pos(const cf_lowp_task *t, int64_t p)
{
    int64_t words = cf_lowp_words(t->w), j = p * LOWP_NR;
    int64_t cols = t->w->N - j < LOWP_NR ? t->w->N - j : LOWP_NR;
    return (tile_pos){.panel = t->w->panels + p * words * LOWP_NR, .words = words, .j = j, .cols = cols};
}

void cf_lowp_bf16_avx512(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1)
{
    for (int64_t p = p0; p < p1; p++) {
        tile_pos pos = panel_pos(t, p);
        for (pos.i = i0; pos.i < i1; pos.i += LOWP_MR) {
            int64_t rows = i1 - pos.i;
            TILE_SWITCH(bf16_tile, t, &pos, rows)
        }
    }
}

void cf_lowp_int8_avx512(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1)
{
    for (int64_t p = p0; p < p1; p++) {
        tile_pos pos = panel_pos(t, p);
        for (pos.i = i0; pos.i < i1; pos.i += LOWP_MR) {
            int64_t rows = i1 - pos.i;
            TILE_SWITCH(int8_tile, t, &pos, rows)
        }
    }
}

/* ------------------------------------------------------------ A conversion ---- */

/* 16 floats -> 16 bf16 (round to nearest even, NaN kept quiet), in the integer unit so the
 * result matches cf_f32_to_bf16 bit for bit. */
static inline __m256i bf16_round(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(r);
}

/* Rows of out have room for kp rounded up to 16 elements (64-byte rows), so tails store whole vectors. */
void cf_lowp_bf16_rows_avx512(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                              int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *a = A + r * lda;
        uint32_t *o = out + r * out_ld;
        for (int64_t k = 0; k < kp; k += 16) {
            __m512 x = _mm512_maskz_loadu_ps(cols_mask(K - k), a + k); /* zeros past K: bf16 +0 */
            _mm256_storeu_si256((__m256i *)(o + k / 2), bf16_round(x));
        }
    }
}

void cf_lowp_quant_rows_avx512(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                               float *scale, int32_t *zero, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *a = A + r * lda;
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
            __m512 x = _mm512_maskz_loadu_ps(cols_mask(K - k), a + k);
            lo = _mm512_min_ps(lo, x);
            hi = _mm512_max_ps(hi, x);
        }
        cf_lowp_row_params(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), &scale[r], &zero[r]);
        __m512 inv = _mm512_set1_ps(1.0f / scale[r]);
        __m512i z = _mm512_set1_epi32(zero[r]), q_max = _mm512_set1_epi32(255);
        uint32_t *o = out + r * out_ld;
        for (int64_t k = 0; k < kp; k += 16) {
            __m512 x = _mm512_maskz_loadu_ps(cols_mask(K - k), a + k); /* zeros past K: the zero point */
            __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x, inv)), z);
            q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_setzero_si512()), q_max);
            _mm_storeu_si128((__m128i *)(o + k / 4), _mm512_cvtepi32_epi8(q));
        }
    }
}
