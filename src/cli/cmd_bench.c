/* cformer bench MODEL [--dtype f32|bf16|int8|all] [--threads N] [--runs N] [--prompt N] [--batch N] [--seq N]
 *
 * Times the model on its task's shapes for each weight type: decoder-only LMs a prompt (tokens/s,
 * GFLOP/s) and decode steps (ms/token, weight GB/s); text encoders a batch x seq forward (ms/batch,
 * GFLOP/s). Next to them, the machine's measured limits: read bandwidth and peak multiply-add rate
 * for that type. GFLOP/s counts 2 per weight per token over the 2-D weights a token passes through
 * (attention's own flops are not counted, so short sequences understate nothing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "io/config.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "core/threadpool.h"
#include "models/causal_lm.h"
#include "models/encoder.h"
#include "models/lm.h"
#include "nn/linear.h"

bool cf_cli_load_options(char *out, size_t size, int threads, const char *dtype)
{
    cf_wtype t;
    if (dtype && !cf_wtype_parse(dtype, &t)) {
        fprintf(stderr, "cformer: --dtype must be f32, bf16 or int8 (got '%s')\n", dtype);
        return false;
    }
    out[0] = '\0';
    if (threads > 0 && dtype)
        snprintf(out, size, "{\"threads\": %d, \"dtype\": \"%s\"}", threads, cf_wtype_name(t));
    else if (threads > 0)
        snprintf(out, size, "{\"threads\": %d}", threads);
    else if (dtype)
        snprintf(out, size, "{\"dtype\": \"%s\"}", cf_wtype_name(t));
    return true;
}

typedef struct bench_args {
    const char *model;
    bool dtypes[3];
    int threads, runs, prompt, batch, seq;
} bench_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: cformer bench MODEL [--dtype f32|bf16|int8|all] [--threads N] [--runs N]\n"
               "                           [--prompt N] [--batch N] [--seq N]\n"
               "  decoder-only LMs: prompt of N tokens (default 128), then 32 decode steps\n"
               "  text encoders: batch x seq forward (default 1 x 128)\n"
               "  --dtype may repeat; default all three\n");
}

static int parse(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.runs = 5, .prompt = 128, .batch = 1, .seq = 128};
    bool any = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            return -1;
        }
        if (arg[0] != '-') {
            a->model = arg;
            continue;
        }
        if (!val) {
            fprintf(stderr, "cformer bench: %s needs a value\n", arg);
            return CF_EXIT_USAGE;
        }
        i++;
        cf_wtype t;
        if (!strcmp(arg, "--dtype") && !strcmp(val, "all"))
            a->dtypes[0] = a->dtypes[1] = a->dtypes[2] = any = true;
        else if (!strcmp(arg, "--dtype") && cf_wtype_parse(val, &t))
            a->dtypes[t] = any = true;
        else if (!strcmp(arg, "--threads"))
            a->threads = atoi(val);
        else if (!strcmp(arg, "--runs"))
            a->runs = atoi(val);
        else if (!strcmp(arg, "--prompt"))
            a->prompt = atoi(val);
        else if (!strcmp(arg, "--batch"))
            a->batch = atoi(val);
        else if (!strcmp(arg, "--seq"))
            a->seq = atoi(val);
        else {
            fprintf(stderr, "cformer bench: bad option %s %s\n", arg, val);
            usage(stderr);
            return CF_EXIT_USAGE;
        }
    }
    if (!a->model || a->runs < 1 || a->prompt < 1 || a->batch < 1 || a->seq < 1) {
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    if (!any)
        a->dtypes[0] = a->dtypes[1] = a->dtypes[2] = true;
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU time of the whole process: with one thread, what the work costs when it has a core to itself. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 2-D weights a token multiplies through (not the embedding tables it only gathers from), and the
 * tied/untied output head, which decode reads every step. */
typedef struct weight_count {
    double gemm, head;
} weight_count;

static bool is_gathered_table(const char *name)
{
    return strstr(name, "position") || strstr(name, "wpe") || strstr(name, "token_type") ||
           (strstr(name, "embed") && !strstr(name, "lm_head"));
}

static cf_status count_weights(const char *dir, bool tied_head, weight_count *w, cf_error *err)
{
    cf_safetensors *st;
    CF_TRY(cf_st_open_dir(dir, &st, err));
    *w = (weight_count){0};
    for (size_t i = 0; i < cf_st_count(st); i++) {
        const cf_tensor *t = cf_st_at(st, i);
        const char *name = cf_st_name(st, i);
        if (t->ndim != 2)
            continue;
        double n = (double)t->shape[0] * (double)t->shape[1];
        if (strstr(name, "lm_head") || (tied_head && (strstr(name, "wte") || strstr(name, "embed_tokens"))))
            w->head = n > w->head ? n : w->head;
        else if (!is_gathered_table(name))
            w->gemm += n;
    }
    cf_st_close(st);
    return CF_OK;
}

static double bytes_per_weight(cf_wtype t) { return t == CF_WTYPE_INT8 ? 1.0 : t == CF_WTYPE_BF16 ? 2.0 : 4.0; }

typedef struct stats {
    double median, best;
} stats;

static stats summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return (stats){v[n / 2], v[0]};
}

static void print_limits(cf_wtype t, double read_gbs)
{
    double peak = cf_measure_peak_gflops(t);
    printf("  limits here: read %.1f GB/s, %s multiply-add peak %.0f GFLOP/s (%d threads)\n", read_gbs,
           cf_wtype_name(t), peak, cf_threads_count());
}

static cf_status bench_causal(const bench_args *a, const char *dir, const cf_config *cfg, cf_wtype t, double read_gbs,
                              cf_error *err)
{
    cf_causal_lm *m;
    cf_load_options saved = cf_linear_set_load_options((cf_load_options){.dtype = t});
    double t0 = now();
    cf_status s = cf_causal_lm_load(dir, cfg, &m, err);
    cf_linear_set_load_options(saved);
    CF_TRY(s);
    double load_s = now() - t0;
    weight_count w;
    s = count_weights(dir, true, &w, err);
    cf_lm lm = cf_causal_lm_as_lm(m);
    int n_decode = 32, len = a->prompt;
    if (lm.max_positions > 0 && len + n_decode > lm.max_positions)
        len = (int)lm.max_positions - n_decode;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)(len + n_decode));
    float *logits = malloc(sizeof(float) * (size_t)lm.vocab_size);
    double *prompt_s = malloc(sizeof(double) * (size_t)a->runs), *step_s = malloc(sizeof(double) * (size_t)a->runs);
    double *prompt_cpu = malloc(sizeof(double) * (size_t)a->runs), *step_cpu = malloc(sizeof(double) * (size_t)a->runs);
    if (s == CF_OK && (!ids || !logits || !prompt_s || !step_s || !prompt_cpu || !step_cpu || len < 1))
        s = cf_fail(err, CF_ERR_NOMEM, "bench: cannot allocate buffers for a %d-token prompt", len);
    for (int i = 0; s == CF_OK && i < len + n_decode; i++)
        ids[i] = (i * 7919 + 13) % lm.vocab_size;
    cf_lm_limits lim = {.n_inputs = 1, .copies = 1, .max_len = len + n_decode};
    for (int r = -1; s == CF_OK && r < a->runs; r++) { /* one warm-up run */
        void *session;
        CF_TRY(lm.ops->open(lm.model, &lim, &session, err));
        cf_lm_inputs in = {.n_inputs = 1, .copies = 1, .len = len, .ids = ids};
        double p0 = now(), c0 = cpu_now();
        s = lm.ops->start(session, &in, logits, err);
        double p1 = now(), c1 = cpu_now();
        for (int i = 0; s == CF_OK && i < n_decode; i++)
            s = lm.ops->step(session, &ids[len + i], NULL, logits, err);
        double p2 = now(), c2 = cpu_now();
        lm.ops->close(session);
        if (r >= 0) {
            prompt_s[r] = p1 - p0, step_s[r] = (p2 - p1) / n_decode;
            prompt_cpu[r] = c1 - c0, step_cpu[r] = (c2 - c1) / n_decode;
        }
    }
    if (s == CF_OK) {
        stats ps = summarize(prompt_s, a->runs), ds = summarize(step_s, a->runs);
        stats pc = summarize(prompt_cpu, a->runs), dc = summarize(step_cpu, a->runs);
        double bw = bytes_per_weight(t), decode_bytes = (w.gemm + w.head) * bw;
        printf("%s (loaded in %.2f s; %.1f M weights in layers + %.1f M head, %.0f MB read per token)\n",
               cf_wtype_name(t), load_s, w.gemm / 1e6, w.head / 1e6, decode_bytes / 1e6);
        printf("  prompt %4d tokens  %8.1f ms  (best %8.1f)  %8.1f tokens/s  %7.1f GFLOP/s\n", len, ps.median * 1e3,
               ps.best * 1e3, len / ps.median, 2.0 * w.gemm * len / ps.median / 1e9);
        printf("  decode at %4d     %8.2f ms/token (best %6.2f)  %8.1f tokens/s  %7.1f GB/s\n", len + n_decode / 2,
               ds.median * 1e3, ds.best * 1e3, 1 / ds.median, decode_bytes / ds.median / 1e9);
        printf("  cpu time: prompt %.1f ms, decode %.2f ms/token (medians; all threads, spin-waits included)\n",
               pc.median * 1e3, dc.median * 1e3);
        print_limits(t, read_gbs);
    }
    free(ids), free(logits), free(prompt_s), free(step_s), free(prompt_cpu), free(step_cpu);
    cf_causal_lm_free(m);
    return s;
}

static cf_status bench_encoder(const bench_args *a, const char *dir, const cf_config *cfg, cf_wtype t,
                               double read_gbs, cf_error *err)
{
    cf_encoder *m;
    cf_load_options saved = cf_linear_set_load_options((cf_load_options){.dtype = t});
    double t0 = now();
    cf_status s = cf_encoder_load(dir, cfg, CF_HEAD_BASE, &m, err);
    cf_linear_set_load_options(saved);
    CF_TRY(s);
    double load_s = now() - t0;
    int64_t seq = a->seq < cf_encoder_max_tokens(m) ? a->seq : cf_encoder_max_tokens(m), n = a->batch * seq;
    weight_count w;
    s = count_weights(dir, false, &w, err);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
    double *times = malloc(sizeof(double) * (size_t)a->runs), *cpu = malloc(sizeof(double) * (size_t)a->runs);
    if (s == CF_OK && (!ids || !times || !cpu))
        s = cf_fail(err, CF_ERR_NOMEM, "bench: cannot allocate a %d x %lld batch", a->batch, (long long)seq);
    for (int64_t i = 0; s == CF_OK && i < n; i++)
        ids[i] = (i * 7919 + 101) % cf_encoder_vocab_size(m);
    if (s == CF_OK)
        s = cf_encoder_reserve(m, a->batch, seq, 0, err);
    cf_encoder_input in = {.batch = a->batch, .seq = seq, .input_ids = ids};
    cf_encoder_output out;
    for (int r = -1; s == CF_OK && r < a->runs; r++) {
        double p0 = now(), c0 = cpu_now();
        s = cf_encoder_forward(m, &in, &out, err);
        if (r >= 0)
            times[r] = now() - p0, cpu[r] = cpu_now() - c0;
    }
    if (s == CF_OK) {
        stats ts = summarize(times, a->runs), tc = summarize(cpu, a->runs);
        printf("%s (loaded in %.2f s; %.1f M weights in layers)\n", cf_wtype_name(t), load_s, w.gemm / 1e6);
        printf("  %d x %-5lld  %9.1f ms/batch (best %9.1f)  %8.1f seq/s  %7.1f GFLOP/s\n", a->batch, (long long)seq,
               ts.median * 1e3, ts.best * 1e3, a->batch / ts.median, 2.0 * w.gemm * (double)n / ts.median / 1e9);
        printf("  cpu time: %.1f ms/batch (median; all threads, spin-waits included)\n", tc.median * 1e3);
        print_limits(t, read_gbs);
    }
    free(ids), free(times), free(cpu);
    cf_encoder_free(m);
    return s;
}

int cf_cmd_bench(int argc, char **argv)
{
    bench_args a;
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc < 0 ? CF_EXIT_OK : rc;
    if (a.threads > 0)
        cf_threads_set(a.threads);
    cf_error err = {0};
    char dir[CF_PATH_MAX], path[CF_PATH_MAX + 16];
    cf_config cfg = {0};
    if (cf_model_resolve(a.model, dir, sizeof dir, &err) != CF_OK) {
        fprintf(stderr, "cformer bench: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (cf_config_load(&cfg, path, &err) != CF_OK) {
        fprintf(stderr, "cformer bench: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    bool causal = cf_causal_lm_supports(&cfg), encoder = cf_encoder_supports(&cfg);
    if (!causal && !encoder) {
        fprintf(stderr, "cformer bench: %s: only decoder-only LMs (gpt2, llama) and text encoders (bert, distilbert, "
                        "roberta) are benchmarked so far\n", dir);
        cf_config_free(&cfg);
        return CF_EXIT_ERROR;
    }
    double read_gbs = cf_measure_read_gbs((size_t)256 << 20);
    printf("cformer bench %s: %d threads, isa %s, median of %d runs\n", dir, cf_threads_count(),
           cf_isa_name(cf_kernels_isa()), a.runs);
    cf_status s = CF_OK;
    for (int t = 0; s == CF_OK && t < 3; t++)
        if (a.dtypes[t])
            s = causal ? bench_causal(&a, dir, &cfg, (cf_wtype)t, read_gbs, &err)
                       : bench_encoder(&a, dir, &cfg, (cf_wtype)t, read_gbs, &err);
    cf_config_free(&cfg);
    if (s != CF_OK) {
        fprintf(stderr, "cformer bench: %s\n", err.message);
        return CF_EXIT_ERROR;
    }
    return CF_EXIT_OK;
}
