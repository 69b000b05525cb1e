/* bf16 and int8 linear layers: weights packed once (cf_lowp_pack_*), activations converted once
 * per call, then panels of output columns split across the pool and computed by the widest
 * block kernel the CPU has. The portable kernels here are also the reference the others match. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/dispatch.h"
#include "kernels/gemm_lowp.h"
#include "kernels/kernels.h"
#include "kernels/scratch.h"
#include "core/pages.h"
#include "core/threadpool.h"

#define LOWP_SERIAL_MAX_OPS (1 << 17) /* below this one thread beats waking the pool */
#define LOWP_A_BLOCK_BYTES (192 * 1024) /* rows of converted A swept per panel: stays in L2 */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t n_panels(int64_t N) { return (N + LOWP_NR - 1) / LOWP_NR; }
static int group_size(cf_wtype t) { return t == CF_WTYPE_INT8 ? 4 : 2; }

const char *cf_wtype_name(cf_wtype t)
{
    switch (t) {
    case CF_WTYPE_BF16:
        return "bf16";
    case CF_WTYPE_INT8:
        return "int8";
    default:
        return "f32";
    }
}

bool cf_wtype_parse(const char *s, cf_wtype *out)
{
    static const struct { const char *name; cf_wtype t; } names[] = {
        {"f32", CF_WTYPE_F32},   {"float32", CF_WTYPE_F32}, {"fp32", CF_WTYPE_F32},
        {"bf16", CF_WTYPE_BF16}, {"bfloat16", CF_WTYPE_BF16}, {"int8", CF_WTYPE_INT8}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].t;
            return true;
        }
    return false;
}

void cf_act_span(cf_act act, float *x, int64_t n)
{
    switch (act) { /* spans are one tile row: under the element-wise grain, so they run inline */
    case CF_ACT_GELU_ERF:
        cf_gelu_erf(x, n);
        break;
    case CF_ACT_GELU_TANH:
        cf_gelu_tanh(x, n);
        break;
    case CF_ACT_SILU:
        cf_silu(x, n);
        break;
    case CF_ACT_RELU:
        cf_relu(x, n);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- packing ---- */

typedef struct pack_src {
    const float *f32;
    const uint16_t *bf16;
    int64_t stride_n, stride_k;
} pack_src;

static float src_at(const pack_src *s, int64_t n, int64_t k)
{
    int64_t at = n * s->stride_n + k * s->stride_k;
    return s->f32 ? s->f32[at] : cf_bf16_to_f32(s->bf16[at]);
}

static uint16_t src_bf16(const pack_src *s, int64_t n, int64_t k)
{
    int64_t at = n * s->stride_n + k * s->stride_k;
    return s->f32 ? cf_f32_to_bf16(s->f32[at]) : s->bf16[at];
}

static int8_t quantize_weight(const pack_src *s, int64_t n, int64_t k, int64_t K, float scale)
{
    float v = k < K && scale > 0.0f ? src_at(s, n, k) / scale : 0.0f;
    v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
    return (int8_t)rintf(v);
}

/* int8 column c of panel p: scale = max|W[n, :]| / 127, the quads, and their sum (for the zero point). */
static void pack_column_int8(const cf_lowp_weights *w, const pack_src *s, int64_t p, int64_t c)
{
    int64_t n = p * LOWP_NR + c, words = cf_lowp_words(w);
    uint32_t *panel = w->panels + p * words * LOWP_NR;
    float amax = 0.0f;
    for (int64_t k = 0; n < w->N && k < w->K; k++)
    {
        float v = fabsf(src_at(s, n, k));
        amax = v > amax ? v : amax;
    }
    float scale = amax > 0.0f && isfinite(amax) ? amax / 127.0f : 0.0f;
    int32_t sum = 0;
    for (int64_t kw = 0; kw < words; kw++) {
        uint32_t word = 0;
        for (int j = 0; j < 4; j++) {
            int8_t q = n < w->N ? quantize_weight(s, n, 4 * kw + j, w->K, scale) : 0;
            sum += q;
            word |= (uint32_t)(uint8_t)q << (8 * j);
        }
        panel[kw * LOWP_NR + c] = word;
    }
    w->scale[n] = scale;
    w->colsum[n] = sum;
}

static void pack_panel_bf16(const cf_lowp_weights *w, const pack_src *s, int64_t p)
{
    int64_t words = cf_lowp_words(w);
    uint32_t *panel = w->panels + p * words * LOWP_NR;
    for (int64_t kw = 0; kw < words; kw++)
        for (int64_t c = 0; c < LOWP_NR; c++) {
            int64_t n = p * LOWP_NR + c, k = 2 * kw;
            uint32_t lo = n < w->N ? src_bf16(s, n, k) : 0;
            uint32_t hi = n < w->N && k + 1 < w->K ? src_bf16(s, n, k + 1) : 0;
            panel[kw * LOWP_NR + c] = lo | hi << 16;
        }
}

typedef struct pack_task {
    cf_lowp_weights *w;
    const pack_src *src;
} pack_task;

static void pack_range(void *ctx, int64_t p0, int64_t p1)
{
    const pack_task *t = ctx;
    for (int64_t p = p0; p < p1; p++) {
        if (t->w->type == CF_WTYPE_INT8)
            for (int64_t c = 0; c < LOWP_NR; c++)
                pack_column_int8(t->w, t->src, p, c);
        else
            pack_panel_bf16(t->w, t->src, p);
    }
}

static cf_status pack(cf_lowp_weights *w, cf_wtype type, const pack_src *src, int64_t N, int64_t K, cf_error *err)
{
    memset(w, 0, sizeof *w);
    if (type != CF_WTYPE_BF16 && type != CF_WTYPE_INT8)
        return cf_fail(err, CF_ERR_INVALID_ARG, "low-precision weights must be bf16 or int8, got %s", cf_wtype_name(type));
    if (N <= 0 || K <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "weight shape [%lld, %lld] must be positive", (long long)N, (long long)K);
    if (type == CF_WTYPE_INT8 && K > CF_LOWP_INT8_MAX_K)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "int8 weights need K <= %d (got %lld): the int32 sums would overflow",
                       CF_LOWP_INT8_MAX_K, (long long)K);
    int g = group_size(type);
    *w = (cf_lowp_weights){.type = type, .K = K, .N = N, .kp = (K + g - 1) / g * g};
    size_t bytes = (size_t)n_panels(N) * (size_t)cf_lowp_words(w) * LOWP_NR * sizeof(uint32_t);
    w->panels = cf_alloc_large(bytes);
    if (type == CF_WTYPE_INT8) {
        w->scale = calloc((size_t)(n_panels(N) * LOWP_NR), sizeof(float));
        w->colsum = calloc((size_t)(n_panels(N) * LOWP_NR), sizeof(int32_t));
    }
    if (!w->panels || (type == CF_WTYPE_INT8 && (!w->scale || !w->colsum))) {
        cf_lowp_free(w);
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate %zu MB for %s weights [%lld x %lld]", bytes >> 20,
                       cf_wtype_name(type), (long long)N, (long long)K);
    }
    pack_task t = {w, src};
    cf_parallel_for(n_panels(N), 1, pack_range, &t);
    return CF_OK;
}

cf_status cf_lowp_pack_f32(cf_lowp_weights *w, cf_wtype type, const float *src, int64_t N, int64_t K,
                           int64_t stride_n, int64_t stride_k, cf_error *err)
{
    pack_src s = {.f32 = src, .stride_n = stride_n, .stride_k = stride_k};
    return pack(w, type, &s, N, K, err);
}

cf_status cf_lowp_pack_bf16_bits(cf_lowp_weights *w, const uint16_t *src, int64_t N, int64_t K, int64_t stride_n,
                                 int64_t stride_k, cf_error *err)
{
    pack_src s = {.bf16 = src, .stride_n = stride_n, .stride_k = stride_k};
    return pack(w, CF_WTYPE_BF16, &s, N, K, err);
}

void cf_lowp_free(cf_lowp_weights *w)
{
    if (!w)
        return;
    free(w->panels);
    free(w->scale);
    free(w->colsum);
    memset(w, 0, sizeof *w);
}

/* ------------------------------------------------------- activations in ---- */

void cf_lowp_row_params(float lo, float hi, float *scale, int32_t *zero)
{
    lo = fminf(lo, 0.0f); /* 0.0 must be exact: padding and ReLU zeros stay zero */
    hi = fmaxf(hi, 0.0f);
    float s = (hi - lo) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s)) {
        *scale = isfinite(s) ? 1.0f : NAN; /* all zeros; or inf/NaN input, which must not pass silently */
        *zero = 0;
        return;
    }
    float z = rintf(-lo / s);
    *scale = s;
    *zero = z > 255.0f ? 255 : (int32_t)z;
}

void cf_lowp_bf16_rows_portable(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                                int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *a = A + r * lda;
        uint32_t *o = out + r * out_ld;
        for (int64_t k = 0; k < kp; k += 2) {
            uint32_t lo = k < K ? cf_f32_to_bf16(a[k]) : 0, hi = k + 1 < K ? cf_f32_to_bf16(a[k + 1]) : 0;
            o[k / 2] = lo | hi << 16;
        }
    }
}

static uint32_t quant(float x, float inv, int32_t zero)
{
    float v = rintf(x * inv) + (float)zero;
    v = v > 255.0f ? 255.0f : v < 0.0f ? 0.0f : v;
    return v == v ? (uint32_t)v : 0u;
}

void cf_lowp_quant_rows_portable(const float *A, int64_t lda, int64_t K, int64_t kp, uint32_t *out, int64_t out_ld,
                                 float *scale, int32_t *zero, int64_t r0, int64_t r1)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *a = A + r * lda;
        float lo = 0.0f, hi = 0.0f;
        for (int64_t k = 0; k < K; k++)
            lo = fminf(lo, a[k]), hi = fmaxf(hi, a[k]);
        cf_lowp_row_params(lo, hi, &scale[r], &zero[r]);
        float inv = 1.0f / scale[r];
        uint32_t *o = out + r * out_ld;
        for (int64_t k = 0; k < kp; k += 4) {
            uint32_t word = 0;
            for (int j = 0; j < 4; j++) /* padding quantizes to the zero point, which colsum=0 ignores */
                word |= (k + j < K ? quant(a[k + j], inv, zero[r]) : (uint32_t)zero[r]) << (8 * j);
            o[k / 4] = word;
        }
    }
}

/* ---------------------------------------------------------- portable kernels ---- */

void cf_lowp_finish_row(const cf_lowp_task *t, float *c, int64_t j, int64_t cols)
{
    if (t->bias)
        for (int64_t x = 0; x < cols; x++)
            c[x] += t->bias[j + x];
    if (t->act != CF_ACT_NONE)
        cf_act_span(t->act, c, cols);
}

/* One output of the portable kernels: row a of converted A against column b of a panel (stride
 * LOWP_NR), for output column j of row i. */
typedef float (*portable_cell_fn)(const cf_lowp_task *t, const uint32_t *a, const uint32_t *b, int64_t words,
                                  int64_t i, int64_t j);

static float bf16_cell(const cf_lowp_task *t, const uint32_t *a, const uint32_t *b, int64_t words, int64_t i,
                       int64_t j)
{
    (void)t, (void)i, (void)j;
    float acc = 0.0f;
    for (int64_t kw = 0; kw < words; kw++) {
        uint32_t aw = a[kw], bw = b[kw * LOWP_NR];
        acc += cf_bf16_to_f32((uint16_t)aw) * cf_bf16_to_f32((uint16_t)bw);
        acc += cf_bf16_to_f32((uint16_t)(aw >> 16)) * cf_bf16_to_f32((uint16_t)(bw >> 16));
    }
    return acc;
}

static float int8_cell(const cf_lowp_task *t, const uint32_t *a, const uint32_t *b, int64_t words, int64_t i,
                       int64_t j)
{
    int32_t acc = 0;
    for (int64_t kw = 0; kw < words; kw++) {
        uint32_t aw = a[kw], bw = b[kw * LOWP_NR];
        for (int s = 0; s < 32; s += 8)
            acc += (int32_t)((aw >> s) & 0xffu) * (int32_t)(int8_t)(uint8_t)(bw >> s);
    }
    acc -= t->a_zero[i] * t->w->colsum[j];
    return (float)acc * (t->a_scale[i] * t->w->scale[j]);
}

static void portable_blocks(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1,
                            portable_cell_fn cell)
{
    int64_t words = cf_lowp_words(t->w);
    for (int64_t p = p0; p < p1; p++) {
        const uint32_t *panel = t->w->panels + p * words * LOWP_NR;
        int64_t j = p * LOWP_NR, cols = min64(LOWP_NR, t->w->N - j);
        for (int64_t i = i0; i < i1; i++) {
            float *c = t->c + i * t->ldc + j;
            for (int64_t x = 0; x < cols; x++)
                c[x] = cell(t, t->a + i * t->a_ld, panel + x, words, i, j + x);
            cf_lowp_finish_row(t, c, j, cols);
        }
    }
}

void cf_lowp_bf16_portable(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1)
{
    portable_blocks(t, i0, i1, p0, p1, bf16_cell);
}

void cf_lowp_int8_portable(const cf_lowp_task *t, int64_t i0, int64_t i1, int64_t p0, int64_t p1)
{
    portable_blocks(t, i0, i1, p0, p1, int8_cell);
}

/* ------------------------------------------------------------------ driver ---- */

static bool avx512_lowp(void) { return cf_kernels_isa() == CF_ISA_AVX512 && cf_cpu_has_avx512_bf16_vnni(); }

static cf_lowp_block_fn block_kernel(cf_wtype type)
{
    bool int8 = type == CF_WTYPE_INT8;
    if (avx512_lowp())
        return int8 ? cf_lowp_int8_avx512 : cf_lowp_bf16_avx512;
    if (cf_kernels_isa() >= CF_ISA_AVX2)
        return int8 ? cf_lowp_int8_avx2 : cf_lowp_bf16_avx2;
    return int8 ? cf_lowp_int8_portable : cf_lowp_bf16_portable;
}

typedef struct convert_task {
    const cf_lowp_task *t;
    const float *A;
    int64_t lda;
    float *scale;
    int32_t *zero;
    uint32_t *a;
} convert_task;

static void convert_range(void *ctx, int64_t r0, int64_t r1)
{
    const convert_task *c = ctx;
    const cf_lowp_weights *w = c->t->w;
    bool wide = cf_kernels_isa() == CF_ISA_AVX512;
    if (w->type == CF_WTYPE_INT8)
        (wide ? cf_lowp_quant_rows_avx512 : cf_lowp_quant_rows_portable)(c->A, c->lda, w->K, w->kp, c->a, c->t->a_ld,
                                                                          c->scale, c->zero, r0, r1);
    else
        (wide ? cf_lowp_bf16_rows_avx512 : cf_lowp_bf16_rows_portable)(c->A, c->lda, w->K, w->kp, c->a, c->t->a_ld, r0,
                                                                        r1);
}

typedef struct run_task {
    const cf_lowp_task *t;
    cf_lowp_block_fn fn;
    int64_t row_block;
} run_task;

/* One thread's panels: row blocks outermost so a block of A stays in L2 while the panels pass. */
static void panel_range(void *ctx, int64_t p0, int64_t p1)
{
    const run_task *r = ctx;
    for (int64_t i = 0; i < r->t->M; i += r->row_block)
        r->fn(r->t, i, min64(i + r->row_block, r->t->M), p0, p1);
}

void cf_lowp_linear(const cf_lowp_weights *w, const float *A, int64_t M, int64_t lda, const float *bias, cf_act act,
                    float *C, int64_t ldc)
{
    if (M <= 0)
        return;
    int64_t words = cf_lowp_words(w), a_ld = (words + 15) / 16 * 16; /* 64-byte rows */
    /* One scratch block: converted rows, then per-row scales and zero points. */
    float *buf = cf_scratch_f32(CF_SCRATCH_LOWP_A, (size_t)(M * a_ld + 2 * M));
    if (!buf) {
        for (int64_t i = 0; i < M; i++) /* no memory for a few KB of activations: make it loud */
            for (int64_t j = 0; j < w->N; j++)
                C[i * ldc + j] = NAN;
        return;
    }
    cf_lowp_task t = {.w = w, .M = M, .a = (const uint32_t *)buf, .a_ld = a_ld, .bias = bias, .act = act,
                      .c = C, .ldc = ldc};
    convert_task ct = {&t, A, lda, buf + M * a_ld, (int32_t *)(buf + M * a_ld + M), (uint32_t *)buf};
    t.a_scale = ct.scale;
    t.a_zero = ct.zero;
    int64_t row_grain = 1 + (16 * 1024) / w->K;
    cf_parallel_for(M, row_grain, convert_range, &ct);

    int64_t panels = n_panels(w->N);
    double ops = 2.0 * (double)M * (double)w->N * (double)w->K;
    int64_t grain = ops < LOWP_SERIAL_MAX_OPS ? panels : 1;
    int64_t row_block = LOWP_A_BLOCK_BYTES / (a_ld * 4) / LOWP_MR * LOWP_MR;
    run_task r = {&t, block_kernel(w->type), row_block < LOWP_MR ? LOWP_MR : row_block};
    cf_parallel_for(panels, grain, panel_range, &r);
}
