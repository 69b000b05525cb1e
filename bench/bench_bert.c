/* BERT-base forward on random weights: batch 1 x 128 tokens latency and batch 32 x 128
 * throughput, f32, on the library thread pool (2 threads unless --threads says otherwise).
 * Reference points on this machine class (issue 6): PyTorch eager 199 ms and ONNX Runtime
 * 145 ms for 1 x 128; goal <= 115 ms and >= 8 sequences/s at batch 32.
 *
 * usage: bench_bert [--threads N] [--runs N] [--dtype f32|bf16|int8] [MODEL_DIR]
 * MODEL_DIR defaults to /tmp/cformer-bench/bert-base, written by bench_gen_weights when absent. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/bench_util.h"
#include "core/buf.h"
#include "io/config.h"
#include "core/threadpool.h"
#include "models/encoder.h"
#include "nn/linear.h"

typedef struct timing {
    double wall;     /* median wall seconds per forward */
    double cpu;      /* median process CPU seconds per forward (all threads) */
} timing;

/* Run bench_gen_weights (next to this program) to write the random BERT-base folder. */
static int generate(const char *self, const char *dir)
{
    char gen[PATH_MAX], cmd[2 * PATH_MAX + 64];
    snprintf(gen, sizeof gen, "%s", self);
    char *slash = strrchr(gen, '/');
    snprintf(slash ? slash + 1 : gen, sizeof gen - (size_t)(slash ? slash + 1 - gen : 0), "bench_gen_weights");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && '%s' bert '%s'", dir, gen, dir);
    fprintf(stderr, "writing random BERT-base weights: %s\n", cmd);
    return system(cmd);
}

/* Median wall and CPU seconds of `runs` forwards of a batch x seq batch of arbitrary ids. */
static timing time_forward(cf_encoder *m, int64_t batch, int64_t seq, int runs)
{
    int64_t n = batch * seq;
    int64_t *ids = malloc((size_t)n * sizeof(int64_t)), *mask = malloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        ids[i] = 1000 + (i * 7919) % 20000;
        mask[i] = 1;
    }
    cf_error err = {0};
    if (cf_encoder_reserve(m, batch, seq, 0, &err) != CF_OK) {
        fprintf(stderr, "bench_bert: %s\n", err.message);
        exit(1);
    }
    cf_encoder_input in = {.batch = batch, .seq = seq, .input_ids = ids, .attention_mask = mask};
    cf_encoder_output out;
    double *wall = malloc((size_t)runs * sizeof(double)), *cpu = malloc((size_t)runs * sizeof(double));
    for (int r = -1; r < runs; r++) { /* one warm-up */
        double w0 = bench_clock(CLOCK_MONOTONIC), c0 = bench_clock(CLOCK_PROCESS_CPUTIME_ID);
        if (cf_encoder_forward(m, &in, &out, &err) != CF_OK) {
            fprintf(stderr, "bench_bert: %s\n", err.message);
            exit(1);
        }
        if (r >= 0) {
            wall[r] = bench_clock(CLOCK_MONOTONIC) - w0;
            cpu[r] = bench_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    timing median = {bench_median(wall, runs), bench_median(cpu, runs)};
    free(wall);
    free(cpu);
    free(ids);
    free(mask);
    return median;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp/cformer-bench/bert-base";
    int threads = 2, runs = 10;
    cf_load_options load = {.dtype = CF_WTYPE_F32};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            if (!cf_wtype_parse(argv[++i], &load.dtype)) {
                fprintf(stderr, "bench_bert: --dtype takes f32, bf16 or int8\n");
                return 2;
            }
        } else if (argv[i][0] != '-')
            dir = argv[i];
        else {
            fprintf(stderr, "usage: bench_bert [--threads N] [--runs N] [--dtype f32|bf16|int8] [MODEL_DIR]\n");
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    char cfg_path[PATH_MAX];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    if (!cf_file_exists(cfg_path) && generate(argv[0], dir) != 0) {
        fprintf(stderr, "bench_bert: could not write %s\n", dir);
        return 1;
    }
    cf_threads_set(threads);
    cf_error err = {0};
    cf_config cfg = {0};
    cf_encoder *m = NULL;
    cf_linear_set_load_options(load);
    if (cf_config_load(&cfg, cfg_path, &err) != CF_OK ||
        cf_encoder_load(dir, &cfg, CF_HEAD_SEQUENCE_CLASSIFICATION, &m, &err) != CF_OK) {
        fprintf(stderr, "bench_bert: %s\n", err.message);
        return 1;
    }
    printf("BERT-base (%lld layers, hidden %lld, vocab %lld), %s weights, %d threads, median of %d runs\n\n",
           (long long)cf_encoder_num_layers(m), (long long)cf_encoder_hidden_size(m),
           (long long)cf_encoder_vocab_size(m), cf_wtype_name(load.dtype), cf_threads_count(), runs);
    /* On a shared machine wall time includes waiting for a core; CPU time / threads is what the
     * same work takes when the cores are free. */
    printf("%-10s %10s %8s %16s %10s   %s\n", "shape", "wall ms", "seq/s", "cpu ms/threads", "goal", "peers (1 x 128)");
    double n = (double)cf_threads_count();
    timing t1 = time_forward(m, 1, 128, runs);
    printf("%-10s %10.1f %8.1f %16.1f %10s   %s\n", "1 x 128", 1e3 * t1.wall, 1 / t1.wall, 1e3 * t1.cpu / n,
           "<= 115 ms", "PyTorch eager 199 ms, ONNX Runtime 145 ms");
    int runs32 = runs < 3 ? runs : 3;
    timing t32 = time_forward(m, 32, 128, runs32);
    printf("%-10s %10.1f %8.1f %16.1f %10s   (seq/s from cpu time: %.1f)\n", "32 x 128", 1e3 * t32.wall,
           32 / t32.wall, 1e3 * t32.cpu / n, ">= 8 seq/s", 32 / (t32.cpu / n));
    cf_encoder_free(m);
    cf_config_free(&cfg);
    return 0;
}
