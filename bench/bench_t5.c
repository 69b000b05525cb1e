/* T5 encoder-decoder speed with random weights of two real shapes, f32:
 *   t5-small      (6 + 6 layers, d 512, 8 heads x 64, FFN 2048 relu, tied lm_head, vocab 32128)
 *   flan-t5-base  (12 + 12 layers, d 768, 12 heads x 64, FFN 2048 gated-gelu, untied, vocab 32128)
 * For each: encoder ms over a 512-token input; decoder steps/s and tokens/s with 1 and 4 beams
 * against that 512-token encoder output (summarization-like); the decoder step's traffic (its
 * weights, the lm_head and the cross-attention keys/values each beam reads) in GB/s next to the
 * machine's memcpy bandwidth. Threads: CFORMER_THREADS (default 2). The machine may be shared:
 * "cpu ms" is the process CPU time of the same work (all threads), which contention inflates less
 * than wall time; wall ~ cpu / threads when the cores are free.
 * usage: bench_t5 [t5-small|flan-t5-base]   (default: both) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/config.h"
#include "io/safetensors.h"
#include "core/threadpool.h"
#include "models/seq2seq.h"

typedef struct t5_shape {
    const char *name;
    int layers, d, heads, d_kv, d_ff, vocab;
    bool gated, tied;
} t5_shape;

static const t5_shape k_shapes[] = {
    {"t5-small", 6, 512, 8, 64, 2048, 32128, false, true},
    {"flan-t5-base", 12, 768, 12, 64, 2048, 32128, true, false},
};

enum { ENC_LEN = 512, N_STEPS = 24 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

static uint64_t rng = 88172645463325252ULL;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 0.1f;
}

static void add(cf_st_writer *w, const char *name, int64_t rows, int64_t cols, float fill)
{
    cf_tensor t;
    cf_error err;
    int64_t shape[2] = {rows, cols};
    cf_tensor_alloc(&t, CF_DTYPE_F32, cols ? 2 : 1, shape, &err);
    float *p = t.data;
    for (int64_t i = 0; i < cf_tensor_numel(&t); i++)
        p[i] = fill != 0 ? fill : frand();
    cf_st_writer_add(w, name, &t, &err);
    cf_tensor_free(&t);
}

static void add_attention(cf_st_writer *w, const t5_shape *s, const char *prefix)
{
    char name[256];
    int64_t inner = (int64_t)s->heads * s->d_kv;
    const char *parts[] = {"q", "k", "v"};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s.%s.weight", prefix, parts[i]);
        add(w, name, inner, s->d, 0);
    }
    snprintf(name, sizeof name, "%s.o.weight", prefix);
    add(w, name, s->d, inner, 0);
}

static void add_ffn(cf_st_writer *w, const t5_shape *s, const char *prefix)
{
    char name[256];
    if (s->gated) {
        snprintf(name, sizeof name, "%s.wi_0.weight", prefix);
        add(w, name, s->d_ff, s->d, 0);
        snprintf(name, sizeof name, "%s.wi_1.weight", prefix);
        add(w, name, s->d_ff, s->d, 0);
    } else {
        snprintf(name, sizeof name, "%s.wi.weight", prefix);
        add(w, name, s->d_ff, s->d, 0);
    }
    snprintf(name, sizeof name, "%s.wo.weight", prefix);
    add(w, name, s->d, s->d_ff, 0);
}

static void write_model(const t5_shape *s, const char *dir)
{
    char path[600], p[256];
    cf_st_writer *w = cf_st_writer_new();
    add(w, "shared.weight", s->vocab, s->d, 0);
    if (!s->tied)
        add(w, "lm_head.weight", s->vocab, s->d, 0);
    for (int side = 0; side < 2; side++) {
        const char *stack = side ? "decoder" : "encoder";
        for (int l = 0; l < s->layers; l++) {
            snprintf(p, sizeof p, "%s.block.%d.layer.0.SelfAttention", stack, l);
            add_attention(w, s, p);
            if (l == 0) {
                snprintf(p, sizeof p, "%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight", stack);
                add(w, p, 32, s->heads, 0);
            }
            int n_sub = side ? 3 : 2;
            for (int k = 0; k < n_sub; k++) {
                snprintf(p, sizeof p, "%s.block.%d.layer.%d.layer_norm.weight", stack, l, k);
                add(w, p, s->d, 0, 1);
            }
            if (side) {
                snprintf(p, sizeof p, "decoder.block.%d.layer.1.EncDecAttention", l);
                add_attention(w, s, p);
            }
            snprintf(p, sizeof p, "%s.block.%d.layer.%d.DenseReluDense", stack, l, n_sub - 1);
            add_ffn(w, s, p);
        }
        snprintf(p, sizeof p, "%s.final_layer_norm.weight", stack);
        add(w, p, s->d, 0, 1);
    }
    cf_error err;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (cf_st_writer_save(w, path, &err) != CF_OK)
        fprintf(stderr, "%s\n", err.message);
    cf_st_writer_free(w);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"model_type\":\"t5\",\"d_model\":%d,\"d_kv\":%d,\"d_ff\":%d,\"num_heads\":%d,\"num_layers\":%d,"
            "\"num_decoder_layers\":%d,\"vocab_size\":%d,\"feed_forward_proj\":\"%s\",\"tie_word_embeddings\":%s,"
            "\"relative_attention_num_buckets\":32,\"relative_attention_max_distance\":128,"
            "\"pad_token_id\":0,\"eos_token_id\":1,\"decoder_start_token_id\":0}\n",
            s->d, s->d_kv, s->d_ff, s->heads, s->layers, s->layers, s->vocab, s->gated ? "gated-gelu" : "relu",
            s->tied ? "true" : "false");
    fclose(f);
}

static double memcpy_bandwidth(void)
{
    size_t n = (size_t)256 << 20;
    char *a = malloc(n), *b = malloc(n);
    memset(a, 1, n);
    memset(b, 0, n);
    double t0 = now();
    for (int r = 0; r < 4; r++)
        memcpy(b, a, n);
    double gbs = 4.0 * 2.0 * (double)n / (now() - t0) / 1e9;
    volatile char sink = b[12345];
    (void)sink;
    free(a);
    free(b);
    return gbs;
}

/* Bytes one decoder step reads per beam-independent weights, plus cross K/V per beam. */
static double step_bytes(const t5_shape *s, int beams)
{
    double inner = (double)s->heads * s->d_kv, d = s->d;
    double layer = 4 * d * inner + 2 * d * inner + (s->gated ? 3 : 2) * d * s->d_ff;
    double weights = s->layers * layer + (double)s->vocab * d;
    double cross = (double)beams * s->layers * 2 * ENC_LEN * inner;
    return 4.0 * (weights + cross);
}

static void bench_encoder(const cf_seq2seq *m, const int64_t *ids)
{
    cf_error err;
    cf_arena a;
    const cf_seq2seq_arch *ar = &m->arch;
    float *out = malloc((size_t)ENC_LEN * (size_t)ar->hidden * sizeof(float));
    if (cf_arena_init(&a, ar->encode_bytes(m->weights, ENC_LEN), &err) != CF_OK || !out) {
        fprintf(stderr, "%s\n", err.message);
        free(out);
        return;
    }
    ar->encode(m->weights, ids, ENC_LEN, out, &a, NULL, NULL); /* warm-up */
    double best = 1e9, best_cpu = 1e9;
    for (int r = 0; r < 3; r++) {
        cf_arena_reset(&a);
        double t0 = now(), c0 = cpu_now();
        ar->encode(m->weights, ids, ENC_LEN, out, &a, NULL, NULL);
        double dt = now() - t0, dc = cpu_now() - c0;
        best = dt < best ? dt : best;
        best_cpu = dc < best_cpu ? dc : best_cpu;
    }
    printf("  %-34s %10.1f ms %10.0f tokens/s   cpu %.1f ms\n", "encoder, 512 tokens (best of 3)", best * 1e3,
           ENC_LEN / best, best_cpu * 1e3);
    cf_arena_free(&a);
    free(out);
}

static void bench_decoder(const t5_shape *s, const cf_seq2seq *m, const int64_t *ids, int beams, double bw)
{
    cf_error err;
    cf_lm lm = cf_seq2seq_as_lm(m);
    cf_lm_limits lim = {.n_inputs = 1, .copies = beams, .max_len = N_STEPS + 2, .enc_len = ENC_LEN};
    void *sess;
    if (lm.ops->open(lm.model, &lim, &sess, &err) != CF_OK) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    int64_t start = m->decoder_start_id, tokens[8];
    float *logits = malloc((size_t)beams * (size_t)lm.vocab_size * sizeof(float));
    cf_lm_inputs in = {.n_inputs = 1, .copies = beams, .len = 1, .ids = &start, .enc_len = ENC_LEN, .enc_ids = ids};
    lm.ops->start(sess, &in, logits, &err);
    int32_t src[8];
    double t0 = now(), c0 = cpu_now();
    for (int i = 0; i < N_STEPS; i++) {
        for (int b = 0; b < beams; b++) {
            tokens[b] = 3 + (i * 31 + b * 7) % 1000;
            src[b] = (int32_t)((b + i) % beams); /* beams swap parents as beam search does */
        }
        lm.ops->step(sess, tokens, beams > 1 ? src : NULL, logits, &err);
    }
    double dt = (now() - t0) / N_STEPS, dc = (cpu_now() - c0) / N_STEPS;
    char label[64];
    snprintf(label, sizeof label, "decoder step, %d beam%s", beams, beams > 1 ? "s" : "");
    double gbs = step_bytes(s, beams) / dt / 1e9;
    printf("  %-34s %10.1f ms %10.1f tokens/s   cpu %.1f ms  %6.1f steps/s %6.1f GB/s (%.0f%% of memcpy)\n", label,
           dt * 1e3, beams / dt, dc * 1e3, 1 / dt, gbs, 100 * gbs / bw);
    free(logits);
    lm.ops->close(sess);
}

static int run_shape(const t5_shape *s, double bw)
{
    char dir[] = "/tmp/cformer_bench_t5_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    write_model(s, dir);
    cf_error err = {0};
    cf_config cfg;
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cf_seq2seq *m = NULL;
    int rc = 0;
    if (cf_config_load(&cfg, path, &err) != CF_OK || cf_seq2seq_load(dir, &cfg, &m, &err) != CF_OK) {
        fprintf(stderr, "%s\n", err.message);
        rc = 1;
    } else {
        int64_t *ids = malloc(ENC_LEN * sizeof *ids);
        for (int i = 0; i < ENC_LEN; i++)
            ids[i] = 3 + (i * 7919) % (s->vocab - 200);
        ids[ENC_LEN - 1] = 1;
        printf("%s (random weights, f32, %d threads)\n", s->name, cf_threads_count());
        bench_encoder(m, ids);
        bench_decoder(s, m, ids, 1, bw);
        bench_decoder(s, m, ids, 4, bw);
        free(ids);
        cf_seq2seq_free(m);
        cf_config_free(&cfg);
    }
    snprintf(path, sizeof path, "rm -rf %s", dir);
    return system(path) == 0 ? rc : 1;
}

int main(int argc, char **argv)
{
    if (!getenv("CFORMER_THREADS"))
        cf_threads_set(2);
    double bw = memcpy_bandwidth();
    printf("memcpy bandwidth (read + write): %.1f GB/s\n", bw);
    int rc = 0;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        if (argc < 2 || !strcmp(argv[1], k_shapes[i].name))
            rc |= run_shape(&k_shapes[i], bw);
    return rc;
}
