/* GPT-2 124M shapes (12 layers, d 768, 12 heads, vocab 50257, 1024 positions) with random
 * weights, f32: prompt tokens/s for a 512-token prompt, decode tokens/s at context 128 and
 * 1024 (median step), and the decode step's weight traffic in GB/s. Threads: CFORMER_THREADS (default 2).
 * Peers on this machine class (issue 7): PyTorch eager 16 t/s, ONNX Runtime 41-43 t/s,
 * llama.cpp F32 45 t/s decode; ORT prompt 550-650 t/s. Goals: decode >= 55, prompt >= 800. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/bench_util.h"
#include "core/threadpool.h"
#include "models/causal_lm.h"

enum { D = 768, L = 12, H = 12, V = 50257, P = 1024 };

/* A tensor of `fill`, or (fill 0) random values in +-0.02. */
static void add(cf_st_writer *w, const char *name, int ndim, const int64_t *shape, float fill)
{
    bench_add_tensor(w, name, ndim, shape, fill, fill != 0 ? 0 : 0.04f);
}

static void write_model(const char *dir)
{
    char name[128];
    cf_st_writer *w = cf_st_writer_new();
    add(w, "wte.weight", 2, (int64_t[]){V, D}, 0);
    add(w, "wpe.weight", 2, (int64_t[]){P, D}, 0);
    add(w, "ln_f.weight", 1, (int64_t[]){D}, 1);
    add(w, "ln_f.bias", 1, (int64_t[]){D}, 0);
    for (int l = 0; l < L; l++) {
        const struct { const char *n; int64_t a, b; } t[] = {{"attn.c_attn", D, 3 * D}, {"attn.c_proj", D, D},
                                                             {"mlp.c_fc", D, 4 * D}, {"mlp.c_proj", 4 * D, D}};
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "h.%d.%s.weight", l, t[i].n);
            add(w, name, 2, (int64_t[]){t[i].a, t[i].b}, 0);
            snprintf(name, sizeof name, "h.%d.%s.bias", l, t[i].n);
            add(w, name, 1, (int64_t[]){t[i].b}, 0);
        }
        for (int i = 1; i <= 2; i++) {
            snprintf(name, sizeof name, "h.%d.ln_%d.weight", l, i);
            add(w, name, 1, (int64_t[]){D}, 1);
            snprintf(name, sizeof name, "h.%d.ln_%d.bias", l, i);
            add(w, name, 1, (int64_t[]){D}, 0);
        }
    }
    bench_write_folder(dir, w,
                       "{\"model_type\":\"gpt2\",\"n_embd\":%d,\"n_head\":%d,\"n_layer\":%d,\"vocab_size\":%d,"
                       "\"n_positions\":%d,\"activation_function\":\"gelu_new\"}\n",
                       D, H, L, V, P);
}

int main(void)
{
    bench_default_threads();
    char dir[] = "/tmp/cformer_bench_gpt2_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    write_model(dir);
    cf_error err = {0};
    cf_config cfg;
    cf_causal_lm *m;
    if (bench_load_config(dir, &cfg, &err) || cf_causal_lm_load(dir, &cfg, &m, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    cf_lm lm = cf_causal_lm_as_lm(m);
    float *logits = malloc(sizeof(float) * V);
    int64_t *ids = malloc(sizeof(int64_t) * P);
    for (int i = 0; i < P; i++)
        ids[i] = (i * 7919) % V;
    double weight_bytes = 4.0 * ((double)L * (12.0 * D * D) + (double)V * D);
    printf("cformer GPT-2 124M f32, %d threads (random weights)\n", cf_threads_count());
    printf("%-28s %12s %10s\n", "measure", "tokens/s", "GB/s");
    /* prompt: 512 tokens in one forward; the median of 3 after a warm-up run */
    cf_lm_limits lim = {.n_inputs = 1, .copies = 1, .max_len = P};
    void *s;
    cf_lm_inputs in = {.n_inputs = 1, .copies = 1, .len = 512, .ids = ids};
    double times[64];
    for (int r = 0; r < 4; r++) {
        lm.ops->open(lm.model, &lim, &s, &err);
        double t0 = bench_now();
        lm.ops->start(s, &in, logits, &err);
        if (r > 0)
            times[r - 1] = bench_now() - t0;
        lm.ops->close(s);
    }
    printf("%-28s %12.1f %10s\n", "prompt 512 tokens", 512 / bench_median_mean(times, 3), "-");
    /* decode: the median step of 64 (a noisy neighbour moves the mean, not the median) */
    int contexts[] = {128, 1024};
    for (int c = 0; c < 2; c++) {
        int ctx = contexts[c], n_decode = 64;
        lm.ops->open(lm.model, &lim, &s, &err);
        in.len = ctx - n_decode;
        lm.ops->start(s, &in, logits, &err);
        for (int i = 0; i < n_decode; i++) {
            double t0 = bench_now();
            lm.ops->step(s, &ids[i], NULL, logits, &err);
            times[i] = bench_now() - t0;
        }
        double dt = bench_median_mean(times, n_decode);
        char label[64];
        snprintf(label, sizeof label, "decode at context %d", ctx);
        printf("%-28s %12.1f %10.1f\n", label, 1 / dt, weight_bytes / dt / 1e9);
        lm.ops->close(s);
    }
    printf("%-28s %12s %10.1f\n", "memcpy bandwidth (r+w)", "-", bench_memcpy_bandwidth());
    printf("goals: decode >= 55 t/s, prompt >= 800 t/s; peers: llama.cpp F32 45, ORT 41-43, PyTorch 16\n");
    free(logits);
    free(ids);
    cf_causal_lm_free(m);
    cf_config_free(&cfg);
    return bench_remove_dir(dir) == 0 ? 0 : 1;
}
