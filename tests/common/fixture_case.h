/* A fixture case folder opened for comparison against its stored reference tensors. */
#ifndef CF_TEST_FIXTURE_CASE_H
#define CF_TEST_FIXTURE_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/config.h"
#include "io/safetensors.h"

/* dir/file loaded as a config; a failure fails the test naming the file. */
void cf_test_load_config(cf_config *cfg, const char *dir, const char *file);

/* dir/expected.safetensors opened; a failure fails the test. */
cf_safetensors *cf_test_open_expected(const char *dir);

/* A case folder with its config.json and expected.safetensors, both opened. */
typedef struct cf_test_case {
    char dir[4096];
    char family[16];
    cf_safetensors *exp;
    cf_config config;
} cf_test_case;

void cf_test_case_open(cf_test_case *c, const char *family, const char *dir);
void cf_test_case_close(cf_test_case *c);

/* Runs run(case, ctx) on every case folder of fixtures/<family>/ that has expected.safetensors,
 * opened (and closed after); returns how many there were. */
typedef void (*cf_test_case_fn)(cf_test_case *c, void *ctx);
size_t cf_test_each_case(const char *family, cf_test_case_fn run, void *ctx);

/* A stored int64 tensor in place (NULL when the case has none of that name); its dtype is asserted. */
const int64_t *cf_test_case_ids(const cf_test_case *c, const char *name, int64_t *n);
/* A stored tensor as a fresh malloc'ed f32 array (NULL when absent). */
float *cf_test_case_floats(const cf_test_case *c, const char *name, int64_t *n);

/* Compares the tensors a model reports with the stored tensors of the same name (prefix + name),
 * when there are some, within atol + rtol * |stored|; counts what it compared and what differed. */
typedef struct cf_test_tensor_check {
    const char *case_dir, *prefix; /* prefix: NULL or "" for none */
    const cf_safetensors *expected;
    double atol, rtol;
    size_t compared, failed;
} cf_test_tensor_check;

/* got[n] against the stored tensor `name`; false when none is stored. */
bool cf_test_check_values(cf_test_tensor_check *c, const char *name, const float *got, size_t n);
/* The same as a (name, values, rows, cols) model callback: `check` is a cf_test_tensor_check. */
void cf_test_check_tensor(void *check, const char *name, const float *got, int64_t rows, int64_t cols);

#endif
