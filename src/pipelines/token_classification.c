/* token-classification / ner, as transformers 4.35.2 TokenClassificationPipeline (fast
 * tokenizer path): per-token softmax, "pre-entities" with offsets and a subword flag, then
 * aggregation none / simple / first / average / max, B-/I- grouping and ignore_labels. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "pipelines/text_common.h"

typedef enum { AGG_NONE, AGG_SIMPLE, AGG_FIRST, AGG_AVERAGE, AGG_MAX } aggregation;

static const char *const k_params[] = {"aggregation_strategy", "ignore_labels", "grouped_entities",
                                       "ignore_subwords", "stride", NULL};

typedef struct tk_params {
    cf_text_model *tm;
    aggregation agg;
    const char **ignore;
    size_t n_ignore;
    bool owns_ignore;
    int64_t stride; /* -1: no windows */
} tk_params;

/* A token kept for aggregation (special tokens are dropped). */
typedef struct pre_entity {
    char *word;          /* the token string, or the text under it for [UNK] */
    const float *scores; /* [n_labels] */
    int64_t start, end, index;
    bool is_subword;
} pre_entity;

/* An entity before JSON: a label id or a group name, a score, a word, a span. */
typedef struct entity {
    int64_t label;  /* id2label index (token / word level) */
    char *group;    /* entity_group (grouped level) */
    float score;
    char *word;
    int64_t start, end, index;
} entity;

typedef struct entity_list {
    entity *v;
    size_t n, cap;
} entity_list;

static bool push_entity(entity_list *l, entity e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        entity *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return true;
}

static void free_entities(entity_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].word);
        free(l->v[i].group);
    }
    free(l->v);
    *l = (entity_list){0};
}

/* ------------------------------------------------------------------ parameters ---- */

static cf_status parse_ignore(const cJSON *v, tk_params *tp, cf_error *err)
{
    static const char *const dflt[] = {"O"};
    if (!v || cJSON_IsNull(v)) {
        tp->ignore = (const char **)dflt;
        tp->n_ignore = 1;
        return CF_OK;
    }
    if (!cJSON_IsArray(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'ignore_labels' must be a list of strings");
    tp->ignore = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(char *));
    if (!tp->ignore)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    tp->owns_ignore = true;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsString(item))
            return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'ignore_labels' must hold only strings");
        tp->ignore[tp->n_ignore++] = item->valuestring;
    }
    return CF_OK;
}

static cf_status parse_params(const cJSON *params, tk_params *tp, cf_error *err)
{
    *tp = (tk_params){.agg = AGG_NONE, .stride = -1};
    CF_TRY(cf_params_check(params, "token-classification", k_params, err));
    const cJSON *g = cf_param(params, "grouped_entities"), *is = cf_param(params, "ignore_subwords");
    if ((g && !cJSON_IsNull(g)) || (is && !cJSON_IsNull(is))) { /* the deprecated spelling */
        bool grouped, ignore_sub;
        CF_TRY(cf_param_bool(params, "grouped_entities", false, &grouped, err));
        CF_TRY(cf_param_bool(params, "ignore_subwords", false, &ignore_sub, err));
        tp->agg = grouped && ignore_sub ? AGG_FIRST : grouped ? AGG_SIMPLE : AGG_NONE;
    }
    const char *agg = NULL;
    CF_TRY(cf_param_str(params, "aggregation_strategy", NULL, &agg, err));
    if (agg) {
        static const char *const names[] = {"none", "simple", "first", "average", "max"};
        size_t i = 0;
        while (i < 5 && strcasecmp(agg, names[i]))
            i++;
        if (i == 5)
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "parameter 'aggregation_strategy' must be one of none, simple, first, average, max (got "
                           "\"%s\")", agg);
        tp->agg = (aggregation)i;
    }
    CF_TRY(cf_param_int(params, "stride", -1, 0, &tp->stride, err));
    if (tp->stride >= 0 && tp->agg == AGG_NONE)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "`stride` was provided to process all the text but `aggregation_strategy=\"none\"` was "
                       "selected, which may lead to incorrect results. Please select another one.");
    return parse_ignore(cf_param(params, "ignore_labels"), tp, err);
}

static void free_params(tk_params *tp)
{
    if (tp->owns_ignore)
        free(tp->ignore);
}

/* ------------------------------------------------------------------ pre-entities ---- */

static int64_t utf8_len(const char *s)
{
    int64_t n = 0;
    for (; *s; s++)
        n += (*s & 0xC0) != 0x80;
    return n;
}

/* Python: start > 0 and " " not in sentence[start - 1 : start + 1]. */
static bool follows_non_space(const char *sentence, int64_t start)
{
    if (start <= 0)
        return false;
    char *around = cf_utf8_slice(sentence, start - 1, start + 1);
    bool subword = around && !strchr(around, ' ');
    free(around);
    return subword;
}

static cf_status gather(const cf_text_model *tm, const char *sentence, const cf_encoding *enc, const float *scores,
                        int64_t n_labels, aggregation agg, pre_entity **out, size_t *n_out, cf_error *err)
{
    *out = calloc(enc->n ? enc->n : 1, sizeof **out);
    *n_out = 0;
    if (!*out)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    bool word_aware = cf_text_subword_prefix(tm)[0] != '\0';
    if (!word_aware && agg != AGG_NONE && agg != AGG_SIMPLE)
        cf_log_warn("Tokenizer does not support real words, using fallback heuristic");
    for (size_t i = 0; i < enc->n; i++) {
        if (enc->special_mask[i])
            continue;
        pre_entity *p = &(*out)[(*n_out)++];
        int64_t start = enc->offsets[i][0], end = enc->offsets[i][1];
        const char *token = cf_tokenizer_id_to_token(tm->tok, enc->ids[i]);
        char *word_ref = cf_utf8_slice(sentence, start, end);
        p->word = strdup(token ? token : "");
        if (!word_ref || !p->word) {
            free(word_ref);
            return cf_fail(err, CF_ERR_NOMEM, "out of memory");
        }
        p->is_subword = word_aware ? utf8_len(p->word) != utf8_len(word_ref) : follows_non_space(sentence, start);
        if (enc->ids[i] == tm->unk_id) {
            free(p->word);
            p->word = word_ref;
            word_ref = NULL;
            p->is_subword = false;
        }
        free(word_ref);
        p->scores = scores + i * n_labels;
        p->start = start;
        p->end = end;
        p->index = (int64_t)i;
    }
    return CF_OK;
}

/* ------------------------------------------------------------------ aggregation ---- */

/* One word from its sub-tokens [first, first+n) by the first / max / average rule. */
static cf_status aggregate_word(const cf_text_model *tm, const pre_entity *toks, size_t n, int64_t n_labels,
                                aggregation agg, entity *out, cf_error *err)
{
    const char **words = malloc(n * sizeof *words);
    if (!words)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        words[i] = toks[i].word;
    *out = (entity){.start = toks[0].start, .end = toks[n - 1].end, .index = -1};
    cf_status s = cf_text_tokens_to_string(tm, words, n, &out->word, err);
    free(words);
    CF_TRY(s);
    if (agg == AGG_FIRST) {
        out->label = cf_argmax_f32(toks[0].scores, n_labels);
        out->score = toks[0].scores[out->label];
    } else if (agg == AGG_MAX) {
        size_t best = 0;
        float best_max = toks[0].scores[cf_argmax_f32(toks[0].scores, n_labels)];
        for (size_t i = 1; i < n; i++) {
            float m = toks[i].scores[cf_argmax_f32(toks[i].scores, n_labels)];
            if (m > best_max) {
                best_max = m;
                best = i;
            }
        }
        out->label = cf_argmax_f32(toks[best].scores, n_labels);
        out->score = toks[best].scores[out->label];
    } else { /* average */
        float *mean = calloc((size_t)n_labels, sizeof(float));
        if (!mean)
            return cf_fail(err, CF_ERR_NOMEM, "out of memory");
        for (int64_t c = 0; c < n_labels; c++) {
            for (size_t i = 0; i < n; i++)
                mean[c] += toks[i].scores[c];
            mean[c] /= (float)n;
        }
        out->label = cf_argmax_f32(mean, n_labels);
        out->score = mean[out->label];
        free(mean);
    }
    return CF_OK;
}

static cf_status aggregate(const cf_text_model *tm, const pre_entity *pre, size_t n, int64_t n_labels,
                           aggregation agg, entity_list *out, cf_error *err)
{
    if (agg == AGG_NONE || agg == AGG_SIMPLE) {
        for (size_t i = 0; i < n; i++) {
            entity e = {.label = cf_argmax_f32(pre[i].scores, n_labels), .start = pre[i].start, .end = pre[i].end,
                        .index = pre[i].index, .word = strdup(pre[i].word)};
            e.score = pre[i].scores[e.label];
            if (!e.word || !push_entity(out, e)) {
                free(e.word);
                return cf_fail(err, CF_ERR_NOMEM, "out of memory");
            }
        }
        return CF_OK;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && pre[j].is_subword)
            j++;
        entity e;
        CF_TRY(aggregate_word(tm, pre + i, j - i, n_labels, agg, &e, err));
        if (!push_entity(out, e)) {
            free(e.word);
            return cf_fail(err, CF_ERR_NOMEM, "out of memory");
        }
        i = j;
    }
    return CF_OK;
}

/* get_tag: "B-PER" -> (B, PER); "I-PER" -> (I, PER); anything else -> (I, whole). */
static const char *tag_of(const char *label, char *bi)
{
    if ((label[0] == 'B' || label[0] == 'I') && label[1] == '-') {
        *bi = label[0];
        return label + 2;
    }
    *bi = 'I';
    return label;
}

static cf_status group_span(const cf_text_model *tm, const entity *ents, size_t n, entity_list *out, cf_error *err)
{
    char buf[64];
    const char *label = cf_text_label(tm, ents[0].label, buf, sizeof buf);
    const char *dash = strchr(label, '-');
    entity g = {.group = strdup(dash ? dash + 1 : label), .start = ents[0].start, .end = ents[n - 1].end, .index = -1};
    const char **words = malloc(n * sizeof *words);
    float sum = 0.0f;
    for (size_t i = 0; words && i < n; i++) {
        words[i] = ents[i].word;
        sum += ents[i].score;
    }
    g.score = sum / (float)n;
    cf_status s = words && g.group ? cf_text_tokens_to_string(tm, words, n, &g.word, err)
                                   : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    free(words);
    if (s == CF_OK && !push_entity(out, g))
        s = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    if (s != CF_OK) {
        free(g.group);
        free(g.word);
    }
    return s;
}

/* group_entities: consecutive entities of one tag join unless the next starts with B-. */
static cf_status group(const cf_text_model *tm, const entity_list *ents, entity_list *out, cf_error *err)
{
    size_t first = 0;
    for (size_t i = 1; i <= ents->n; i++) {
        bool close = i == ents->n;
        if (!close) {
            char buf_a[64], buf_b[64], bi, last_bi;
            const char *tag = tag_of(cf_text_label(tm, ents->v[i].label, buf_a, sizeof buf_a), &bi);
            const char *last = tag_of(cf_text_label(tm, ents->v[i - 1].label, buf_b, sizeof buf_b), &last_bi);
            close = strcmp(tag, last) != 0 || bi == 'B';
        }
        if (close && ents->n > 0) {
            CF_TRY(group_span(tm, ents->v + first, i - first, out, err));
            first = i;
        }
    }
    return CF_OK;
}

static bool ignored(const tk_params *tp, const char *label)
{
    for (size_t i = 0; i < tp->n_ignore; i++)
        if (!strcmp(tp->ignore[i], label))
            return true;
    return false;
}

/* Move the entities of `from` not in ignore_labels to `to`. */
static cf_status keep_entities(const cf_text_model *tm, const tk_params *tp, entity_list *from, entity_list *to,
                               cf_error *err)
{
    for (size_t i = 0; i < from->n; i++) {
        char buf[64];
        entity *e = &from->v[i];
        const char *name = e->group ? e->group : cf_text_label(tm, e->label, buf, sizeof buf);
        if (ignored(tp, name))
            continue;
        if (!push_entity(to, *e))
            return cf_fail(err, CF_ERR_NOMEM, "out of memory");
        e->word = e->group = NULL;
    }
    return CF_OK;
}

/* ------------------------------------------------------------------ windows ---- */

/* aggregate_overlapping_entities: of entities overlapping an earlier one keep the longer
 * (then the higher scoring). */
static void drop_overlaps(entity_list *l)
{
    if (l->n == 0)
        return;
    for (size_t i = 1; i < l->n; i++) { /* stable sort by start */
        entity v = l->v[i];
        size_t j = i;
        while (j > 0 && l->v[j - 1].start > v.start) {
            l->v[j] = l->v[j - 1];
            j--;
        }
        l->v[j] = v;
    }
    size_t kept = 0, prev = 0;
    for (size_t i = 0; i < l->n; i++) {
        entity *p = &l->v[prev], *e = &l->v[i];
        if (i == prev)
            continue;
        if (p->start <= e->start && e->start < p->end) {
            int64_t cur = e->end - e->start, prv = p->end - p->start;
            if (cur > prv || (cur == prv && e->score > p->score)) {
                free(p->word);
                free(p->group);
                prev = i;
            } else {
                free(e->word);
                free(e->group);
            }
        } else {
            l->v[kept++] = *p;
            prev = i;
        }
    }
    l->v[kept++] = l->v[prev];
    l->n = kept;
}

/* ------------------------------------------------------------------ one text ---- */

static cf_status window_entities(const cf_text_model *tm, const tk_params *tp, const char *sentence,
                                 const cf_encoding *enc, const float *logits, int64_t n_labels, entity_list *out,
                                 cf_error *err)
{
    float *scores = malloc(enc->n * (size_t)n_labels * sizeof(float));
    if (!scores)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < enc->n; i++)
        cf_softmax_f32(logits + i * n_labels, scores + i * n_labels, n_labels);
    pre_entity *pre = NULL;
    size_t n_pre = 0;
    entity_list tokens = {0}, groups = {0};
    cf_status s = gather(tm, sentence, enc, scores, n_labels, tp->agg, &pre, &n_pre, err);
    if (s == CF_OK)
        s = aggregate(tm, pre, n_pre, n_labels, tp->agg, &tokens, err);
    if (s == CF_OK && tp->agg != AGG_NONE)
        s = group(tm, &tokens, &groups, err);
    if (s == CF_OK)
        s = keep_entities(tm, tp, tp->agg == AGG_NONE ? &tokens : &groups, out, err);
    for (size_t i = 0; pre && i < n_pre; i++)
        free(pre[i].word);
    free(pre);
    free_entities(&tokens);
    free_entities(&groups);
    free(scores);
    return s;
}

static cJSON *entity_json(const cf_text_model *tm, const entity *e)
{
    char buf[64];
    cJSON *o = cJSON_CreateObject();
    if (e->group)
        cJSON_AddStringToObject(o, "entity_group", e->group);
    else
        cJSON_AddStringToObject(o, "entity", cf_text_label(tm, e->label, buf, sizeof buf));
    cJSON_AddItemToObject(o, "score", cf_json_score(e->score));
    if (!e->group)
        cJSON_AddNumberToObject(o, "index", (double)e->index);
    cJSON_AddStringToObject(o, "word", e->word);
    cJSON_AddNumberToObject(o, "start", (double)e->start);
    cJSON_AddNumberToObject(o, "end", (double)e->end);
    return o;
}

static cf_status recognise(void *ctx, const char *sentence, cJSON **out, cf_error *err)
{
    const tk_params *tp = ctx;
    cf_text_model *tm = tp->tm;
    cf_encode_options opt = cf_encode_options_default();
    if (tm->model_max_length != INT64_MAX) {
        opt.truncation = CF_TRUNCATE_LONGEST_FIRST;
        opt.max_length = tm->model_max_length;
    }
    if (tp->stride >= 0) {
        if (tp->stride >= tm->model_max_length)
            return cf_fail(err, CF_ERR_INVALID_ARG, "`stride` must be less than `tokenizer.model_max_length`");
        opt.stride = tp->stride;
        opt.return_overflowing = 1;
        opt.padding = CF_PAD_LONGEST;
    }
    cf_encoding enc = {0};
    CF_TRY(cf_tokenizer_encode(tm->tok, sentence, &opt, &enc, err));
    entity_list all = {0};
    int64_t n_labels = cf_encoder_num_labels(tm->enc);
    cf_status s = CF_OK;
    for (size_t w = 0; s == CF_OK && w <= enc.n_overflowing; w++) {
        const cf_encoding *win = w == 0 ? &enc : &enc.overflowing[w - 1];
        cf_encoder_output o;
        s = cf_text_model_forward(tm, win, NULL, 0, &o, err);
        if (s == CF_OK)
            s = window_entities(tm, tp, sentence, win, o.logits, n_labels, &all, err);
    }
    if (s == CF_OK && enc.n_overflowing > 0)
        drop_overlaps(&all);
    if (s == CF_OK) {
        *out = cJSON_CreateArray();
        for (size_t i = 0; i < all.n; i++)
            cJSON_AddItemToArray(*out, entity_json(tm, &all.v[i]));
    }
    free_entities(&all);
    cf_encoding_free(&enc);
    return s;
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    tk_params tp;
    cf_status s = parse_params(params, &tp, err);
    tp.tm = p->state;
    if (s == CF_OK)
        s = cf_map_text_inputs(inputs, "token-classification", recognise, &tp, out, err);
    free_params(&tp);
    return s;
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    cf_text_model *tm = NULL;
    CF_TRY(cf_text_model_open(p, CF_HEAD_TOKEN_CLASSIFICATION, &tm, err));
    p->state = tm;
    return CF_OK;
}

static void close_task(cf_pipeline *p) { cf_text_model_free(p->state); }

static const char *const k_aliases[] = {"ner", NULL};

const cf_task cf_task_token_classification = {
    .name = "token-classification",
    .aliases = k_aliases,
    .default_model = "dbmdz/bert-large-cased-finetuned-conll03-english",
    .open = open_task,
    .run = run,
    .close = close_task,
};
