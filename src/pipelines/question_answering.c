/* question-answering, as transformers 4.35.2 QuestionAnsweringPipeline (fast tokenizer path):
 * the (question, context) pair is cut into overlapping windows (truncation only_second,
 * stride doc_stride); in each window the start/end logits outside the context are masked, both
 * are softmaxed, and the best spans of the outer product start x end (end >= start, at most
 * max_answer_len tokens) are mapped back to character offsets through the words they touch. */
#include <stdlib.h>
#include <string.h>

#include "io/json_util.h"
#include "pipelines/text_common.h"

static const char *const k_params[] = {"top_k", "topk", "doc_stride", "max_answer_len", "max_seq_len",
                                       "max_question_len", "handle_impossible_answer", "align_to_words", "padding",
                                       NULL};

typedef struct qa_params {
    cf_text_model *tm;
    int64_t top_k, doc_stride, max_answer_len, max_seq_len, max_question_len;
    bool handle_impossible, align_to_words;
    cf_padding_strategy padding;
} qa_params;

typedef struct answer {
    float score;
    int64_t start, end; /* characters of the context */
} answer;

typedef struct answers {
    answer *v;
    size_t n, cap;
} answers;

static bool push_answer(answers *a, answer x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        answer *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return false;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return true;
}

static cf_status parse_params(const cf_text_model *tm, const cJSON *params, qa_params *qp, cf_error *err)
{
    CF_TRY(cf_params_check(params, "question-answering", k_params, err));
    *qp = (qa_params){.align_to_words = true};
    int64_t topk;
    CF_TRY(cf_param_int(params, "topk", 1, 1, &topk, err)); /* the deprecated spelling */
    CF_TRY(cf_param_int(params, "top_k", topk, 1, &qp->top_k, err));
    CF_TRY(cf_param_int(params, "max_answer_len", 15, 1, &qp->max_answer_len, err));
    int64_t dflt_len = tm->model_max_length < 384 ? tm->model_max_length : 384;
    CF_TRY(cf_param_int(params, "max_seq_len", dflt_len, 1, &qp->max_seq_len, err));
    int64_t dflt_stride = qp->max_seq_len / 2 < 128 ? qp->max_seq_len / 2 : 128;
    CF_TRY(cf_param_int(params, "doc_stride", dflt_stride, 0, &qp->doc_stride, err));
    CF_TRY(cf_param_int(params, "max_question_len", 64, 1, &qp->max_question_len, err)); /* slow tokenizers only */
    CF_TRY(cf_param_bool(params, "handle_impossible_answer", false, &qp->handle_impossible, err));
    CF_TRY(cf_param_bool(params, "align_to_words", true, &qp->align_to_words, err));
    if (qp->doc_stride > qp->max_seq_len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "`doc_stride` (%lld) is larger than `max_seq_len` (%lld)",
                       (long long)qp->doc_stride, (long long)qp->max_seq_len);
    const cJSON *pad = cf_param(params, "padding");
    if (pad && !cJSON_IsNull(pad)) {
        cJSON *only = cJSON_CreateObject();
        cJSON_AddItemToObject(only, "padding", cJSON_Duplicate(pad, true));
        cf_encode_options opt = cf_encode_options_default();
        cf_status s = cf_text_tokenizer_kwargs(tm, only, &opt, err);
        cJSON_Delete(only);
        CF_TRY(s);
        qp->padding = opt.padding;
    }
    return CF_OK;
}

/* ------------------------------------------------------------------ span scoring ---- */

/* softmax(where(allowed, logits, -10000)) as the pipeline computes it, in float32. */
static void masked_softmax(const float *logits, int64_t stride, const bool *allowed, int64_t n, float *out)
{
    float *tmp = out;
    for (int64_t i = 0; i < n; i++)
        tmp[i] = allowed[i] ? logits[i * stride] : -10000.0f;
    cf_softmax_f32(tmp, out, n);
}

typedef struct span {
    float score;
    int64_t s, e;
} span;

/* decode_spans: the top_k of start[s] * end[e] over end >= start, end - start < max_answer_len
 * (largest first, equal scores in row-major order), keeping spans whose ends are allowed. */
static size_t best_spans(const float *start, const float *end, const bool *allowed, int64_t n, int64_t top_k,
                         int64_t max_answer_len, span *out)
{
    size_t have = 0;
    for (int64_t s = 0; s < n; s++)
        for (int64_t e = s; e < n && e - s < max_answer_len; e++) {
            float score = start[s] * end[e];
            if ((int64_t)have == top_k && !(score > out[have - 1].score))
                continue;
            size_t j = (int64_t)have < top_k ? have++ : have - 1;
            while (j > 0 && out[j - 1].score < score) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = (span){score, s, e};
        }
    /* np.isin against undesired_tokens.nonzero(): its row indices (all 0) count too */
    bool any = false;
    for (int64_t i = 0; i < n && !any; i++)
        any = allowed[i];
    size_t kept = 0;
    for (size_t i = 0; i < have; i++) {
        bool ok_s = allowed[out[i].s] || (any && out[i].s == 0), ok_e = allowed[out[i].e] || (any && out[i].e == 0);
        if (ok_s && ok_e)
            out[kept++] = out[i];
    }
    return kept;
}

/* word_to_chars(word, sequence): first and last token of that word in that sequence. */
static bool word_chars(const cf_encoding *enc, int64_t word, int64_t seq, int64_t *start, int64_t *end)
{
    int64_t first = -1, last = -1;
    for (size_t t = 0; t < enc->n; t++) {
        if (enc->sequence_ids[t] != seq)
            continue;
        if (enc->word_ids[t] > word)
            break;
        if (enc->word_ids[t] == word) {
            if (first < 0)
                first = (int64_t)t;
            last = (int64_t)t;
        }
    }
    if (first < 0)
        return false;
    *start = enc->offsets[first][0];
    *end = enc->offsets[last][1];
    return true;
}

/* get_indices: characters of the words under tokens s and e, else the tokens' own offsets. */
static void char_span(const cf_encoding *enc, int64_t s, int64_t e, int64_t seq, bool align, int64_t *start,
                      int64_t *end)
{
    int64_t a, b, unused;
    if (align && enc->word_ids[s] >= 0 && enc->word_ids[e] >= 0 && word_chars(enc, enc->word_ids[s], seq, &a, &unused) &&
        word_chars(enc, enc->word_ids[e], seq, &unused, &b)) {
        *start = a;
        *end = b;
        return;
    }
    *start = enc->offsets[s][0];
    *end = enc->offsets[e][1];
}

/* Score one window; append its answers; lower *min_null by its no-answer score. */
static cf_status score_window(cf_text_model *tm, const qa_params *qp, const cf_encoding *enc, bool question_first,
                              answers *out, float *min_null, cf_error *err)
{
    int64_t n = (int64_t)enc->n;
    cf_encoder_output o;
    CF_TRY(cf_text_model_forward(tm, enc, NULL, 0, &o, err));
    bool *allowed = malloc((size_t)n * sizeof(bool));
    float *start = malloc((size_t)n * sizeof(float)), *end = malloc((size_t)n * sizeof(float));
    span *spans = malloc((size_t)qp->top_k * sizeof(span));
    cf_status s = allowed && start && end && spans ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; s == CF_OK && i < n; i++) {
        bool in_context = question_first ? enc->sequence_ids[i] == 1 : true;
        bool cls = tm->cls_id >= 0 && enc->ids[i] == tm->cls_id; /* kept: some models answer "impossible" there */
        allowed[i] = (in_context || cls) && (!enc->attention_mask || enc->attention_mask[i] != 0);
    }
    if (s == CF_OK) {
        masked_softmax(o.logits, 2, allowed, n, start);
        masked_softmax(o.logits + 1, 2, allowed, n, end);
        if (qp->handle_impossible && start[0] * end[0] < *min_null)
            *min_null = start[0] * end[0];
        start[0] = end[0] = 0.0f;
        size_t k = best_spans(start, end, allowed, n, qp->top_k, qp->max_answer_len, spans);
        int64_t pad_offset = 0;
        for (int64_t i = 0; tm->pad_left && i < n; i++)
            pad_offset += enc->ids[i] == tm->pad_id;
        for (size_t i = 0; i < k && s == CF_OK; i++) {
            answer a = {.score = spans[i].score};
            char_span(enc, spans[i].s - pad_offset, spans[i].e - pad_offset, question_first ? 1 : 0,
                      qp->align_to_words, &a.start, &a.end);
            if (!push_answer(out, a))
                s = cf_fail(err, CF_ERR_NOMEM, "out of memory");
        }
    }
    free(allowed);
    free(start);
    free(end);
    free(spans);
    return s;
}

/* ------------------------------------------------------------------ one example ---- */

static cJSON *answer_json(const char *context, const answer *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "score", cf_json_score(a->score));
    cJSON_AddNumberToObject(o, "start", (double)a->start);
    cJSON_AddNumberToObject(o, "end", (double)a->end);
    char *text = cf_utf8_slice(context, a->start, a->end);
    cJSON_AddStringToObject(o, "answer", text ? text : "");
    free(text);
    return o;
}

/* Stable sort, highest score first (Python's sorted(..., reverse=True)). */
static void sort_answers(answers *a)
{
    for (size_t i = 1; i < a->n; i++) {
        answer v = a->v[i];
        size_t j = i;
        while (j > 0 && a->v[j - 1].score < v.score) {
            a->v[j] = a->v[j - 1];
            j--;
        }
        a->v[j] = v;
    }
}

static cf_status answer_one(cf_text_model *tm, const qa_params *qp, const char *question, const char *context,
                            cJSON **out, cf_error *err)
{
    if (!*question)
        return cf_fail(err, CF_ERR_INVALID_ARG, "question-answering: `question` cannot be empty");
    if (!*context)
        return cf_fail(err, CF_ERR_INVALID_ARG, "question-answering: `context` cannot be empty");
    bool question_first = !tm->pad_left;
    cf_encode_options opt = cf_encode_options_default();
    opt.truncation = question_first ? CF_TRUNCATE_ONLY_SECOND : CF_TRUNCATE_ONLY_FIRST;
    opt.max_length = qp->max_seq_len;
    opt.stride = qp->doc_stride;
    opt.return_overflowing = 1;
    opt.padding = qp->padding;
    cf_encoding enc = {0};
    CF_TRY(question_first ? cf_tokenizer_encode_pair(tm->tok, question, context, &opt, &enc, err)
                          : cf_tokenizer_encode_pair(tm->tok, context, question, &opt, &enc, err));
    answers all = {0};
    float min_null = 1000000.0f;
    cf_status s = CF_OK;
    for (size_t w = 0; s == CF_OK && w <= enc.n_overflowing; w++)
        s = score_window(tm, qp, w == 0 ? &enc : &enc.overflowing[w - 1], question_first, &all, &min_null, err);
    if (s == CF_OK && qp->handle_impossible && !push_answer(&all, (answer){.score = min_null}))
        s = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    if (s == CF_OK) {
        sort_answers(&all);
        size_t k = all.n < (size_t)qp->top_k ? all.n : (size_t)qp->top_k;
        if (k == 1) {
            *out = answer_json(context, &all.v[0]);
        } else {
            *out = cJSON_CreateArray();
            for (size_t i = 0; i < k; i++)
                cJSON_AddItemToArray(*out, answer_json(context, &all.v[i]));
        }
    }
    free(all.v);
    cf_encoding_free(&enc);
    return s;
}

/* Only "question" and "context" are input keys. */
static cf_status check_input_keys(const cJSON *v, cf_error *err)
{
    if (!cJSON_IsObject(v))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "question-answering: inputs must be {\"question\": ..., \"context\": ...} or a list of them");
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (strcmp(item->string, "question") && strcmp(item->string, "context"))
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "question-answering: unknown input key '%s' (expected \"question\" and \"context\")",
                           item->string);
    }
    if (!cJSON_GetObjectItemCaseSensitive(v, "question") || !cJSON_GetObjectItemCaseSensitive(v, "context"))
        return cf_fail(err, CF_ERR_INVALID_ARG, "question-answering: inputs need both \"question\" and \"context\"");
    return CF_OK;
}

static cf_status example_fields(const cJSON *v, const char **question, const char **context, cf_error *err)
{
    CF_TRY(check_input_keys(v, err));
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(v, "question"), *c = cJSON_GetObjectItemCaseSensitive(v, "context");
    CF_TRY(cf_text_input_string(q, "question-answering: inputs.question", question, err));
    return cf_text_input_string(c, "question-answering: inputs.context", context, err);
}

static cf_status answer_example(void *ctx, const cJSON *example, cJSON **out, cf_error *err)
{
    const qa_params *qp = ctx;
    const char *question, *context;
    CF_TRY(example_fields(example, &question, &context, err));
    return answer_one(qp->tm, qp, question, context, out, err);
}

/* QuestionAnsweringArgumentHandler for question=[...]: a list of questions is paired item by item
 * with a list of contexts of the same length, or each with one context string. */
static cf_status pair_lists(const cJSON *q, const cJSON *c, cJSON **pairs, cf_error *err)
{
    int nq = cJSON_GetArraySize(q);
    if (cJSON_IsArray(c) && cJSON_GetArraySize(c) != nq)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "question-answering: inputs.question has %d items but inputs.context has %d; "
                       "questions and contexts must have the same lengths",
                       nq, cJSON_GetArraySize(c));
    if (!cJSON_IsArray(c) && !cJSON_IsString(c))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "question-answering: inputs.context is %s; with a list of questions it must be a string "
                       "or a list of the same length",
                       cf_json_type_name(c));
    if (!(*pairs = cJSON_CreateArray()))
        return cf_fail(err, CF_ERR_NOMEM, "question-answering: out of memory");
    const cJSON *ci = cJSON_IsArray(c) ? c->child : c;
    for (const cJSON *qi = q->child; qi; qi = qi->next) {
        cJSON *pair = cJSON_CreateObject();
        if (!pair || !cJSON_AddItemReferenceToObject(pair, "question", (cJSON *)qi) ||
            !cJSON_AddItemReferenceToObject(pair, "context", (cJSON *)ci) || !cJSON_AddItemToArray(*pairs, pair)) {
            cJSON_Delete(pair);
            cJSON_Delete(*pairs);
            *pairs = NULL;
            return cf_fail(err, CF_ERR_NOMEM, "question-answering: out of memory");
        }
        if (cJSON_IsArray(c))
            ci = ci->next;
    }
    return CF_OK;
}

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    qa_params qp;
    CF_TRY(parse_params(p->state, params, &qp, err));
    qp.tm = p->state;
    *out = NULL;
    cJSON *owned = NULL;
    const cJSON *examples = inputs;
    if (cJSON_IsObject(inputs)) {
        CF_TRY(check_input_keys(inputs, err));
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(inputs, "question");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(inputs, "context");
        if (cJSON_IsArray(q))
            CF_TRY(pair_lists(q, c, &owned, err));
        else if (cJSON_IsString(q) && cJSON_IsArray(c))
            return cf_fail(err, CF_ERR_INVALID_ARG,
                           "question-answering: inputs.context is a list but inputs.question is a string; "
                           "give a list of questions of the same length (transformers does not pair one "
                           "question with several contexts)");
        examples = owned ? owned : inputs;
    }
    /* As the Python pipeline: a single example, even one given as a one-item list, answers unwrapped. */
    if (cJSON_IsArray(examples) && cJSON_GetArraySize(examples) == 1)
        examples = examples->child;
    cf_status s = cf_map_inputs(examples, "question-answering", answer_example, &qp, out, err);
    cJSON_Delete(owned);
    return s;
}

static cf_status open_task(cf_pipeline *p, cf_error *err)
{
    cf_text_model *tm = NULL;
    CF_TRY(cf_text_model_open(p, CF_HEAD_QUESTION_ANSWERING, &tm, err));
    p->state = tm;
    return CF_OK;
}

static void close_task(cf_pipeline *p) { cf_text_model_free(p->state); }

const cf_task cf_task_question_answering = {
    .name = "question-answering",
    .default_model = "distilbert-base-cased-distilled-squad",
    .open = open_task,
    .run = run,
    .close = close_task,
};
