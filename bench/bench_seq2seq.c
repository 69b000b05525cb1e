/* BART and Marian encoder-decoder speed with random weights of real shapes, f32:
 *   bart-base       (6 + 6 layers, d 768, 12 heads, FFN 3072 gelu, vocab 50265, learned positions)
 *   opus-mt-en-de   (6 + 6 layers, d 512, 8 heads, FFN 2048 swish, vocab 58101, sinusoids)
 * bart-base: encoder ms over 512 tokens; decoder step ms and tokens/s with 1 and 4 beams against
 * that encoder output, with the bytes one step reads (decoder weights + lm_head once, the
 * cross-attention keys/values per beam) and the GB/s that makes, next to the machine's streaming
 * read bandwidth. opus-mt-en-de: whole translations of 20-token sentences through generate()
 * (encoder + 20 decoder steps, eos held off by min_length) in sentences/s, 4 beams and greedy.
 * Threads: CFORMER_THREADS (default 2).
 * usage: bench_seq2seq [bart-base|opus-mt-en-de]   (default: both) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bench_util.h"
#include "common/seq2seq_timing.h"
#include "generation/generate.h"
#include "kernels/kernels.h"
#include "models/seq2seq.h"

typedef struct shape {
    const char *name, *model_type, *act;
    int layers, d, heads, ffn, vocab, positions;
} shape;

static const shape k_shapes[] = {
    {"bart-base", "bart", "gelu", 6, 768, 12, 3072, 50265, 1024},
    {"opus-mt-en-de", "marian", "swish", 6, 512, 8, 2048, 58101, 512},
};

enum { ENC_LEN = 512, N_STEPS = 24, SENT_LEN = 20, N_SENTENCES = 8 };

/* Random weights in +-0.05 (scale); norms are weight 1, bias 1e-9. */
static const float WEIGHT_SCALE = 0.1f;

static void add_linear(cf_st_writer *w, int64_t out, int64_t in, const char *prefix)
{
    bench_add_matrix(w, 0, WEIGHT_SCALE, out, in, "%s.weight", prefix);
    bench_add_matrix(w, 0, WEIGHT_SCALE, out, 0, "%s.bias", prefix);
}

static void add_norm(cf_st_writer *w, int64_t d, const char *prefix)
{
    bench_add_matrix(w, 1, 0, d, 0, "%s.weight", prefix);
    bench_add_matrix(w, 1e-9f, 0, d, 0, "%s.bias", prefix);
}

static void add_layer(cf_st_writer *w, const shape *s, const char *stack, int l)
{
    static const char *const proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    char p[256];
    int n_attn = strcmp(stack, "decoder") ? 1 : 2;
    for (int a = 0; a < n_attn; a++) {
        const char *attn = a ? "encoder_attn" : "self_attn";
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "model.%s.layers.%d.%s.%s", stack, l, attn, proj[i]);
            add_linear(w, s->d, s->d, p);
        }
        snprintf(p, sizeof p, "model.%s.layers.%d.%s_layer_norm", stack, l, attn);
        add_norm(w, s->d, p);
    }
    snprintf(p, sizeof p, "model.%s.layers.%d.fc1", stack, l);
    add_linear(w, s->ffn, s->d, p);
    snprintf(p, sizeof p, "model.%s.layers.%d.fc2", stack, l);
    add_linear(w, s->d, s->ffn, p);
    snprintf(p, sizeof p, "model.%s.layers.%d.final_layer_norm", stack, l);
    add_norm(w, s->d, p);
}

static void write_model(const shape *s, const char *dir)
{
    bool bart = !strcmp(s->model_type, "bart");
    cf_st_writer *w = cf_st_writer_new();
    bench_add_matrix(w, 0, WEIGHT_SCALE, s->vocab, s->d, "model.shared.weight");
    bench_add_matrix(w, 0, WEIGHT_SCALE, 1, s->vocab, "final_logits_bias");
    for (int side = 0; side < 2; side++) {
        const char *stack = side ? "decoder" : "encoder";
        if (bart) {
            bench_add_matrix(w, 0, WEIGHT_SCALE, s->positions + 2, s->d, "model.%s.embed_positions.weight", stack);
            char p[256];
            snprintf(p, sizeof p, "model.%s.layernorm_embedding", stack);
            add_norm(w, s->d, p);
        }
        for (int l = 0; l < s->layers; l++)
            add_layer(w, s, stack, l);
    }
    bench_write_folder(
        dir, w,
        "{\"model_type\":\"%s\",\"d_model\":%d,\"encoder_layers\":%d,\"decoder_layers\":%d,"
        "\"encoder_attention_heads\":%d,\"decoder_attention_heads\":%d,\"encoder_ffn_dim\":%d,"
        "\"decoder_ffn_dim\":%d,\"vocab_size\":%d,\"max_position_embeddings\":%d,\"activation_function\":\"%s\","
        "\"scale_embedding\":%s,\"pad_token_id\":%d,\"eos_token_id\":%d,\"decoder_start_token_id\":%d}\n",
        s->model_type, s->d, s->layers, s->layers, s->heads, s->heads, s->ffn, s->ffn, s->vocab, s->positions, s->act,
        bart ? "false" : "true", bart ? 1 : s->vocab - 1, bart ? 2 : 0, bart ? 2 : s->vocab - 1);
}

/* The library's matvec streaming a 256 MB matrix on the thread pool: the ceiling for a decode
 * step that reads its weights once. */
static double read_bandwidth(void)
{
    int64_t K = 1024, N = ((int64_t)256 << 20) / (K * (int64_t)sizeof(float));
    float *w = malloc((size_t)(N * K) * sizeof *w), *x = malloc((size_t)K * sizeof *x), *y = malloc((size_t)N * sizeof *y);
    for (int64_t i = 0; i < N * K; i++)
        w[i] = (float)(i & 7);
    for (int64_t i = 0; i < K; i++)
        x[i] = 1.0f;
    double best = 0;
    for (int r = 0; r < 4; r++) {
        double t0 = bench_now();
        cf_matvec_f32(w, x, NULL, y, N, K);
        double gbs = (double)(N * K) * sizeof *w / (bench_now() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    free(w);
    free(x);
    free(y);
    return best;
}

/* Bytes one decoder step reads: weights and lm_head once for all beams, cross K/V per beam. */
static double step_bytes(const shape *s, int beams, int enc_len)
{
    double d = s->d;
    double layer = 6 * d * d + 2 * d * s->ffn;
    return 4.0 * (s->layers * layer + (double)s->vocab * d + (double)beams * s->layers * 2 * enc_len * d);
}

static void bench_encoder(const cf_seq2seq *m, const int64_t *ids)
{
    double best, cpu;
    if (bench_encoder_best(m, ids, ENC_LEN, 3, &best, &cpu))
        printf("  %-30s %9.1f ms %10.0f tokens/s\n", "encoder, 512 tokens (best of 3)", best * 1e3, ENC_LEN / best);
}

static void bench_decoder(const shape *s, const cf_seq2seq *m, const int64_t *ids, int64_t enc_len, int beams,
                          double bw)
{
    double dt, cpu;
    if (!bench_decoder_step(m, ids, enc_len, beams, N_STEPS, &dt, &cpu))
        return;
    double bytes = step_bytes(s, beams, (int)enc_len);
    char label[64];
    snprintf(label, sizeof label, "decoder step, %d beam%s, enc %lld", beams, beams > 1 ? "s" : "", (long long)enc_len);
    printf("  %-30s %9.2f ms %10.1f tokens/s  %6.1f MB/step %6.1f GB/s (%.0f%% of bw)\n", label, dt * 1e3,
           beams / dt, bytes / 1e6, bytes / dt / 1e9, 100 * bytes / dt / 1e9 / bw);
}

/* Whole translations: N_SENTENCES sentences of SENT_LEN tokens, each to SENT_LEN new tokens. */
static void bench_sentences(const shape *s, const cf_seq2seq *m, int beams, double bw)
{
    cf_gen_config g;
    cf_gen_config_defaults(&g);
    g.num_beams = beams;
    g.max_length = SENT_LEN + 1;
    g.min_length = SENT_LEN + 1; /* random weights: keep eos away so every sentence runs full length */
    g.pad_token_id = m->pad_id;
    int64_t eos = m->eos_id;
    g.eos_token_id = (cf_token_list){.ids = &eos, .n = 1};
    cf_lm lm = cf_seq2seq_as_lm(m);
    int64_t ids[SENT_LEN], start = m->decoder_start_id, one = 1;
    const int64_t *prompts[1] = {&start};
    double t0 = bench_now();
    for (int k = 0; k < N_SENTENCES; k++) {
        for (int i = 0; i < SENT_LEN; i++)
            ids[i] = 5 + (k * 997 + i * 7919) % (s->vocab - 100);
        ids[SENT_LEN - 1] = m->eos_id;
        cf_gen_request req = {.cfg = &g, .n_inputs = 1, .prompts = prompts, .prompt_lens = &one,
                              .enc_len = SENT_LEN, .enc_ids = ids};
        cf_gen_result res = {0};
        cf_error err = {0};
        if (cf_generate(&lm, &req, &res, &err) != CF_OK)
            fprintf(stderr, "%s\n", err.message);
        cf_gen_result_free(&res);
    }
    double per = (bench_now() - t0) / N_SENTENCES, bytes = SENT_LEN * step_bytes(s, beams, SENT_LEN);
    char label[64];
    snprintf(label, sizeof label, "20-token sentences, %d beam%s", beams, beams > 1 ? "s" : "");
    printf("  %-30s %9.1f ms %10.2f sentences/s  decoder %.1f GB/s (%.0f%% of bw)\n", label, per * 1e3, 1 / per,
           bytes / per / 1e9, 100 * bytes / per / 1e9 / bw);
}

static void run_model(size_t which, const cf_seq2seq *m, double bw)
{
    const shape *s = &k_shapes[which];
    if (!strcmp(s->model_type, "bart")) {
        int64_t *ids = malloc(ENC_LEN * sizeof *ids);
        for (int i = 0; i < ENC_LEN; i++)
            ids[i] = 3 + (i * 7919) % (s->vocab - 200);
        bench_encoder(m, ids);
        bench_decoder(s, m, ids, ENC_LEN, 1, bw);
        bench_decoder(s, m, ids, ENC_LEN, 4, bw);
        free(ids);
    } else {
        int64_t ids[SENT_LEN];
        for (int i = 0; i < SENT_LEN; i++)
            ids[i] = 5 + (i * 7919) % (s->vocab - 100);
        bench_decoder(s, m, ids, SENT_LEN, 1, bw);
        bench_decoder(s, m, ids, SENT_LEN, 4, bw);
        bench_sentences(s, m, 4, bw);
        bench_sentences(s, m, 1, bw);
    }
}

static const char *shape_name(size_t which) { return k_shapes[which].name; }

static void write_shape(size_t which, const char *dir) { write_model(&k_shapes[which], dir); }

int main(int argc, char **argv)
{
    static const bench_seq2seq_suite suite = {
        .tag = "seq2seq", .bandwidth_label = "weight streaming bandwidth (cf_matvec_f32, 256 MB, best of 4)",
        .bandwidth = read_bandwidth, .n_shapes = sizeof k_shapes / sizeof k_shapes[0], .name = shape_name,
        .write = write_shape, .run = run_model};
    return bench_seq2seq_main(&suite, argc, argv);
}
