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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "generation/generate.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"
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

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng = 88172645463325252ULL;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 0.1f;
}

/* A [rows, cols] (cols 0: [rows]) tensor of random values, or all `fill`. */
static void add(cf_st_writer *w, float fill, int64_t rows, int64_t cols, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void add(cf_st_writer *w, float fill, int64_t rows, int64_t cols, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    cf_tensor t;
    cf_error err;
    int64_t dims[2] = {rows, cols};
    cf_tensor_alloc(&t, CF_DTYPE_F32, cols ? 2 : 1, dims, &err);
    float *p = t.data;
    for (int64_t i = 0; i < cf_tensor_numel(&t); i++)
        p[i] = fill != 0 ? fill : frand();
    cf_st_writer_add(w, name, &t, &err);
    cf_tensor_free(&t);
}

static void add_linear(cf_st_writer *w, int64_t out, int64_t in, const char *prefix)
{
    add(w, 0, out, in, "%s.weight", prefix);
    add(w, 0, out, 0, "%s.bias", prefix);
}

static void add_norm(cf_st_writer *w, int64_t d, const char *prefix)
{
    add(w, 1, d, 0, "%s.weight", prefix);
    add(w, 1e-9f, d, 0, "%s.bias", prefix);
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
    char path[600];
    bool bart = !strcmp(s->model_type, "bart");
    cf_st_writer *w = cf_st_writer_new();
    add(w, 0, s->vocab, s->d, "model.shared.weight");
    add(w, 0, 1, s->vocab, "final_logits_bias");
    for (int side = 0; side < 2; side++) {
        const char *stack = side ? "decoder" : "encoder";
        if (bart) {
            add(w, 0, s->positions + 2, s->d, "model.%s.embed_positions.weight", stack);
            add(w, 1, s->d, 0, "model.%s.layernorm_embedding.weight", stack);
            add(w, 1e-9f, s->d, 0, "model.%s.layernorm_embedding.bias", stack);
        }
        for (int l = 0; l < s->layers; l++)
            add_layer(w, s, stack, l);
    }
    cf_error err;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (cf_st_writer_save(w, path, &err) != CF_OK)
        fprintf(stderr, "%s\n", err.message);
    cf_st_writer_free(w);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f,
            "{\"model_type\":\"%s\",\"d_model\":%d,\"encoder_layers\":%d,\"decoder_layers\":%d,"
            "\"encoder_attention_heads\":%d,\"decoder_attention_heads\":%d,\"encoder_ffn_dim\":%d,"
            "\"decoder_ffn_dim\":%d,\"vocab_size\":%d,\"max_position_embeddings\":%d,\"activation_function\":\"%s\","
            "\"scale_embedding\":%s,\"pad_token_id\":%d,\"eos_token_id\":%d,\"decoder_start_token_id\":%d}\n",
            s->model_type, s->d, s->layers, s->layers, s->heads, s->heads, s->ffn, s->ffn, s->vocab, s->positions,
            s->act, bart ? "false" : "true", bart ? 1 : s->vocab - 1, bart ? 2 : 0, bart ? 2 : s->vocab - 1);
    fclose(f);
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
        double t0 = now();
        cf_matvec_f32(w, x, NULL, y, N, K);
        double gbs = (double)(N * K) * sizeof *w / (now() - t0) / 1e9;
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
    cf_error err;
    cf_arena a;
    const cf_seq2seq_arch *ar = &m->arch;
    float *out = malloc((size_t)ENC_LEN * (size_t)ar->hidden * sizeof(float));
    if (!out || cf_arena_init(&a, ar->encode_bytes(m->weights, ENC_LEN), &err) != CF_OK) {
        free(out);
        return;
    }
    ar->encode(m->weights, ids, ENC_LEN, out, &a, NULL, NULL); /* warm-up */
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        cf_arena_reset(&a);
        double t0 = now();
        ar->encode(m->weights, ids, ENC_LEN, out, &a, NULL, NULL);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    printf("  %-30s %9.1f ms %10.0f tokens/s\n", "encoder, 512 tokens (best of 3)", best * 1e3, ENC_LEN / best);
    cf_arena_free(&a);
    free(out);
}

static void bench_decoder(const shape *s, const cf_seq2seq *m, const int64_t *ids, int64_t enc_len, int beams,
                          double bw)
{
    cf_error err;
    cf_lm lm = cf_seq2seq_as_lm(m);
    cf_lm_limits lim = {.n_inputs = 1, .copies = beams, .max_len = N_STEPS + 2, .enc_len = enc_len};
    void *sess;
    if (lm.ops->open(lm.model, &lim, &sess, &err) != CF_OK) {
        fprintf(stderr, "%s\n", err.message);
        return;
    }
    int64_t start = m->decoder_start_id, tokens[8];
    int32_t src[8];
    float *logits = malloc((size_t)beams * (size_t)lm.vocab_size * sizeof(float));
    cf_lm_inputs in = {.n_inputs = 1, .copies = beams, .len = 1, .ids = &start, .enc_len = enc_len, .enc_ids = ids};
    lm.ops->start(sess, &in, logits, &err);
    double t0 = now();
    for (int i = 0; i < N_STEPS; i++) {
        for (int b = 0; b < beams; b++) {
            tokens[b] = 3 + (i * 31 + b * 7) % 1000;
            src[b] = (int32_t)((b + i) % beams); /* beams swap parents as beam search does */
        }
        lm.ops->step(sess, tokens, beams > 1 ? src : NULL, logits, &err);
    }
    double dt = (now() - t0) / N_STEPS, bytes = step_bytes(s, beams, (int)enc_len);
    char label[64];
    snprintf(label, sizeof label, "decoder step, %d beam%s, enc %lld", beams, beams > 1 ? "s" : "", (long long)enc_len);
    printf("  %-30s %9.2f ms %10.1f tokens/s  %6.1f MB/step %6.1f GB/s (%.0f%% of bw)\n", label, dt * 1e3,
           beams / dt, bytes / 1e6, bytes / dt / 1e9, 100 * bytes / dt / 1e9 / bw);
    free(logits);
    lm.ops->close(sess);
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
    double t0 = now();
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
    double per = (now() - t0) / N_SENTENCES, bytes = SENT_LEN * step_bytes(s, beams, SENT_LEN);
    char label[64];
    snprintf(label, sizeof label, "20-token sentences, %d beam%s", beams, beams > 1 ? "s" : "");
    printf("  %-30s %9.1f ms %10.2f sentences/s  decoder %.1f GB/s (%.0f%% of bw)\n", label, per * 1e3, 1 / per,
           bytes / per / 1e9, 100 * bytes / per / 1e9 / bw);
}

static int run_shape(const shape *s, double bw)
{
    char dir[] = "/tmp/cformer_bench_seq2seq_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    write_model(s, dir);
    cf_error err = {0};
    cf_config cfg = {0};
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cf_seq2seq *m = NULL;
    int rc = 0;
    if (cf_config_load(&cfg, path, &err) != CF_OK || cf_seq2seq_load(dir, &cfg, &m, &err) != CF_OK) {
        fprintf(stderr, "%s\n", err.message);
        rc = 1;
    } else {
        printf("%s (random weights, f32, %d threads)\n", s->name, cf_threads_count());
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
        cf_seq2seq_free(m);
    }
    cf_config_free(&cfg);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    return system(path) == 0 ? rc : 1;
}

int main(int argc, char **argv)
{
    if (!getenv("CFORMER_THREADS"))
        cf_threads_set(2);
    double bw = read_bandwidth();
    printf("weight streaming bandwidth (cf_matvec_f32, 256 MB, best of 4): %.1f GB/s\n", bw);
    int rc = 0;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        if (argc < 2 || !strcmp(argv[1], k_shapes[i].name))
            rc |= run_shape(&k_shapes[i], bw);
    return rc;
}
