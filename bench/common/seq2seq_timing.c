#include "seq2seq_timing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "core/threadpool.h"

/* The model of the folder dir, or NULL after printing why; cfg starts zeroed and is freed by the caller. */
static cf_seq2seq *load(const char *dir, cf_config *cfg)
{
    cf_error err = {0};
    cf_seq2seq *m = NULL;
    if (bench_load_config(dir, cfg, &err) != CF_OK || cf_seq2seq_load(dir, cfg, &m, &err) != CF_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    return m;
}

static int run_shape(const bench_seq2seq_suite *s, size_t shape, double bw)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/cformer_bench_%s_XXXXXX", s->tag);
    if (!mkdtemp(dir))
        return 1;
    s->write(shape, dir);
    cf_config cfg = {0};
    cf_seq2seq *m = load(dir, &cfg);
    int rc = m ? 0 : 1;
    if (m) {
        printf("%s (random weights, f32, %d threads)\n", s->name(shape), cf_threads_count());
        s->run(shape, m, bw);
        cf_seq2seq_free(m);
    }
    cf_config_free(&cfg);
    return bench_remove_dir(dir) == 0 ? rc : 1;
}

int bench_seq2seq_main(const bench_seq2seq_suite *suite, int argc, char **argv)
{
    bench_default_threads();
    double bw = suite->bandwidth();
    printf("%s: %.1f GB/s\n", suite->bandwidth_label, bw);
    int rc = 0;
    for (size_t i = 0; i < suite->n_shapes; i++)
        if (argc < 2 || !strcmp(argv[1], suite->name(i)))
            rc |= run_shape(suite, i, bw);
    return rc;
}

static double cpu_now(void) { return bench_clock(CLOCK_PROCESS_CPUTIME_ID); }

bool bench_encoder_best(const cf_seq2seq *m, const int64_t *ids, int64_t len, int runs, double *wall, double *cpu)
{
    cf_error err = {0};
    cf_arena a;
    const cf_seq2seq_arch *ar = &m->arch;
    float *out = malloc((size_t)len * (size_t)ar->hidden * sizeof(float));
    if (!out || cf_arena_init(&a, ar->encode_bytes(m->weights, len), &err) != CF_OK) {
        fprintf(stderr, "encoder: %s\n", out ? err.message : "out of memory");
        free(out);
        return false;
    }
    ar->encode(m->weights, ids, len, out, &a, NULL, NULL); /* warm-up */
    *wall = *cpu = 1e9;
    for (int r = 0; r < runs; r++) {
        cf_arena_reset(&a);
        double t0 = bench_now(), c0 = cpu_now();
        ar->encode(m->weights, ids, len, out, &a, NULL, NULL);
        double dt = bench_now() - t0, dc = cpu_now() - c0;
        *wall = dt < *wall ? dt : *wall;
        *cpu = dc < *cpu ? dc : *cpu;
    }
    cf_arena_free(&a);
    free(out);
    return true;
}

bool bench_decoder_step(const cf_seq2seq *m, const int64_t *ids, int64_t enc_len, int beams, int n_steps,
                        double *wall, double *cpu)
{
    cf_error err = {0};
    cf_lm lm = cf_seq2seq_as_lm(m);
    cf_lm_limits lim = {.n_inputs = 1, .copies = beams, .max_len = n_steps + 2, .enc_len = enc_len};
    void *sess;
    if (beams > 8 || lm.ops->open(lm.model, &lim, &sess, &err) != CF_OK) {
        fprintf(stderr, "decoder: %s\n", beams > 8 ? "at most 8 beams" : err.message);
        return false;
    }
    int64_t start = m->decoder_start_id, tokens[8];
    int32_t src[8];
    float *logits = malloc((size_t)beams * (size_t)lm.vocab_size * sizeof(float));
    cf_lm_inputs in = {.n_inputs = 1, .copies = beams, .len = 1, .ids = &start, .enc_len = enc_len, .enc_ids = ids};
    lm.ops->start(sess, &in, logits, &err);
    double t0 = bench_now(), c0 = cpu_now();
    for (int i = 0; i < n_steps; i++) {
        for (int b = 0; b < beams; b++) {
            tokens[b] = 3 + (i * 31 + b * 7) % 1000;
            src[b] = (int32_t)((b + i) % beams); /* beams swap parents as beam search does */
        }
        lm.ops->step(sess, tokens, beams > 1 ? src : NULL, logits, &err);
    }
    *wall = (bench_now() - t0) / n_steps;
    *cpu = (cpu_now() - c0) / n_steps;
    free(logits);
    lm.ops->close(sess);
    return true;
}
