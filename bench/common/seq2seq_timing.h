/* Encoder and decoder-step timings of an encoder-decoder model, shared by bench_t5 and
 * bench_seq2seq (random-weight folders of real shapes). */
#ifndef CF_BENCH_SEQ2SEQ_TIMING_H
#define CF_BENCH_SEQ2SEQ_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"
#include "models/seq2seq.h"

/* A bench over model shapes: each one argv selects is written as a random-weight folder in a
 * temporary directory, loaded, timed and removed. */
typedef struct bench_seq2seq_suite {
    const char *tag;             /* part of the temporary folder's name */
    const char *bandwidth_label; /* printed with bandwidth()'s GB/s before the shapes */
    double (*bandwidth)(void);   /* the machine's ceiling the step traffic is compared with */
    size_t n_shapes;
    const char *(*name)(size_t which); /* as `bench_x NAME` selects it */
    void (*write)(size_t which, const char *dir);
    void (*run)(size_t which, const cf_seq2seq *m, double bandwidth);
} bench_seq2seq_suite;

/* The shapes argv[1] names (all when it names none), on 2 threads unless CFORMER_THREADS says
 * otherwise; the exit status: 0 when every one loaded and was cleaned up. */
int bench_seq2seq_main(const bench_seq2seq_suite *suite, int argc, char **argv);

/* Wall and process-CPU seconds of one encoder pass over ids[len]: the best of `runs` after a
 * warm-up. false (after printing why) when the work memory cannot be had. */
bool bench_encoder_best(const cf_seq2seq *m, const int64_t *ids, int64_t len, int runs, double *wall, double *cpu);

/* Wall and process-CPU seconds per decoder step, the mean of n_steps steps of `beams`
 * (<= 8) beams against the encoder output of ids[enc_len], from the decoder start token; the
 * beams swap parents every step as beam search does. false (after printing why) on failure. */
bool bench_decoder_step(const cf_seq2seq *m, const int64_t *ids, int64_t enc_len, int beams, int n_steps,
                        double *wall, double *cpu);

#endif
