/* Whisper tiny and base shapes on random weights, with f32 and bf16 linear weights (attention
 * and activations stay f32), on the library thread pool (2 threads unless --threads says
 * otherwise): log-mel ms for 30 s of audio, encoder ms for one 30 s window, decoder tokens/s
 * (greedy steps of one sequence against the KV and cross-attention caches; the vocabulary
 * projection is the packed matvec over the tied embeddings). The load average is printed
 * before and after: the machine may be shared.
 * Reference points on this machine class (issue 12): whisper.cpp encoder tiny 620-860 ms,
 * base 1645-1741 ms; goal: tiny <= 350 ms, base <= 800 ms, log-mel <= 15 ms.
 *
 * usage: bench_whisper [--threads N] [--runs N] [--tokens N] [--dtype f32|bf16|both]
 * The random model folders are written once to /tmp/cformer-bench/whisper-{tiny,base}. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bench_util.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "media/features.h"
#include "models/whisper.h"
#include "nn/linear.h"

typedef struct shape {
    const char *name;
    int64_t d, layers, heads, ffn;
} shape;

static const shape k_shapes[] = {{"tiny", 384, 4, 6, 1536}, {"base", 512, 6, 8, 2048}};
enum { VOCAB = 51865, MELS = 80, SOURCE = 1500, TARGET = 448 };

/* Random weights in +-0.05. */
static const float WEIGHT_SCALE = 0.1f;

static void add_random(cf_st_writer *w, const char *name, int ndim, const int64_t *shape)
{
    bench_add_tensor(w, name, ndim, shape, 0, WEIGHT_SCALE);
}

static void add_linear(cf_st_writer *w, const char *prefix, int64_t out, int64_t in, bool bias)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    add_random(w, name, 2, (int64_t[]){out, in});
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        add_random(w, name, 1, &out);
    }
}

static void add_norm(cf_st_writer *w, const char *prefix, int64_t d)
{
    char name[256];
    snprintf(name, sizeof name, "%s.weight", prefix);
    bench_add_tensor(w, name, 1, &d, 1.0f, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    bench_add_tensor(w, name, 1, &d, 0.0f, 0);
}

static void add_attention(cf_st_writer *w, const char *prefix, int64_t d)
{
    static const char *const parts[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    char name[256];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, parts[i]);
        add_linear(w, name, d, d, i != 1);
    }
}

static void add_layer(cf_st_writer *w, const char *stack, int64_t l, const shape *s, bool cross)
{
    char p[256];
#define P(fmt) (snprintf(p, sizeof p, "model.%s.layers.%lld." fmt, stack, (long long)l), p)
    add_attention(w, P("self_attn"), s->d);
    add_norm(w, P("self_attn_layer_norm"), s->d);
    if (cross) {
        add_attention(w, P("encoder_attn"), s->d);
        add_norm(w, P("encoder_attn_layer_norm"), s->d);
    }
    add_linear(w, P("fc1"), s->ffn, s->d, true);
    add_linear(w, P("fc2"), s->d, s->ffn, true);
    add_norm(w, P("final_layer_norm"), s->d);
#undef P
}

static void generate(const char *dir, const shape *s)
{
    fprintf(stderr, "writing random whisper-%s weights to %s\n", s->name, dir);
    mkdir("/tmp/cformer-bench", 0755);
    mkdir(dir, 0755);
    cf_st_writer *w = cf_st_writer_new();
    int64_t d = s->d;
    add_random(w, "model.encoder.conv1.weight", 3, (int64_t[]){d, MELS, 3});
    add_random(w, "model.encoder.conv1.bias", 1, &d);
    add_random(w, "model.encoder.conv2.weight", 3, (int64_t[]){d, d, 3});
    add_random(w, "model.encoder.conv2.bias", 1, &d);
    add_random(w, "model.encoder.embed_positions.weight", 2, (int64_t[]){SOURCE, d});
    add_random(w, "model.decoder.embed_tokens.weight", 2, (int64_t[]){VOCAB, d});
    add_random(w, "model.decoder.embed_positions.weight", 2, (int64_t[]){TARGET, d});
    for (int64_t l = 0; l < s->layers; l++) {
        add_layer(w, "encoder", l, s, false);
        add_layer(w, "decoder", l, s, true);
    }
    add_norm(w, "model.encoder.layer_norm", d);
    add_norm(w, "model.decoder.layer_norm", d);
    bench_write_folder(dir, w,
                       "{\"model_type\": \"whisper\", \"architectures\": [\"WhisperForConditionalGeneration\"], "
                       "\"d_model\": %lld, \"encoder_layers\": %lld, \"decoder_layers\": %lld, "
                       "\"encoder_attention_heads\": %lld, \"decoder_attention_heads\": %lld, \"encoder_ffn_dim\": %lld, "
                       "\"decoder_ffn_dim\": %lld, \"vocab_size\": %d, \"num_mel_bins\": %d, \"max_source_positions\": %d, "
                       "\"max_target_positions\": %d, \"activation_function\": \"gelu\"}\n",
                       (long long)s->d, (long long)s->layers, (long long)s->layers, (long long)s->heads,
                       (long long)s->heads, (long long)s->ffn, (long long)s->ffn, VOCAB, MELS, SOURCE, TARGET);
}

static void check(cf_status s, const cf_error *err)
{
    if (s != CF_OK) {
        fprintf(stderr, "bench_whisper: %s\n", err->message);
        exit(1);
    }
}

static double bench_log_mel(int runs)
{
    cf_config pre;
    cf_error err = {0};
    const char *json = "{\"feature_size\": 80, \"sampling_rate\": 16000, \"n_fft\": 400, \"hop_length\": 160, "
                       "\"chunk_length\": 30}";
    check(cf_config_parse(&pre, json, strlen(json), "preprocessor_config.json", &err), &err);
    cf_whisper_features fe;
    check(cf_whisper_features_init(&fe, &pre, &err), &err);
    size_t n = (size_t)fe.n_samples;
    float *pcm = malloc(n * sizeof *pcm), *out = malloc((size_t)(fe.feature_size * fe.n_frames) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        pcm[i] = 0.3f * sinf((float)i * 0.05f) + 0.1f * bench_random();
    double t[64];
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        check(cf_whisper_log_mel(&fe, pcm, n, out, &err), &err);
        t[r] = bench_now() - t0;
    }
    free(pcm);
    free(out);
    cf_whisper_features_free(&fe);
    cf_config_free(&pre);
    return bench_median(t, runs) * 1e3;
}

/* Encoder median ms and decoder tokens/s for one model shape. */
static void bench_shape(const shape *s, cf_wtype dtype, int runs, int tokens, double *enc_ms, double *tok_s)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "/tmp/cformer-bench/whisper-%s", s->name);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat sb;
    if (stat(path, &sb) != 0)
        generate(dir, s);
    cf_config cfg;
    cf_error err = {0};
    snprintf(path, sizeof path, "%s/config.json", dir);
    check(cf_config_load(&cfg, path, &err), &err);
    cf_whisper *m = NULL;
    cf_load_options previous = cf_linear_set_load_options((cf_load_options){.dtype = dtype});
    cf_status loaded = cf_whisper_load(dir, &cfg, &m, &err);
    cf_linear_set_load_options(previous);
    check(loaded, &err);
    size_t nf = (size_t)(cf_whisper_n_mels(m) * cf_whisper_n_frames(m));
    float *features = malloc(nf * sizeof *features);
    float *enc = malloc((size_t)(cf_whisper_enc_len(m) * cf_whisper_hidden(m)) * sizeof *enc);
    for (size_t i = 0; i < nf; i++)
        features[i] = bench_random();
    double t[64];
    check(cf_whisper_encode(m, features, enc, NULL, NULL, &err), &err); /* warm-up */
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        check(cf_whisper_encode(m, features, enc, NULL, NULL, &err), &err);
        t[r] = bench_now() - t0;
    }
    *enc_ms = bench_median(t, runs) * 1e3;

    cf_lm lm = cf_whisper_as_lm(m);
    cf_lm_limits lim = {.n_inputs = 1, .copies = 1, .max_len = tokens + 1};
    void *session = NULL;
    check(lm.ops->open(lm.model, &lim, &session, &err), &err);
    float *logits = malloc((size_t)lm.vocab_size * sizeof *logits);
    int64_t sot = 50258;
    cf_lm_inputs in = {.n_inputs = 1, .copies = 1, .len = 1, .ids = &sot, .enc_features = features,
                       .enc_features_shape = {cf_whisper_n_mels(m), cf_whisper_n_frames(m)}};
    check(lm.ops->start(session, &in, logits, &err), &err);
    double t0 = bench_now();
    for (int i = 0; i < tokens; i++) {
        int64_t tok = 1000 + (i * 7919) % 40000;
        check(lm.ops->step(session, &tok, NULL, logits, &err), &err);
    }
    *tok_s = tokens / (bench_now() - t0);
    lm.ops->close(session);
    free(logits);
    free(features);
    free(enc);
    cf_whisper_free(m);
    cf_config_free(&cfg);
}

static void print_load(const char *when)
{
    double load[3] = {0};
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
            load[0] = load[1] = load[2] = -1;
        fclose(f);
    }
    printf("load average %s: %.2f %.2f %.2f (1, 5, 15 min)\n", when, load[0], load[1], load[2]);
}

int main(int argc, char **argv)
{
    int threads = 2, runs = 5, tokens = 100;
    const char *dtypes = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokens"))
            tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dtype"))
            dtypes = argv[i + 1];
    }
    runs = runs < 1 ? 1 : runs > 64 ? 64 : runs;
    tokens = tokens < 1 ? 1 : tokens > TARGET - 1 ? TARGET - 1 : tokens;
    cf_threads_set(threads);
    printf("whisper, %d threads, median of %d runs, decoder over %d steps\n", cf_threads_count(), runs, tokens);
    print_load("before");
    printf("\nlog-mel 30 s (80 bins): %.1f ms (goal <= 15 ms)\n\n", bench_log_mel(runs));
    printf("| model | weights | encoder 30 s (ms) | goal (ms) | whisper.cpp (ms) | decoder (tokens/s) |\n");
    printf("|-------|---------|-------------------|-----------|------------------|--------------------|\n");
    static const char *const goal[2] = {"350", "800"}, *const peer[2] = {"620-860", "1645-1741"};
    static const cf_wtype types[2] = {CF_WTYPE_F32, CF_WTYPE_BF16};
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 2; k++) {
            if (strcmp(dtypes, "both") && strcmp(dtypes, cf_wtype_name(types[k])))
                continue;
            double enc_ms, tok_s;
            bench_shape(&k_shapes[i], types[k], runs, tokens, &enc_ms, &tok_s);
            printf("| %-5s | %-7s | %17.1f | %9s | %16s | %18.1f |\n", k_shapes[i].name, cf_wtype_name(types[k]),
                   enc_ms, goal[i], peer[i], tok_s);
            fflush(stdout);
        }
    printf("\n");
    print_load("after");
    return 0;
}
