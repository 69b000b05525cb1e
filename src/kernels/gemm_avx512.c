/* Single-threaded f32 GEMM for AVX-512, in the BLIS layout (Goto & van de Geijn, "Anatomy of
 * high-performance matrix multiplication"): row-major A is read in place (a transposed A is
 * packed into 8-row micro-panels), op(B) into a kc x 48 panel (transposed with 16x16 register transposes when B is a torch-layout
 * weight), and an 8x48 register tile (24 zmm accumulators) takes one broadcast of A and three
 * loads of B per k. Edges are zero-padded in the packs and masked on the store. */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kernels/gemm_own.h"
#include "kernels/scratch.h"
#include "kernels/vmath512.h"

#ifndef MR
#define MR 8
#endif
#ifndef NV
#define NV 3 /* zmm vectors per tile row */
#endif
#define NR (16 * NV)
#define KC 768 /* B panel: KC*NR*4 = 144 KB in L2; one k block for d_model 768 inputs, so C is written once */
#define MC 512 /* rows per A block (a transposed A is packed block by block: MC*KC*4 bytes) */
_Static_assert(NR == CF_GEMM_PANEL, "prepacked panel width must match the micro-kernel");

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Ap[panel][k][r] = A^T[i0 + panel*MR + r][k0 + k] = A[k0 + k][i0 + panel*MR + r], rows past m zero. */
static void pack_a(const float *A, int64_t lda, int64_t i0, int64_t m, int64_t k0, int64_t kc, float *Ap)
{
    for (int64_t p = 0; p < m; p += MR) {
        int64_t rows = min64(MR, m - p);
        for (int64_t k = 0; k < kc; k++) {
            float *dst = Ap + (p / MR) * kc * MR + k * MR;
            const float *src = A + (k0 + k) * lda + i0 + p;
            for (int64_t r = 0; r < rows; r++)
                dst[r] = src[r];
            for (int64_t r = rows; r < MR; r++)
                dst[r] = 0.0f;
        }
    }
}

/* In-register transpose of a 16x16 tile: r[i][j] -> r[j][i]. */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/* panel[k][c] = src[c * ld + k] for a cols x kc source: 16x16 register transposes, scalar edges. */
static void pack_transposed(const float *src, int64_t ld, int64_t cols, int64_t kc, float *panel)
{
    int64_t c = 0;
    for (; c + 16 <= cols; c += 16) {
        int64_t k = 0;
        for (; k + 16 <= kc; k += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = _mm512_loadu_ps(src + (c + i) * ld + k);
            transpose16(r);
            for (int i = 0; i < 16; i++)
                _mm512_store_ps(panel + (k + i) * NR + c, r[i]);
        }
        for (; k < kc; k++)
            for (int i = 0; i < 16; i++)
                panel[k * NR + c + i] = src[(c + i) * ld + k];
    }
    for (; c < cols; c++)
        for (int64_t k = 0; k < kc; k++)
            panel[k * NR + c] = src[c * ld + k];
}

/* Bp[k][c] = op(B)[k0 + k][j0 + c] for one panel of n <= NR columns, columns past n zero. */
static void pack_b(bool trans, const float *B, int64_t ldb, int64_t j0, int64_t n, int64_t k0, int64_t kc, float *Bp)
{
    if (trans)
        pack_transposed(B + j0 * ldb + k0, ldb, n, kc, Bp);
    else
        for (int64_t k = 0; k < kc; k++)
            memcpy(Bp + k * NR, B + (k0 + k) * ldb + j0, (size_t)n * sizeof(float));
    if (n < NR)
        for (int64_t k = 0; k < kc; k++)
            memset(Bp + k * NR + n, 0, (size_t)(NR - n) * sizeof(float));
}

static inline __mmask16 cols_mask(int64_t cols) { return cols >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1u); }

/* Where the rows of op(A) come from for one MR-row tile: row r, column k is rows[r][k * k_stride].
 * Row-major A is read in place (k_stride 1); a transposed A is packed first (k_stride MR). Rows
 * past the matrix repeat its last row, so every pointer stays inside A; their results are not stored. */
typedef struct a_tile {
    const float *rows[MR];
    int64_t k_stride;
} a_tile;

/* What the last k block adds to a finished tile: bias[cols] (or NULL) and the activation. */
typedef struct epilogue {
    const float *bias;
    cf_act act;
} epilogue;

/* C[0:rows, 0:cols] = alpha * A Bp + (first ? beta * C : C), then the epilogue when `last` is set. */
static void micro_kernel(const a_tile *A, const float *Bp, int64_t kc, float *C, int64_t ldc, int64_t rows,
                         int64_t cols, float alpha, float beta, bool first, const epilogue *last)
{
    __m512 acc[MR][NV];
    const float *a[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        a[r] = A->rows[r];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = _mm512_setzero_ps();
    }
    const int64_t ks = A->k_stride;
    for (int64_t k = 0; k < kc; k++) {
        __m512 b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            b[v] = _mm512_load_ps(Bp + k * NR + 16 * v);
        const int64_t off = k * ks;
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            __m512 av = _mm512_set1_ps(a[r][off]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                acc[r][v] = _mm512_fmadd_ps(av, b[v], acc[r][v]);
        }
    }
    __mmask16 mask[NV];
    for (int v = 0; v < NV; v++)
        mask[v] = cols_mask(cols - 16 * v > 0 ? cols - 16 * v : 0);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < NV; v++) {
            float *c = C + r * ldc + 16 * v;
            __m512 x = _mm512_mul_ps(va, acc[r][v]);
            if (!first)
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[v], c));
            else if (beta != 0.0f)
                x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], c), x);
            if (last) {
                if (last->bias)
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask[v], last->bias + 16 * v));
                x = cf_act512(last->act, x);
            }
            _mm512_mask_storeu_ps(c, mask[v], x);
        }
}

/* The A tile of rows [i, i + rows) and columns [k0, ...): in place for row-major A, else from the
 * packed block Ap (whose first row is block_row0). */
static a_tile tile_of(bool packed, const float *A, int64_t lda, const float *Ap, int64_t kc, int64_t block_row0,
                      int64_t i, int64_t rows, int64_t k0)
{
    a_tile t;
    if (packed) {
        const float *panel = Ap + ((i - block_row0) / MR) * kc * MR;
        for (int r = 0; r < MR; r++)
            t.rows[r] = panel + r;
        t.k_stride = MR;
    } else {
        for (int r = 0; r < MR; r++)
            t.rows[r] = A + (i + (r < rows ? r : rows - 1)) * lda + k0;
        t.k_stride = 1;
    }
    return t;
}

/* Where the B panels come from: packed on the fly from B, or prepacked (cf_gemm_pack_b). */
typedef struct b_source {
    const float *panels; /* prepacked: panel p is K x NR at panels + p*K*NR; NULL = pack from B */
    bool trans;
    const float *B;
    int64_t ldb;
} b_source;

/* C[:, j0:j1] for columns [j0, j1) (j0 a multiple of NR). Returns false when scratch is short.
 * Row-major A is read in place: every thread works on all rows of its columns, so packing A
 * would repeat the same copy in each thread and each chunk of columns. */
static bool gemm_driver(bool trans_a, int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, const float *A,
                        int64_t lda, const b_source *bs, float beta, float *C, int64_t ldc, const epilogue *ep)
{
    float *Bp = bs->panels ? NULL : cf_scratch_f32(CF_SCRATCH_GEMM_B, (size_t)KC * NR);
    float *Ap = trans_a ? cf_scratch_f32(CF_SCRATCH_GEMM_A, (size_t)KC * (MC + MR)) : NULL;
    if ((!bs->panels && !Bp) || (trans_a && !Ap))
        return false;
    /* Each B panel is packed (or found prepacked) just before the row block sweeps it, so it is
     * read from L1/L2. */
    for (int64_t ic = 0; ic < M; ic += MC) {
        int64_t mc = min64(MC, M - ic);
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            if (trans_a)
                pack_a(A, lda, ic, mc, pc, kc, Ap);
            for (int64_t jr = j0; jr < j1; jr += NR) {
                int64_t cols = min64(NR, j1 - jr);
                const float *panel = Bp;
                if (bs->panels)
                    panel = bs->panels + (jr / NR) * K * NR + pc * NR;
                else
                    pack_b(bs->trans, bs->B, bs->ldb, jr, cols, pc, kc, Bp);
                epilogue tile_ep = {ep && ep->bias ? ep->bias + jr : NULL, ep ? ep->act : CF_ACT_NONE};
                const epilogue *last = ep && pc + kc == K ? &tile_ep : NULL;
                for (int64_t ir = 0; ir < mc; ir += MR) {
                    int64_t rows = min64(MR, mc - ir);
                    a_tile at = tile_of(trans_a, A, lda, Ap, kc, ic, ic + ir, rows, pc);
                    micro_kernel(&at, panel, kc, C + (ic + ir) * ldc + jr, ldc, rows, cols, alpha, beta, pc == 0,
                                 last);
                }
            }
        }
    }
    return true;
}

/* Returns false, leaving C untouched, when the packing scratch cannot be allocated. */
bool cf_gemm_own_avx512(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                        int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    b_source bs = {NULL, trans_b, B, ldb};
    return gemm_driver(trans_a, M, 0, N, K, alpha, A, lda, &bs, beta, C, ldc, NULL);
}

void cf_gemm_pack_panels_avx512(bool trans_b, int64_t K, int64_t N, const float *B, int64_t ldb, float *panels)
{
    for (int64_t j = 0; j < N; j += NR)
        pack_b(trans_b, B, ldb, j, min64(NR, N - j), 0, K, panels + (j / NR) * K * NR);
}

bool cf_gemm_packed_avx512(bool trans_a, int64_t M, int64_t j0, int64_t j1, int64_t K, float alpha, const float *A,
                           int64_t lda, const float *panels, float beta, float *C, int64_t ldc, const float *bias,
                           cf_act act)
{
    b_source bs = {panels, false, NULL, 0};
    epilogue ep = {bias, act};
    return gemm_driver(trans_a, M, j0, j1, K, alpha, A, lda, &bs, beta, C, ldc,
                       bias || act != CF_ACT_NONE ? &ep : NULL);
}

/* y[j0:j1] = x . panels (+ bias): one pass over the packed panels, two k per step. */
void cf_matvec_packed_avx512(const float *panels, const float *x, const float *bias, float *y, int64_t K, int64_t j0,
                             int64_t j1)
{
    for (int64_t j = j0; j < j1; j += NR) {
        const float *p = panels + (j / NR) * K * NR;
        __m512 a[NV], b[NV];
        for (int v = 0; v < NV; v++)
            a[v] = _mm512_setzero_ps(), b[v] = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 2 <= K; k += 2) {
            __m512 x0 = _mm512_set1_ps(x[k]), x1 = _mm512_set1_ps(x[k + 1]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                a[v] = _mm512_fmadd_ps(x0, _mm512_load_ps(p + k * NR + 16 * v), a[v]);
                b[v] = _mm512_fmadd_ps(x1, _mm512_load_ps(p + (k + 1) * NR + 16 * v), b[v]);
            }
        }
        if (k < K) {
            __m512 x0 = _mm512_set1_ps(x[k]);
            for (int v = 0; v < NV; v++)
                a[v] = _mm512_fmadd_ps(x0, _mm512_load_ps(p + k * NR + 16 * v), a[v]);
        }
        int64_t cols = min64(NR, j1 - j);
        for (int v = 0; v < NV; v++) {
            __mmask16 m = cols_mask(cols - 16 * v > 0 ? cols - 16 * v : 0);
            __m512 r = _mm512_add_ps(a[v], b[v]);
            if (bias)
                r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bias + j + 16 * v));
            _mm512_mask_storeu_ps(y + j + 16 * v, m, r);
        }
    }
}
