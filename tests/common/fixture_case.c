#include "fixture_case.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

void cf_test_load_config(cf_config *cfg, const char *dir, const char *file)
{
    char path[4200];
    cf_error err = {0};
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cr_assert_eq(cf_config_load(cfg, path, &err), CF_OK, "%s", err.message);
}

cf_safetensors *cf_test_open_expected(const char *dir)
{
    char path[4200];
    cf_error err = {0};
    cf_safetensors *st = NULL;
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    return st;
}

void cf_test_case_open(cf_test_case *c, const char *family, const char *dir)
{
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    snprintf(c->family, sizeof c->family, "%s", family);
    c->exp = cf_test_open_expected(dir);
    cf_test_load_config(&c->config, dir, "config.json");
}

void cf_test_case_close(cf_test_case *c)
{
    cf_config_free(&c->config);
    cf_st_close(c->exp);
}

size_t cf_test_each_case(const char *family, cf_test_case_fn run, void *ctx)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "expected.safetensors", &dirs);
    for (size_t i = 0; i < n; i++) {
        cf_test_case c = {0};
        cf_test_case_open(&c, family, dirs[i]);
        run(&c, ctx);
        cf_test_case_close(&c);
    }
    cf_test_free_list(dirs, n);
    return n;
}

const int64_t *cf_test_case_ids(const cf_test_case *c, const char *name, int64_t *n)
{
    const cf_tensor *t = cf_st_find(c->exp, name);
    if (!t)
        return NULL;
    cr_assert_eq(t->dtype, CF_DTYPE_I64, "%s: %s is not int64", c->dir, name);
    *n = cf_tensor_numel(t);
    return t->data;
}

float *cf_test_case_floats(const cf_test_case *c, const char *name, int64_t *n)
{
    const cf_tensor *t = cf_st_find(c->exp, name);
    if (!t)
        return NULL;
    float *out = malloc(cf_tensor_numel(t) * sizeof *out);
    cf_error err = {0};
    cr_assert_eq(cf_tensor_to_f32(t, out, &err), CF_OK, "%s", err.message);
    *n = cf_tensor_numel(t);
    return out;
}

bool cf_test_check_values(cf_test_tensor_check *c, const char *name, const float *got, size_t n)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", c->prefix ? c->prefix : "", name);
    size_t stored = 0;
    float *want = cf_test_expected_f32(c->expected, full, &stored);
    if (!want)
        return false;
    cr_expect_eq(stored, n, "%s: %s has %zu values, the model gave %zu", c->case_dir, full, stored, n);
    bool ok = false;
    if (stored == n) {
        double worst = 0;
        size_t at = 0;
        ok = cf_test_allclose(got, want, n, c->atol, c->rtol, &worst, &at);
        cr_expect(ok, "%s: %s differs: |diff| %.3g at %zu (got %.7g, want %.7g)", c->case_dir, full, worst, at,
                  got[at], want[at]);
    }
    c->failed += !ok;
    c->compared++;
    free(want);
    return true;
}

void cf_test_check_tensor(void *check, const char *name, const float *got, int64_t rows, int64_t cols)
{
    cf_test_check_values(check, name, got, (size_t)(rows * cols));
}
