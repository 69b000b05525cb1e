#include "testutil.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/safetensors.h"

const char *cf_test_fixtures(void)
{
    const char *v = getenv("CFORMER_FIXTURES");
    return v && *v ? v : "../shared/fixtures";
}

const char *cf_test_data(void)
{
    const char *v = getenv("CFORMER_TESTDATA");
    return v && *v ? v : "tests/data";
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

bool cf_test_each_entry(const char *dir, cf_test_visit_fn visit, void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        visit(path, e->d_name, ctx);
    }
    closedir(d);
    return true;
}

typedef struct case_list {
    const char *marker_file;
    char **dirs;
    size_t n, cap;
} case_list;

static void add_case(const char *path, const char *name, void *ctx)
{
    case_list *l = ctx;
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/%s", path, l->marker_file);
    if (!cf_dir_exists(path) || !cf_file_exists(marker))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->dirs = realloc(l->dirs, l->cap * sizeof *l->dirs);
    }
    l->dirs[l->n++] = cf_strdup(path);
}

size_t cf_test_cases(const char *family, const char *marker_file, char ***dirs)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/%s", cf_test_fixtures(), family);
    case_list l = {.marker_file = marker_file};
    cf_test_each_entry(root, add_case, &l);
    if (l.n)
        qsort(l.dirs, l.n, sizeof *l.dirs, cmp_str);
    *dirs = l.dirs;
    return l.n;
}

void cf_test_free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

size_t cf_test_run_cases(const char *family, const char *marker_file, void (*run)(const char *dir))
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, marker_file, &dirs);
    for (size_t i = 0; i < n; i++)
        run(dirs[i]);
    cf_test_free_list(dirs, n);
    return n;
}

cJSON *cf_test_read_json(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    cf_error err = {0};
    if (cf_read_file(path, (size_t)1 << 30, &text, &len, &err) != CF_OK) {
        cr_log_error("%s", err.message);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j)
        cr_log_error("%s: not valid JSON", path);
    free(text);
    return j;
}

bool cf_test_allclose(const float *a, const float *b, size_t n, double atol, double rtol, double *worst,
                      size_t *worst_at)
{
    bool ok = true;
    double w = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - (double)b[i]);
        if (isnan(a[i]) != isnan(b[i]) || isinf(a[i]) != isinf(b[i]))
            diff = INFINITY;
        else if (isinf(a[i]) && a[i] == b[i])
            diff = 0;
        if (diff > w || isnan(diff)) {
            w = diff;
            at = i;
        }
        if (!(diff <= atol + rtol * fabs((double)b[i])))
            ok = false;
    }
    if (worst)
        *worst = w;
    if (worst_at)
        *worst_at = at;
    return ok;
}

float *cf_test_expected_f32(const cf_safetensors *st, const char *name, size_t *n)
{
    const cf_tensor *t = cf_st_find(st, name);
    if (!t)
        return NULL;
    *n = (size_t)cf_tensor_numel(t);
    float *v = malloc(*n * sizeof(float) + 1);
    cf_error err = {0};
    cr_assert_eq(cf_tensor_to_f32(t, v, &err), CF_OK, "%s", err.message);
    return v;
}

int64_t *cf_test_expected_ids(const cf_safetensors *st, const char *name, size_t *n)
{
    const cf_tensor *t = cf_st_find(st, name);
    if (!t)
        return NULL;
    cr_assert(t->dtype == CF_DTYPE_I64 || t->dtype == CF_DTYPE_I32, "%s is not an integer tensor", name);
    *n = (size_t)cf_tensor_numel(t);
    int64_t *ids = malloc(*n * sizeof *ids + 1);
    for (size_t i = 0; i < *n; i++)
        ids[i] = t->dtype == CF_DTYPE_I64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    return ids;
}
