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

#include "common/bench_util.h"
#include "common/seq2seq_timing.h"
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

/* Random weights in +-0.05; norms' weights are 1. */
static const float WEIGHT_SCALE = 0.1f;

static void add(cf_st_writer *w, const char *name, int64_t rows, int64_t cols, float fill)
{
    bench_add_matrix(w, fill, fill != 0 ? 0 : WEIGHT_SCALE, rows, cols, "%s", name);
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
    char p[256];
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
    bench_write_folder(dir, w,
                       "{\"model_type\":\"t5\",\"d_model\":%d,\"d_kv\":%d,\"d_ff\":%d,\"num_heads\":%d,\"num_layers\":%d,"
                       "\"num_decoder_layers\":%d,\"vocab_size\":%d,\"feed_forward_proj\":\"%s\",\"tie_word_embeddings\":%s,"
                       "\"relative_attention_num_buckets\":32,\"relative_attention_max_distance\":128,"
                       "\"pad_token_id\":0,\"eos_token_id\":1,\"decoder_start_token_id\":0}\n",
                       s->d, s->d_kv, s->d_ff, s->heads, s->layers, s->layers, s->vocab, s->gated ? "gated-gelu" : "relu",
                       s->tied ? "true" : "false");
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
    double best, best_cpu;
    if (bench_encoder_best(m, ids, ENC_LEN, 3, &best, &best_cpu))
        printf("  %-34s %10.1f ms %10.0f tokens/s   cpu %.1f ms\n", "encoder, 512 tokens (best of 3)", best * 1e3,
               ENC_LEN / best, best_cpu * 1e3);
}

static void bench_decoder(const t5_shape *s, const cf_seq2seq *m, const int64_t *ids, int beams, double bw)
{
    double dt, dc;
    if (!bench_decoder_step(m, ids, ENC_LEN, beams, N_STEPS, &dt, &dc))
        return;
    char label[64];
    snprintf(label, sizeof label, "decoder step, %d beam%s", beams, beams > 1 ? "s" : "");
    double gbs = step_bytes(s, beams) / dt / 1e9;
    printf("  %-34s %10.1f ms %10.1f tokens/s   cpu %.1f ms  %6.1f steps/s %6.1f GB/s (%.0f%% of memcpy)\n", label,
           dt * 1e3, beams / dt, dc * 1e3, 1 / dt, gbs, 100 * gbs / bw);
}

static void run_model(size_t which, const cf_seq2seq *m, double bw)
{
    const t5_shape *s = &k_shapes[which];
    int64_t *ids = malloc(ENC_LEN * sizeof *ids);
    for (int i = 0; i < ENC_LEN; i++)
        ids[i] = 3 + (i * 7919) % (s->vocab - 200);
    ids[ENC_LEN - 1] = 1;
    bench_encoder(m, ids);
    bench_decoder(s, m, ids, 1, bw);
    bench_decoder(s, m, ids, 4, bw);
    free(ids);
}

static const char *shape_name(size_t which) { return k_shapes[which].name; }

static void write_shape(size_t which, const char *dir) { write_model(&k_shapes[which], dir); }

int main(int argc, char **argv)
{
    static const bench_seq2seq_suite suite = {
        .tag = "t5", .bandwidth_label = "memcpy bandwidth (read + write)", .bandwidth = bench_memcpy_bandwidth,
        .n_shapes = sizeof k_shapes / sizeof k_shapes[0], .name = shape_name, .write = write_shape, .run = run_model};
    return bench_seq2seq_main(&suite, argc, argv);
}
