/* Helpers shared by the test suites: fixture discovery and tolerant comparisons. */
#ifndef CF_TESTUTIL_H
#define CF_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cJSON cJSON;

/* ${CFORMER_FIXTURES} (set by CTest), else ../shared/fixtures. */
const char *cf_test_fixtures(void);
/* tests/data in the source tree. */
const char *cf_test_data(void);

/* Case folders: every direct subfolder of fixtures/<family>/ that holds `marker_file`
 * (e.g. "expected.json"), sorted. Returns the count; *dirs is malloc'ed, free with
 * cf_test_free_list. */
size_t cf_test_cases(const char *family, const char *marker_file, char ***dirs);
void cf_test_free_list(char **list, size_t n);
/* Runs run(dir) on every case folder cf_test_cases lists; returns how many there were. */
size_t cf_test_run_cases(const char *family, const char *marker_file, void (*run)(const char *dir));

/* Calls visit(path, name, ctx) for every entry of `dir` but the hidden ones (names starting with
 * '.'), in directory order; path is dir/name. Returns false when `dir` cannot be opened. */
typedef void (*cf_test_visit_fn)(const char *path, const char *name, void *ctx);
bool cf_test_each_entry(const char *dir, cf_test_visit_fn visit, void *ctx);

/* Parse a JSON file (NULL on failure, with a Criterion failure message). */
cJSON *cf_test_read_json(const char *path);

/* Largest |a-b| - (atol + rtol*|b|) violation; returns true when every element is within
 * atol + rtol * |b|. *worst gets the largest |a-b| and *worst_at its index. */
bool cf_test_allclose(const float *a, const float *b, size_t n, double atol, double rtol, double *worst,
                      size_t *worst_at);

/* A stored reference tensor as a fresh malloc'ed f32 array / int64 array (int32 widened);
 * NULL when the file has no tensor of that name. */
typedef struct cf_safetensors cf_safetensors;
float *cf_test_expected_f32(const cf_safetensors *st, const char *name, size_t *n);
int64_t *cf_test_expected_ids(const cf_safetensors *st, const char *name, size_t *n);

#endif
