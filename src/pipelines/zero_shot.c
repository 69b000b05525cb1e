/* zero-shot-classification, as transformers 4.35.2 ZeroShotClassificationPipeline: each
 * (sequence, hypothesis_template.format(label)) pair is one NLI forward; single-label scores
 * are a softmax of the entailment logits across labels, multi-label scores a per-label
 * softmax over [contradiction, entailment]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "pipelines/text_common.h"

static const char *const k_params[] = {"candidate_labels", "hypothesis_template", "multi_label", "multi_class", NULL};

typedef struct zs_params {
    cf_text_model *tm;
    char **labels;
    size_t n_labels;
    const char *template_;
    bool multi_label;
} zs_params;

static void free_labels(zs_params *zp)
{
    for (size_t i = 0; i < zp->n_labels; i++)
        free(zp->labels[i]);
    free(zp->labels);
    zp->labels = NULL;
    zp->n_labels = 0;
}

static cf_status push_label(zs_params *zp, const char *s, size_t len, cf_error *err)
{
    char **grown = realloc(zp->labels, (zp->n_labels + 1) * sizeof *grown);
    if (!grown)
        return cf_fail(err, CF_ERR_NOMEM, "zero-shot-classification: out of memory");
    zp->labels = grown;
    zp->labels[zp->n_labels] = strndup(s, len);
    if (!zp->labels[zp->n_labels])
        return cf_fail(err, CF_ERR_NOMEM, "zero-shot-classification: out of memory");
    zp->n_labels++;
    return CF_OK;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* "a, b,c" -> ["a", "b", "c"] (Python: label.strip() for label in labels.split(",") if label.strip()). */
static cf_status split_labels(zs_params *zp, const char *s, cf_error *err)
{
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && is_space(*a))
            a++;
        while (b > a && is_space(b[-1]))
            b--;
        if (b > a)
            CF_TRY(push_label(zp, a, (size_t)(b - a), err));
        s = *end ? end + 1 : end;
    }
    return CF_OK;
}

static cf_status parse_labels(zs_params *zp, const cJSON *v, cf_error *err)
{
    if (!v || cJSON_IsNull(v))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "zero-shot-classification: parameter 'candidate_labels' is required (a list of strings or "
                       "\"a,b,c\")");
    if (cJSON_IsString(v))
        return split_labels(zp, v->valuestring, err);
    if (!cJSON_IsArray(v))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "parameter 'candidate_labels' must be a list of strings or a comma-separated string");
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsString(item))
            return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'candidate_labels' must hold only strings");
        CF_TRY(push_label(zp, item->valuestring, strlen(item->valuestring), err));
    }
    return CF_OK;
}

/* Python str.format(label) for the templates people write: "{}" / "{0}" take the label,
 * "{{" and "}}" are literal braces; anything else is refused. Returns NULL on a bad template. */
static char *format_template(const char *t, const char *label)
{
    cf_buf b = {0};
    for (const char *c = t; *c; c++) {
        if (c[0] == '{' && c[1] == '{') {
            cf_buf_puts(&b, "{");
            c++;
        } else if (c[0] == '}' && c[1] == '}') {
            cf_buf_puts(&b, "}");
            c++;
        } else if (c[0] == '{' && c[1] == '}') {
            cf_buf_puts(&b, label);
            c++;
        } else if (c[0] == '{' && c[1] == '0' && c[2] == '}') {
            cf_buf_puts(&b, label);
            c += 2;
        } else if (*c == '{' || *c == '}') {
            cf_buf_free(&b);
            return NULL;
        } else {
            cf_buf_append(&b, c, 1);
        }
    }
    if (!b.data)
        cf_buf_puts(&b, "");
    return cf_buf_steal(&b);
}

static cf_status parse_params(const cJSON *params, zs_params *zp, cf_error *err)
{
    *zp = (zs_params){.template_ = "This example is {}."};
    CF_TRY(cf_params_check(params, "zero-shot-classification", k_params, err));
    CF_TRY(cf_param_str(params, "hypothesis_template", zp->template_, &zp->template_, err));
    CF_TRY(cf_param_bool(params, "multi_class", false, &zp->multi_label, err)); /* deprecated spelling */
    CF_TRY(cf_param_bool(params, "multi_label", zp->multi_label, &zp->multi_label, err));
    CF_TRY(parse_labels(zp, cf_param(params, "candidate_labels"), err));
    if (zp->n_labels == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "You must include at least one label and at least one sequence.");
    char *first = format_template(zp->template_, zp->labels[0]);
    bool same = first && !strcmp(first, zp->template_);
    free(first);
    if (!first || same)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "The provided hypothesis_template \"%s\" was not able to be formatted with the target labels. "
                       "Make sure the passed template includes formatting syntax such as {} where the label should go.",
                       zp->template_);
    return CF_OK;
}

/* transformers' entailment_id: the first label2id entry whose name starts with "entail". */
static int64_t entailment_id(const cf_config *cfg, int64_t n_labels)
{
    const cJSON *l2i = cf_config_get(cfg, "label2id"), *item;
    cJSON_ArrayForEach(item, l2i)
    {
        char lower[8] = {0};
        for (size_t i = 0; i < 6 && item->string[i]; i++)
            lower[i] = (char)((item->string[i] >= 'A' && item->string[i] <= 'Z') ? item->string[i] + 32 : item->string[i]);
        int64_t id;
        if (!strncmp(lower, "entail", 6) && cf_json_is_int(item, &id) && id >= 0 && id < n_labels)
            return id;
    }
    return n_labels - 1; /* Python's -1 indexes the last column */
}

/* Logits of the pair (sequence, hypothesis) into row[n_classes]. */
static cf_status nli_logits(cf_text_model *tm, const char *sequence, const char *hypothesis, float *row, cf_error *err)
{
    cf_encode_options opt = cf_encode_options_default();
    opt.padding = CF_PAD_LONGEST;
    if (tm->model_max_length != INT64_MAX) {
        opt.truncation = CF_TRUNCATE_ONLY_FIRST;
        opt.max_length = tm->model_max_length;
    }
    cf_encoding enc = {0};
    cf_status s = cf_tokenizer_encode_pair(tm->tok, sequence, hypothesis, &opt, &enc, err);
    if (s != CF_OK && opt.truncation != CF_TRUNCATE_NONE) { /* too short to truncate: run it whole */
        cf_encoding_free(&enc);
        opt.truncation = CF_TRUNCATE_NONE;
        opt.max_length = 0;
        s = cf_tokenizer_encode_pair(tm->tok, sequence, hypothesis, &opt, &enc, err);
    }
    cf_encoder_output o;
    if (s == CF_OK)
        s = cf_text_model_forward(tm, &enc, NULL, 0, &o, err);
    if (s == CF_OK)
        memcpy(row, o.logits, (size_t)o.logits_cols * sizeof(float));
    cf_encoding_free(&enc);
    return s;
}

/* reversed(np.argsort(scores)): ascending stable order, read backwards. */
static void order_desc(const float *scores, size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = idx[i], j = i;
        while (j > 0 && scores[idx[j - 1]] > scores[v]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
    for (size_t i = 0; i < n / 2; i++) {
        size_t t = idx[i];
        idx[i] = idx[n - 1 - i];
        idx[n - 1 - i] = t;
    }
}

static void score_labels(const zs_params *zp, const float *logits, int64_t n_classes, int64_t entail, float *scores)
{
    size_t n = zp->n_labels;
    if (zp->multi_label || n == 1) {
        int64_t contra = entail == 0 ? n_classes - 1 : 0;
        for (size_t i = 0; i < n; i++) {
            float c = expf(logits[i * n_classes + contra]), e = expf(logits[i * n_classes + entail]);
            scores[i] = e / (c + e);
        }
        return;
    }
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        scores[i] = expf(logits[i * n_classes + entail]);
        sum += scores[i];
    }
    for (size_t i = 0; i < n; i++)
        scores[i] /= sum;
}

static cf_status classify(void *ctx, const char *sequence, cJSON **out, cf_error *err)
{
    const zs_params *zp = ctx;
    cf_text_model *tm = zp->tm;
    int64_t n_classes = cf_encoder_num_labels(tm->enc);
    size_t n = zp->n_labels;
    float *logits = malloc(n * (size_t)n_classes * sizeof(float));
    float *scores = malloc(n * sizeof(float));
    size_t *idx = malloc(n * sizeof(size_t));
    cf_status s = logits && scores && idx ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "zero-shot-classification: out of memory");
    for (size_t i = 0; i < n && s == CF_OK; i++) {
        char *hypothesis = format_template(zp->template_, zp->labels[i]);
        s = hypothesis ? nli_logits(tm, sequence, hypothesis, logits + i * (size_t)n_classes, err)
                       : cf_fail(err, CF_ERR_NOMEM, "zero-shot-classification: out of memory");
        free(hypothesis);
    }
    if (s == CF_OK) {
        score_labels(zp, logits, n_classes, entailment_id(tm->config, n_classes), scores);
        order_desc(scores, idx, n);
        cJSON *o = cJSON_CreateObject(), *labels = cJSON_CreateArray(), *vals = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "sequence", sequence);
        for (size_t i = 0; i < n; i++) {
            cJSON_AddItemToArray(labels, cJSON_CreateString(zp->labels[idx[i]]));
            cJSON_AddItemToArray(vals, cf_json_score(scores[idx[i]]));
        }
        cJSON_AddItemToObject(o, "labels", labels);
        cJSON_AddItemToObject(o, "scores", vals);
        *out = o;
    }
    free(logits);
    free(scores);
    free(idx);
    return s;
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    zs_params zp;
    cf_status s = parse_params(params, &zp, err);
    zp.tm = p->state;
    if (s == CF_OK)
        s = cf_map_text_inputs(inputs, "zero-shot-classification", classify, &zp, out, err);
    free_labels(&zp);
    return s;
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    cf_text_model *tm = NULL;
    CF_TRY(cf_text_model_open(p, CF_HEAD_SEQUENCE_CLASSIFICATION, &tm, err));
    p->state = tm;
    return CF_OK;
}

static void close_task(cf_pipeline *p) { cf_text_model_free(p->state); }

const cf_task cf_task_zero_shot = {
    .name = "zero-shot-classification",
    .default_model = "facebook/bart-large-mnli",
    .open = open_task,
    .run = run,
    .close = close_task,
};
