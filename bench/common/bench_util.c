#include "bench_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"

double bench_clock(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_now(void) { return bench_clock(CLOCK_MONOTONIC); }

double bench_now_ms(void) { return 1e3 * bench_now(); }

int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

double bench_median_mean(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_memcpy_bandwidth(void)
{
    size_t n = (size_t)256 << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) {
        free(a);
        free(b);
        return 0;
    }
    memset(a, 1, n);
    memset(b, 0, n);
    double t0 = bench_now();
    for (int r = 0; r < 4; r++)
        memcpy(b, a, n);
    double gbs = 4.0 * 2.0 * (double)n / (bench_now() - t0) / 1e9;
    volatile char sink = b[12345]; /* keeps the copies from being optimised away */
    (void)sink;
    free(a);
    free(b);
    return gbs;
}

void bench_default_threads(void)
{
    if (!getenv("CFORMER_THREADS"))
        cf_threads_set(2);
}

static uint64_t g_rng = 88172645463325252ULL;

float bench_random(void)
{
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (float)(g_rng >> 40) / (float)(1 << 24) - 0.5f;
}

static _Noreturn void die(const char *what, const cf_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err->message);
    exit(1);
}

void bench_add_tensor(cf_st_writer *w, const char *name, int ndim, const int64_t *shape, float fill, float scale)
{
    cf_tensor t;
    cf_error err = {0};
    if (cf_tensor_alloc(&t, CF_DTYPE_F32, ndim, shape, &err) != CF_OK)
        die(name, &err);
    float *p = t.data;
    for (int64_t i = 0; i < cf_tensor_numel(&t); i++)
        p[i] = scale != 0 ? fill + scale * bench_random() : fill;
    if (cf_st_writer_add(w, name, &t, &err) != CF_OK)
        die(name, &err);
    cf_tensor_free(&t);
}

void bench_add_matrix(cf_st_writer *w, float fill, float scale, int64_t rows, int64_t cols, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {rows, cols};
    bench_add_tensor(w, name, cols ? 2 : 1, shape, fill, scale);
}

void bench_write_folder(const char *dir, cf_st_writer *w, const char *config_fmt, ...)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    va_list ap;
    va_start(ap, config_fmt);
    int written = f ? vfprintf(f, config_fmt, ap) : -1;
    va_end(ap);
    if (!f || written < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cf_error err = {0};
    if (cf_st_writer_save(w, path, &err) != CF_OK)
        die(path, &err);
    cf_st_writer_free(w);
}

cf_status bench_load_config(const char *dir, cf_config *cfg, cf_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    return cf_config_load(cfg, path, err);
}

int bench_remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}
