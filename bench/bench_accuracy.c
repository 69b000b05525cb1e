/* bf16 and int8 against f32 on every fixture pipeline call: each recorded call of every case's
 * expected.json under ${CFORMER_FIXTURES} (or argv[1]) is replayed with {"dtype": "f32"},
 * {"dtype": "bf16"} and {"dtype": "int8"}, and the outputs compared with the f32 one:
 *   top-1: the top candidate of every ranked list (the first object of a list whose objects carry a
 *          "label", "answer", "token_str" or "generated_text" key) has the same strings and integers,
 *          and everything outside ranked lists too (entity lists, generated text, token ids);
 *   all:   every string and integer equal (whole rankings in the same order);
 *   max |d score|: over "score"/"scores" numbers; max |d value|: over every other float (feature
 *          vectors, boxes, depth) where the shapes agree.
 * Then, for the decoder-only LMs and text encoders, the models' own logits on a fixed token sequence
 * (teacher forced): max |d logit| and the share of positions whose argmax agrees with f32.
 * Then greedy generation for every text-generation call of a decoder-only fixture (see
 * compare_greedy): how often bf16/int8 pick another token than f32 on the same history, and the
 * f32 top-2 margin at those steps against the logit noise of the format.
 * Every layer is converted (lowp_min_dim = 1): the fixture models are tiny, and the default
 * keeps layers under 32 wide in f32 (--default-layers measures that). Exits 1 when a call loses
 * its top-1 answer. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cformer.h"
#include "io/config.h"
#include "core/threadpool.h"
#include "models/causal_lm.h"
#include "models/encoder.h"
#include "nn/linear.h"
#include "pipelines/pipeline.h"

enum { F32, BF16, INT8, N_TYPES };
static const char *const k_type_names[N_TYPES] = {"f32", "bf16", "int8"};

typedef struct logit_stats {
    double max_abs[N_TYPES];
    long agree[N_TYPES], positions;
} logit_stats;

typedef struct greedy_stats {
    long steps, flips[N_TYPES];
    double worst_margin[N_TYPES]; /* largest f32 margin at a flipped step */
    double noise[N_TYPES];        /* max |d logit| over all steps */
} greedy_stats;

typedef struct family_stats {
    char name[64];
    logit_stats logits;
    greedy_stats greedy;
    int calls, failed[N_TYPES], top1[N_TYPES], all[N_TYPES];
    double d_score[N_TYPES], d_value[N_TYPES];
    double lost_gap[N_TYPES]; /* largest f32 top-2 score gap of a call that lost its top-1 */
} family_stats;

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

/* The Inference API body of a recorded call: files are relative to the case folder; question
 * answering's kwargs question/context become the inputs; zero-shot's 2nd argument the labels. */
static char *payload_of(const char *dir, const cJSON *call)
{
    const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
    const cJSON *args = cJSON_GetObjectItem(call, "args"), *kwargs = cJSON_GetObjectItem(call, "kwargs");
    cJSON *body = cJSON_CreateObject(), *params = kwargs ? cJSON_Duplicate(kwargs, true) : cJSON_CreateObject();
    const cJSON *first = cJSON_GetArrayItem(args, 0);
    char path[4200];
    if (!strcmp(task, "question-answering") && !first) {
        cJSON *in = cJSON_AddObjectToObject(body, "inputs");
        cJSON_AddItemToObject(in, "question", cJSON_DetachItemFromObject(params, "question"));
        cJSON_AddItemToObject(in, "context", cJSON_DetachItemFromObject(params, "context"));
    } else if (cJSON_IsString(first) && snprintf(path, sizeof path, "%s/%s", dir, first->valuestring) > 0 &&
               is_file(path)) {
        cJSON_AddStringToObject(body, "inputs", path);
    } else {
        cJSON_AddItemToObject(body, "inputs", cJSON_Duplicate(first, true));
        if (cJSON_GetArraySize(args) > 1)
            cJSON_AddItemToObject(params, "candidate_labels", cJSON_Duplicate(cJSON_GetArrayItem(args, 1), true));
    }
    cJSON_AddItemToObject(body, "parameters", params);
    char *s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return s;
}

static bool is_ranked_list(const cJSON *a)
{
    const cJSON *e = cJSON_GetArrayItem(a, 0);
    if (!cJSON_IsArray(a) || !cJSON_IsObject(e))
        return false;
    static const char *const keys[] = {"label", "answer", "token_str", "generated_text", "summary_text",
                                       "translation_text"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (cJSON_GetObjectItem(e, keys[i]))
            return true;
    return false;
}

static bool is_score_key(const char *k) { return k && (!strcmp(k, "score") || !strcmp(k, "scores")); }

/* Pixel coordinates are measurements, not answers: compared as values. */
static bool is_coordinate_key(const char *k)
{
    return k && (!strcmp(k, "xmin") || !strcmp(k, "ymin") || !strcmp(k, "xmax") || !strcmp(k, "ymax"));
}

/* Encoded images of numbers already compared as values (depth-estimation's "depth" PNG). */
static bool is_rendering_key(const char *k) { return k && !strcmp(k, "depth"); }

typedef struct compare {
    bool top1, all;
    double d_score, d_value;
} compare;

/* Walk got against want (the f32 output). `top` = inside the part that decides top-1. */
static void walk(const cJSON *got, const cJSON *want, const char *key, bool top, compare *c)
{
    if (!got || !want || (got->type & 0xff) != (want->type & 0xff)) {
        c->all = false;
        if (top)
            c->top1 = false;
        return;
    }
    if (cJSON_IsString(want)) {
        bool eq = !strcmp(got->valuestring, want->valuestring);
        c->all &= eq;
        if (top && !is_rendering_key(key))
            c->top1 &= eq;
    } else if (cJSON_IsNumber(want)) {
        double d = fabs(got->valuedouble - want->valuedouble);
        bool integer = want->valuedouble == floor(want->valuedouble) && fabs(want->valuedouble) < 1e9 &&
                       !is_score_key(key) && !is_coordinate_key(key) && got->valuedouble == floor(got->valuedouble);
        if (integer && d != 0) { /* token ids, offsets: exact */
            c->all = false;
            if (top)
                c->top1 = false;
        } else if (is_score_key(key)) {
            c->d_score = fmax(c->d_score, d);
        } else if (!integer) {
            c->d_value = fmax(c->d_value, d);
        }
    } else if (cJSON_IsArray(want) || cJSON_IsObject(want)) {
        bool ranked = is_ranked_list(want);
        if (cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) {
            c->all = false; /* a ranked list may gain or lose a candidate near a threshold */
            if (top && (!ranked || cJSON_GetArraySize(got) == 0))
                c->top1 = false;
        }
        int i = 0;
        const cJSON *w = want->child;
        for (const cJSON *g = got->child; g && w; g = g->next, w = w->next, i++) {
            const char *k = cJSON_IsObject(want) ? w->string : key;
            if (cJSON_IsObject(want) && strcmp(g->string, w->string)) {
                c->all = false;
                if (top)
                    c->top1 = false;
                continue;
            }
            walk(g, w, k, top && (!ranked || i == 0), c);
        }
    }
}

/* The smallest gap between the first two scores of any ranked list in an output (INFINITY when
 * no list has two scored candidates): how near a tie the f32 answer was. */
static double top2_score_gap(const cJSON *j)
{
    double gap = INFINITY;
    if (is_ranked_list(j) && cJSON_GetArraySize(j) >= 2) {
        const cJSON *s0 = cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "score");
        const cJSON *s1 = cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "score");
        if (cJSON_IsNumber(s0) && cJSON_IsNumber(s1))
            gap = fabs(s0->valuedouble - s1->valuedouble);
    }
    const cJSON *scores = cJSON_IsObject(j) ? cJSON_GetObjectItem(j, "scores") : NULL; /* zero-shot */
    if (cJSON_IsArray(scores) && cJSON_GetArraySize(scores) >= 2 && cJSON_IsNumber(cJSON_GetArrayItem(scores, 0)) &&
        cJSON_IsNumber(cJSON_GetArrayItem(scores, 1)))
        gap = fmin(gap, fabs(cJSON_GetArrayItem(scores, 0)->valuedouble - cJSON_GetArrayItem(scores, 1)->valuedouble));
    const cJSON *c;
    cJSON_ArrayForEach(c, j) gap = fmin(gap, top2_score_gap(c));
    return gap;
}

static char *run(const char *task, const char *dir, int type, const char *payload, char *why, size_t why_size)
{
    char options[64];
    snprintf(options, sizeof options, "{\"dtype\": \"%s\"}", k_type_names[type]);
    char *out = NULL;
    cf_error err = {0};
    if (cf_pipeline_run_once(task, dir, options, payload, &out, &err) != CF_OK) {
        snprintf(why, why_size, "%s", err.message);
        return NULL;
    }
    return out;
}

static void replay_case(const char *dir, family_stats *fs, int *lost)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *expected = read_json(path);
    const cJSON *entry;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
    {
        const cJSON *call = cJSON_GetObjectItem(entry, "call");
        const cJSON *task = cJSON_GetObjectItem(call, "task");
        if (!cJSON_IsString(task))
            continue;
        char *payload = payload_of(dir, call), why[1024] = "";
        char *ref = run(task->valuestring, dir, F32, payload, why, sizeof why);
        fs->calls++;
        if (!ref) {
            fs->failed[F32]++;
            fprintf(stderr, "  %s: %s f32: %s\n", dir, task->valuestring, why);
            free(payload);
            continue;
        }
        cJSON *want = cJSON_Parse(ref);
        for (int t = BF16; t < N_TYPES; t++) {
            char *out = run(task->valuestring, dir, t, payload, why, sizeof why);
            if (!out) {
                fs->failed[t]++;
                (*lost)++;
                fprintf(stderr, "  %s: %s %s: %s\n", dir, task->valuestring, k_type_names[t], why);
                continue;
            }
            cJSON *got = cJSON_Parse(out);
            compare c = {.top1 = true, .all = true};
            walk(got, want, NULL, true, &c);
            fs->top1[t] += c.top1;
            fs->all[t] += c.all;
            fs->d_score[t] = fmax(fs->d_score[t], c.d_score);
            fs->d_value[t] = fmax(fs->d_value[t], c.d_value);
            if (!c.top1) {
                (*lost)++;
                double gap = top2_score_gap(want);
                if (isfinite(gap))
                    fs->lost_gap[t] = fmax(fs->lost_gap[t], gap);
                fprintf(stderr, "  top-1 lost: %s %s %s\n    f32:  %.300s\n    %-4s: %.300s\n", dir,
                        task->valuestring, k_type_names[t], ref, k_type_names[t], out);
            }
            cJSON_Delete(got);
            free(out);
        }
        cJSON_Delete(want);
        free(ref);
        free(payload);
    }
    cJSON_Delete(expected);
}


/* ---- logits of the LMs and encoders themselves ---- */

static cf_status load_type(int type, const char *dir, const cf_config *cfg, bool causal, cf_encoder_head head,
                           void **out, cf_error *err)
{
    cf_load_options saved = cf_linear_load_options();
    cf_linear_set_load_options((cf_load_options){.dtype = (cf_wtype)type, .lowp_min_dim = saved.lowp_min_dim});
    cf_status s = causal ? cf_causal_lm_load(dir, cfg, (cf_causal_lm **)out, err)
                         : cf_encoder_load(dir, cfg, head, (cf_encoder **)out, err);
    cf_linear_set_load_options(saved);
    return s;
}

static cf_encoder_head head_of(const cf_config *cfg, const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *j = read_json(path);
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "architectures"), 0);
    const char *a = cJSON_IsString(arch) ? arch->valuestring : "";
    cf_encoder_head h = strstr(a, "MaskedLM")                 ? CF_HEAD_MASKED_LM
                        : strstr(a, "SequenceClassification") ? CF_HEAD_SEQUENCE_CLASSIFICATION
                        : strstr(a, "TokenClassification")    ? CF_HEAD_TOKEN_CLASSIFICATION
                        : strstr(a, "QuestionAnswering")      ? CF_HEAD_QUESTION_ANSWERING
                                                              : CF_HEAD_BASE;
    (void)cfg;
    cJSON_Delete(j);
    return h;
}

/* Logits (or the last hidden state of a base model) of one model on a fixed sequence, [rows, cols]. */
static float *model_logits(void *m, bool causal, int64_t n, int64_t *rows, int64_t *cols, cf_error *err)
{
    int64_t vocab = causal ? ((cf_causal_lm *)m)->arch.vocab : cf_encoder_vocab_size(m);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        ids[i] = (i * 7919 + 13) % vocab;
    float *out = NULL;
    if (causal) {
        *rows = n, *cols = vocab;
        out = malloc(sizeof(float) * (size_t)(n * vocab));
        if (cf_causal_lm_forward(m, ids, n, out, NULL, NULL, err) != CF_OK)
            free(out), out = NULL;
    } else {
        cf_encoder_input in = {.batch = 1, .seq = n, .input_ids = ids};
        cf_encoder_output o;
        if (cf_encoder_reserve(m, 1, n, n, err) == CF_OK && cf_encoder_forward(m, &in, &o, err) == CF_OK) {
            *rows = o.logits ? o.logits_rows : n;
            *cols = o.logits ? o.logits_cols : cf_encoder_hidden_size(m);
            out = malloc(sizeof(float) * (size_t)(*rows * *cols));
            memcpy(out, o.logits ? o.logits : o.last_hidden_state, sizeof(float) * (size_t)(*rows * *cols));
        }
    }
    free(ids);
    return out;
}

static int64_t argmax(const float *x, int64_t n)
{
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        b = x[i] > x[b] ? i : b;
    return b;
}

static void *load_and_run(int t, const char *dir, const cf_config *cfg, bool causal, cf_encoder_head head,
                          int64_t *n, int64_t *rows, int64_t *cols)
{
    void *m = NULL;
    cf_error err = {0};
    if (load_type(t, dir, cfg, causal, head, &m, &err) != CF_OK) {
        fprintf(stderr, "  %s %s: %s\n", dir, k_type_names[t], err.message);
        return NULL;
    }
    if (*n == 0) {
        int64_t max = causal ? ((cf_causal_lm *)m)->arch.max_positions : cf_encoder_max_tokens(m);
        *n = max > 0 && max < 32 ? max : 32;
    }
    float *lg = model_logits(m, causal, *n, rows, cols, &err);
    if (!lg)
        fprintf(stderr, "  %s %s: %s\n", dir, k_type_names[t], err.message);
    if (causal)
        cf_causal_lm_free(m);
    else
        cf_encoder_free(m);
    return lg;
}

static void compare_logits(const char *dir, logit_stats *ls)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cf_config cfg = {0};
    cf_error err = {0};
    if (cf_config_load(&cfg, path, &err) != CF_OK)
        return;
    bool causal = cf_causal_lm_supports(&cfg);
    if (causal || cf_encoder_supports(&cfg)) {
        cf_encoder_head head = head_of(&cfg, dir);
        int64_t n = 0, rows = 0, cols = 0;
        float *ref = load_and_run(F32, dir, &cfg, causal, head, &n, &rows, &cols);
        for (int t = BF16; ref && t < N_TYPES; t++) {
            int64_t r2 = 0, c2 = 0;
            float *lg = load_and_run(t, dir, &cfg, causal, head, &n, &r2, &c2);
            if (!lg || r2 != rows || c2 != cols) {
                free(lg);
                continue;
            }
            for (int64_t i = 0; i < rows * cols; i++)
                ls->max_abs[t] = fmax(ls->max_abs[t], fabs((double)lg[i] - ref[i]));
            for (int64_t r = 0; r < rows; r++)
                ls->agree[t] += argmax(lg + r * cols, cols) == argmax(ref + r * cols, cols);
            free(lg);
        }
        if (ref)
            ls->positions += rows;
        free(ref);
    }
    cf_config_free(&cfg);
}

/* ---- greedy generation: where a lower-precision model first picks another token ----
 * For each text-generation call of a decoder-only fixture: greedy decoding in f32 from the call's
 * prompt for its max_new_tokens (raw logits, no processors), with the bf16 and int8 models fed the
 * same f32 history. At each step where their argmax differs from f32's, the f32 margin between its
 * top two logits is set against the max |d logit| of that step: a flip is a near tie when the
 * margin is below the rounding noise of the format. */


static int64_t top2_margin(const float *x, int64_t n, double *margin)
{
    int64_t b = argmax(x, n), b2 = b == 0 ? 1 : 0;
    for (int64_t i = 0; i < n; i++)
        if (i != b && x[i] > x[b2])
            b2 = i;
    *margin = n > 1 ? (double)x[b] - x[b2] : INFINITY;
    return b;
}

static void greedy_call(cf_causal_lm *const models[N_TYPES], const cf_tokenizer *tok, const char *prompt,
                        int64_t new_tokens, greedy_stats *gs)
{
    cf_encode_options eo = cf_encode_options_default();
    eo.add_special_tokens = 0; /* as the text-generation pipeline encodes prompts */
    cf_encoding enc;
    cf_error err = {0};
    if (cf_tokenizer_encode(tok, prompt, &eo, &enc, &err) != CF_OK || enc.n == 0)
        return;
    int64_t V = models[F32]->arch.vocab, len = (int64_t)enc.n;
    int64_t max_pos = models[F32]->arch.max_positions;
    if (max_pos > 0 && len + new_tokens > max_pos)
        new_tokens = max_pos - len;
    cf_lm_limits lim = {.n_inputs = 1, .copies = 1, .max_len = len + new_tokens + 1};
    cf_lm_inputs in = {.n_inputs = 1, .copies = 1, .len = len, .ids = enc.ids};
    void *session[N_TYPES] = {0};
    float *logits[N_TYPES] = {0};
    cf_lm lm[N_TYPES];
    bool ok = true;
    for (int t = 0; t < N_TYPES && ok; t++) {
        lm[t] = cf_causal_lm_as_lm(models[t]);
        logits[t] = malloc(sizeof(float) * (size_t)V);
        ok = logits[t] && lm[t].ops->open(lm[t].model, &lim, &session[t], &err) == CF_OK &&
             lm[t].ops->start(session[t], &in, logits[t], &err) == CF_OK;
    }
    for (int64_t step = 0; ok && step < new_tokens; step++) {
        double margin;
        int64_t next = top2_margin(logits[F32], V, &margin);
        gs->steps++;
        for (int t = BF16; t < N_TYPES; t++) {
            for (int64_t v = 0; v < V; v++)
                gs->noise[t] = fmax(gs->noise[t], fabs((double)logits[t][v] - logits[F32][v]));
            if (argmax(logits[t], V) != next) {
                gs->flips[t]++;
                gs->worst_margin[t] = fmax(gs->worst_margin[t], margin);
            }
        }
        for (int t = 0; t < N_TYPES && ok; t++)
            ok = lm[t].ops->step(session[t], &next, NULL, logits[t], &err) == CF_OK;
    }
    if (!ok)
        fprintf(stderr, "  greedy: %s\n", err.message);
    for (int t = 0; t < N_TYPES; t++) {
        if (session[t])
            lm[t].ops->close(session[t]);
        free(logits[t]);
    }
    cf_encoding_free(&enc);
}

static void compare_greedy(const char *dir, greedy_stats *gs)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cf_config cfg = {0};
    cf_error err = {0};
    if (cf_config_load(&cfg, path, &err) != CF_OK)
        return;
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *expected = read_json(path);
    cf_causal_lm *models[N_TYPES] = {0};
    cf_tokenizer *tok = NULL;
    bool ok = cf_causal_lm_supports(&cfg) && expected && cf_tokenizer_load(dir, &tok, &err) == CF_OK;
    for (int t = 0; t < N_TYPES && ok; t++)
        ok = load_type(t, dir, &cfg, true, CF_HEAD_BASE, (void **)&models[t], &err) == CF_OK;
    const cJSON *call, *calls = ok ? cJSON_GetObjectItem(expected, "calls") : NULL;
    cJSON_ArrayForEach(call, calls)
    {
        const cJSON *c = cJSON_GetObjectItem(call, "call");
        const cJSON *task = cJSON_GetObjectItem(c, "task"), *prompt = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "args"), 0);
        const cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "kwargs"), "max_new_tokens");
        if (cJSON_IsString(task) && !strcmp(task->valuestring, "text-generation") && cJSON_IsString(prompt))
            greedy_call(models, tok, prompt->valuestring, cJSON_IsNumber(n) ? (int64_t)n->valuedouble : 20, gs);
    }
    for (int t = 0; t < N_TYPES; t++)
        if (models[t])
            cf_causal_lm_free(models[t]);
    cf_tokenizer_free(tok);
    cJSON_Delete(expected);
    cf_config_free(&cfg);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted subfolder names of dir. */
static size_t list_dirs(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0, cap = 16;
    char **v = malloc(cap * sizeof *v);
    struct dirent *e;
    char path[4200];
    while (d && v && (e = readdir(d))) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || !is_dir(path))
            continue;
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = strdup(e->d_name);
    }
    if (d)
        closedir(d);
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    const char *root = getenv("CFORMER_FIXTURES");
    int64_t min_dim = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--default-layers"))
            min_dim = 0; /* as cformer loads them: layers under CF_LINEAR_LOWP_MIN wide stay f32 */
        else if (argv[i][0] != '-')
            root = argv[i];
        else
            root = NULL, i = argc;
    }
    if (!root) {
        fprintf(stderr, "usage: bench_accuracy [--default-layers] [FIXTURES_DIR] (or set CFORMER_FIXTURES)\n");
        return 2;
    }
    if (!getenv("CFORMER_THREADS"))
        cf_threads_set(2);
    cf_linear_set_load_options((cf_load_options){.lowp_min_dim = min_dim}); /* pipelines set the dtype per call */
    printf("%s\n\n", min_dim ? "every layer converted (lowp_min_dim 1)" : "default conversion (layers >= 32 wide)");
    char **families;
    size_t nf = list_dirs(root, &families);
    family_stats *stats = calloc(nf, sizeof *stats);
    int lost = 0, used = 0;
    for (size_t f = 0; f < nf; f++) {
        char fdir[4200], path[4400];
        snprintf(fdir, sizeof fdir, "%s/%s", root, families[f]);
        char **cases;
        size_t nc = list_dirs(fdir, &cases);
        family_stats *fs = &stats[used];
        snprintf(fs->name, sizeof fs->name, "%s", families[f]);
        for (size_t c = 0; c < nc; c++) {
            snprintf(path, sizeof path, "%s/%s/expected.json", fdir, cases[c]);
            if (is_file(path)) {
                snprintf(path, sizeof path, "%s/%s", fdir, cases[c]);
                replay_case(path, fs, &lost);
                compare_logits(path, &fs->logits);
                compare_greedy(path, &fs->greedy);
            }
            free(cases[c]);
        }
        free(cases);
        free(families[f]);
        if (fs->calls)
            used++;
        else
            memset(fs, 0, sizeof *fs);
    }
    free(families);
    printf("| family | calls | bf16 top-1 | int8 top-1 | bf16 all | int8 all | bf16 max|d score| | "
           "int8 max|d score| | bf16 max|d value| | int8 max|d value| | f32 top-2 gap at a lost call (bf16, int8) |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < used; i++) {
        family_stats *s = &stats[i];
        int ok = s->calls - s->failed[F32];
        printf("| %s | %d | %d/%d | %d/%d | %d/%d | %d/%d | %.2g | %.2g | %.2g | %.2g | %.2g, %.2g |\n", s->name,
               s->calls, s->top1[BF16], ok, s->top1[INT8], ok, s->all[BF16], ok, s->all[INT8], ok, s->d_score[BF16],
               s->d_score[INT8], s->d_value[BF16], s->d_value[INT8], s->lost_gap[BF16], s->lost_gap[INT8]);
    }
    printf("\n| family | logit rows | bf16 max|d logit| | int8 max|d logit| | bf16 argmax agree | int8 argmax agree |\n"
           "|---|---|---|---|---|---|\n");
    for (int i = 0; i < used; i++) {
        logit_stats *l = &stats[i].logits;
        if (l->positions)
            printf("| %s | %ld | %.3g | %.3g | %.1f%% | %.1f%% |\n", stats[i].name, l->positions, l->max_abs[BF16],
                   l->max_abs[INT8], 100.0 * (double)l->agree[BF16] / (double)l->positions,
                   100.0 * (double)l->agree[INT8] / (double)l->positions);
    }
    printf("\n| family | greedy steps | bf16 flips | int8 flips | bf16 largest f32 margin at a flip | "
           "int8 largest f32 margin at a flip | bf16 max|d logit| | int8 max|d logit| |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < used; i++) {
        greedy_stats *g = &stats[i].greedy;
        if (g->steps)
            printf("| %s | %ld | %ld | %ld | %.3g | %.3g | %.3g | %.3g |\n", stats[i].name, g->steps, g->flips[BF16],
                   g->flips[INT8], g->worst_margin[BF16], g->worst_margin[INT8], g->noise[BF16], g->noise[INT8]);
    }
    free(stats);
    printf("\n%s\n", lost ? "SOME CALLS LOST THEIR TOP-1 ANSWER (listed on stderr)" : "every call keeps its top-1 answer");
    return lost ? 1 : 0;
}
