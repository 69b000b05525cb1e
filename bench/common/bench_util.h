/* Shared by the bench programs: clocks and medians, the machine's copy bandwidth, the default
 * thread count, and model folders of random weights written with the safetensors writer. */
#ifndef CF_BENCH_UTIL_H
#define CF_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

#include "core/error.h"
#include "io/config.h"
#include "io/safetensors.h"

/* Seconds on `clock` (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, ...). */
double bench_clock(clockid_t clock);
/* Wall-clock seconds / milliseconds (monotonic). */
double bench_now(void);
double bench_now_ms(void);

/* qsort comparator for doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/* Sorts v[n] and returns v[n / 2] (the upper of the two middle values when n is even). */
double bench_median(double *v, int n);
/* Sorts v[n] and returns its median: the mean of the two middle values when n is even. */
double bench_median_mean(double *v, int n);

/* GB/s of read + write traffic copying a 256 MB buffer 4 times with memcpy. */
double bench_memcpy_bandwidth(void);

/* 2 library threads unless CFORMER_THREADS says otherwise. */
void bench_default_threads(void);

/* Uniform in [-0.5, 0.5), from one xorshift64 stream per program (a fixed seed: runs repeat). */
float bench_random(void);

/* Adds an f32 tensor `name` of `shape` whose elements are fill + scale * bench_random(); exits
 * with the library's message when the tensor cannot be made. */
void bench_add_tensor(cf_st_writer *w, const char *name, int ndim, const int64_t *shape, float fill, float scale);
/* The same for a [rows, cols] tensor ([rows] when cols is 0) named by a printf format. */
void bench_add_matrix(cf_st_writer *w, float fill, float scale, int64_t rows, int64_t cols, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Writes dir/config.json (a printf format) and dir/model.safetensors from w, and frees w; exits
 * with a message when either cannot be written. */
void bench_write_folder(const char *dir, cf_st_writer *w, const char *config_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* dir/config.json loaded into cfg. */
cf_status bench_load_config(const char *dir, cf_config *cfg, cf_error *err);
/* Removes a temporary model folder and all it holds; 0 on success. */
int bench_remove_dir(const char *dir);

#endif
