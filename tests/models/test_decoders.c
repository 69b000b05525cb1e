/* Decoder-only models (GPT-2, Llama) against transformers 4.35.2, walking every case under
 * ${CFORMER_FIXTURES}/{gpt2,llama}/ that has expected.safetensors:
 *   hidden_states.i, logits           full forward of input_ids
 *   incremental.logits_last3          the last 3 positions fed one at a time through the KV cache
 *   long.input_ids/long.logits_last   a long sequence (rope scaling)
 *   greedy.sequences                  greedy continuation of input_ids
 *   batch.*                           left-padded batch, greedy, positions from the mask
 *   llama2c_greedy_ids                greedy from <s>, and the same through the llama2.c .bin
 *                                     (when the case folder has one) whose logits must equal
 *                                     the folder's. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "io/safetensors.h"
#include "models/causal_lm.h"
#include "models/llama.h"
#include "common/fixture_case.h"
#include "common/testutil.h"

/* Full forward and hidden states: float32 reference, same op order up to BLAS summation order. */
#define FWD_ATOL 1e-4
#define FWD_RTOL 1e-4
/* Cached decoding against the full forward: transformers' own note says ~1e-5. */
#define INC_ATOL 1e-4
#define INC_RTOL 1e-4

typedef struct fixture {
    const cf_test_case *c;
    cf_causal_lm *model;
} fixture;

static void expect_close(const char *what, const fixture *f, const float *got, const float *want, int64_t n,
                         double atol, double rtol)
{
    double worst;
    size_t at;
    cr_expect(cf_test_allclose(got, want, (size_t)n, atol, rtol, &worst, &at),
              "%s: %s differs by %g at %zu (got %g, want %g; atol %g rtol %g)", f->c->dir, what, worst, at,
              got[at], want[at], atol, rtol);
}

typedef struct hidden_ctx {
    const fixture *f;
    int seen;
} hidden_ctx;

static void on_hidden(void *p, int index, const float *hidden, int64_t rows, int64_t dim)
{
    hidden_ctx *c = p;
    char name[64];
    snprintf(name, sizeof name, "hidden_states.%d", index);
    int64_t n;
    float *want = cf_test_case_floats(c->f->c, name, &n);
    if (!want)
        return;
    cr_assert_eq(n, rows * dim, "%s: %s has %lld values, model gives %lld", c->f->c->dir, name, (long long)n,
                 (long long)(rows * dim));
    expect_close(name, c->f, hidden, want, n, FWD_ATOL, FWD_RTOL);
    free(want);
    c->seen++;
}

static void check_forward(fixture *f)
{
    int64_t n, nl;
    const int64_t *ids = cf_test_case_ids(f->c, "input_ids", &n);
    float *want = cf_test_case_floats(f->c, "logits", &nl);
    if (!ids || !want)
        return;
    int64_t V = f->model->arch.vocab;
    cr_assert_eq(nl, n * V);
    float *logits = malloc((size_t)(n * V) * sizeof *logits);
    hidden_ctx hc = {f, 0};
    cf_error err = {0};
    cr_assert_eq(cf_causal_lm_forward(f->model, ids, n, logits, on_hidden, &hc, &err), CF_OK, "%s", err.message);
    cr_expect_eq(hc.seen, f->model->arch.n_layers + 1, "%s: compared %d hidden states", f->c->dir, hc.seen);
    expect_close("logits", f, logits, want, nl, FWD_ATOL, FWD_RTOL);
    free(logits);
    free(want);
}

/* Prefill ids[0..n-k) through the generation interface, then feed the last k one at a time. */
static void check_incremental(fixture *f)
{
    int64_t n, nl;
    const int64_t *ids = cf_test_case_ids(f->c, "input_ids", &n);
    float *want = cf_test_case_floats(f->c, "incremental.logits_last3", &nl);
    if (!ids || !want)
        return;
    int64_t V = f->model->arch.vocab, k = nl / V;
    cr_assert(k >= 1 && k < n);
    cf_lm lm = cf_causal_lm_as_lm(f->model);
    cf_lm_limits lim = {.n_inputs = 1, .copies = 1, .max_len = n};
    void *sess;
    cf_error err = {0};
    cr_assert_eq(lm.ops->open(lm.model, &lim, &sess, &err), CF_OK, "%s", err.message);
    float *logits = malloc((size_t)V * sizeof *logits);
    cf_lm_inputs in = {.n_inputs = 1, .copies = 1, .len = n - k, .ids = ids};
    cr_assert_eq(lm.ops->start(sess, &in, logits, &err), CF_OK, "%s", err.message);
    for (int64_t i = 0; i < k; i++) {
        cr_assert_eq(lm.ops->step(sess, &ids[n - k + i], NULL, logits, &err), CF_OK, "%s", err.message);
        expect_close("incremental logits", f, logits, want + i * V, V, INC_ATOL, INC_RTOL);
    }
    free(logits);
    free(want);
    lm.ops->close(sess);
}

static void check_long(fixture *f)
{
    int64_t n, nl;
    const int64_t *ids = cf_test_case_ids(f->c, "long.input_ids", &n);
    float *want = cf_test_case_floats(f->c, "long.logits_last", &nl);
    if (!ids || !want)
        return;
    int64_t V = f->model->arch.vocab;
    float *logits = malloc((size_t)(n * V) * sizeof *logits);
    cf_error err = {0};
    cr_assert_eq(cf_causal_lm_forward(f->model, ids, n, logits, NULL, NULL, &err), CF_OK, "%s", err.message);
    expect_close("long.logits_last", f, logits + (n - 1) * V, want, V, FWD_ATOL, FWD_RTOL);
    free(logits);
    free(want);
}

static int64_t argmax(const float *row, int64_t V)
{
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (row[i] > row[best])
            best = i;
    return best;
}

/* Greedy decoding of a left-padded batch straight on the model interface (no processors):
 * out[b*total + t] receives the padded prompt then the new tokens; finished rows get `pad`. */
static void greedy_batch(const cf_causal_lm *m, int64_t batch, int64_t len, const int64_t *ids, const int64_t *mask,
                         int64_t total, int64_t eos, int64_t *out)
{
    cf_lm lm = cf_causal_lm_as_lm(m);
    int64_t V = m->arch.vocab;
    cf_lm_limits lim = {.n_inputs = batch, .copies = 1, .max_len = total};
    void *sess;
    cf_error err = {0};
    cr_assert_eq(lm.ops->open(lm.model, &lim, &sess, &err), CF_OK, "%s", err.message);
    float *logits = malloc((size_t)(batch * V) * sizeof *logits);
    int64_t *tok = malloc((size_t)batch * sizeof *tok);
    bool *done = calloc((size_t)batch, sizeof *done);
    cf_lm_inputs in = {.n_inputs = batch, .copies = 1, .len = len, .ids = ids, .mask = mask};
    cr_assert_eq(lm.ops->start(sess, &in, logits, &err), CF_OK, "%s", err.message);
    for (int64_t b = 0; b < batch; b++)
        memcpy(out + b * total, ids + b * len, (size_t)len * sizeof *ids);
    for (int64_t t = len; t < total; t++) {
        for (int64_t b = 0; b < batch; b++) {
            tok[b] = done[b] ? eos : argmax(logits + b * V, V);
            done[b] |= tok[b] == eos;
            out[b * total + t] = tok[b];
        }
        if (t + 1 < total)
            cr_assert_eq(lm.ops->step(sess, tok, NULL, logits, &err), CF_OK, "%s", err.message);
    }
    free(logits);
    free(tok);
    free(done);
    lm.ops->close(sess);
}

static void expect_ids(const fixture *f, const char *what, const int64_t *got, const int64_t *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        cr_expect_eq(got[i], want[i], "%s: %s differs at %lld: got %lld, want %lld", f->c->dir, what, (long long)i,
                     (long long)got[i], (long long)want[i]);
}

static void check_greedy(fixture *f, const char *seq_name, const char *prompt_name)
{
    int64_t n, total;
    const int64_t *want = cf_test_case_ids(f->c, seq_name, &total);
    const int64_t *prompt = prompt_name ? cf_test_case_ids(f->c, prompt_name, &n) : NULL;
    if (!want)
        return;
    if (!prompt) { /* from the first token alone (llama2.c's <s>) */
        prompt = want;
        n = 1;
    }
    int64_t *got = malloc((size_t)total * sizeof *got);
    greedy_batch(f->model, 1, n, prompt, NULL, total, cf_config_int(&f->c->config, "eos_token_id", -1), got);
    expect_ids(f, seq_name, got, want, total);
    free(got);
}

static void check_batch(fixture *f)
{
    int64_t n, nm, ns;
    const int64_t *ids = cf_test_case_ids(f->c, "batch.input_ids", &n);
    const int64_t *mask = cf_test_case_ids(f->c, "batch.attention_mask", &nm);
    const int64_t *want = cf_test_case_ids(f->c, "batch.sequences", &ns);
    if (!ids || !mask || !want)
        return;
    const cf_tensor *t = cf_st_find(f->c->exp, "batch.input_ids");
    int64_t batch = t->shape[0], len = t->shape[1], total = ns / batch;
    int64_t *got = malloc((size_t)ns * sizeof *got);
    greedy_batch(f->model, batch, len, ids, mask, total, cf_config_int(&f->c->config, "eos_token_id", -1), got);
    expect_ids(f, "batch.sequences", got, want, ns);
    free(got);
}

/* Sibling *.bin llama2.c checkpoint: same logits as the folder on input_ids. */
static void check_llama2c(fixture *f)
{
    DIR *d = opendir(f->c->dir);
    struct dirent *e;
    char bin[4400] = "";
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", f->c->dir, e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".bin") && cf_llama2c_sniff(path))
            snprintf(bin, sizeof bin, "%s", path);
    }
    if (d)
        closedir(d);
    int64_t n;
    const int64_t *ids = cf_test_case_ids(f->c, "input_ids", &n);
    if (!bin[0] || !ids)
        return;
    cf_causal_lm *m = calloc(1, sizeof *m);
    cf_error err = {0};
    cr_assert_eq(cf_llama_load_llama2c(bin, m, &err), CF_OK, "%s", err.message);
    int64_t V = m->arch.vocab;
    cr_assert_eq(V, f->model->arch.vocab);
    float *a = malloc((size_t)(n * V) * sizeof *a), *b = malloc((size_t)(n * V) * sizeof *b);
    cr_assert_eq(cf_causal_lm_forward(m, ids, n, a, NULL, NULL, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_causal_lm_forward(f->model, ids, n, b, NULL, NULL, &err), CF_OK, "%s", err.message);
    expect_close("llama2.c .bin logits vs folder", f, a, b, n * V, 1e-5, 1e-5);
    free(a);
    free(b);
    cf_causal_lm_free(m);
}

static void check_case(cf_test_case *c, void *ctx)
{
    fixture f = {.c = c};
    cf_error err = {0};
    cr_assert_eq(cf_causal_lm_load(c->dir, &c->config, &f.model, &err), CF_OK, "%s: %s", c->dir, err.message);
    check_forward(&f);
    check_incremental(&f);
    check_long(&f);
    check_greedy(&f, "greedy.sequences", "input_ids");
    check_greedy(&f, "llama2c_greedy_ids", NULL);
    check_batch(&f);
    check_llama2c(&f);
    cf_causal_lm_free(f.model);
}

static size_t run_family(const char *family) { return cf_test_each_case(family, check_case, NULL); }

Test(decoders, gpt2) { cr_assert(run_family("gpt2") > 0, "no gpt2 cases under %s", cf_test_fixtures()); }
Test(decoders, llama) { cr_assert(run_family("llama") > 0, "no llama cases under %s", cf_test_fixtures()); }

Test(decoders, bad_config_is_an_error)
{
    cf_config c = {0};
    const char *json = "{\"model_type\": \"llama\", \"hidden_size\": 10, \"num_attention_heads\": 3, "
                       "\"num_hidden_layers\": 1, \"intermediate_size\": 4, \"vocab_size\": 8}";
    cf_error err = {0};
    cr_assert_eq(cf_config_parse(&c, json, strlen(json), "config.json", &err), CF_OK);
    cf_causal_lm *m = NULL;
    cr_expect_neq(cf_causal_lm_load("/nonexistent", &c, &m, &err), CF_OK);
    cr_expect(strstr(err.message, "num_attention_heads") != NULL, "%s", err.message);
    cf_config_free(&c);
    const char *json2 = "{\"model_type\": \"llama\", \"hidden_size\": 8, \"num_attention_heads\": 2, "
                        "\"num_hidden_layers\": 1, \"intermediate_size\": 4, \"vocab_size\": 8, "
                        "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2.0}}";
    cr_assert_eq(cf_config_parse(&c, json2, strlen(json2), "config.json", &err), CF_OK);
    cr_expect_eq(cf_causal_lm_load("/nonexistent", &c, &m, &err), CF_ERR_UNSUPPORTED);
    cr_expect(strstr(err.message, "rope_scaling") != NULL, "%s", err.message);
    cf_config_free(&c);
}
