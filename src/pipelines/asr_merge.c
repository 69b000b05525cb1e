#include "pipelines/asr_merge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------- longest common sequence ---- */

/* Best overlap of left's end with right's start: (left_start, left_stop, right_start, right_stop). */
static void best_overlap(const cf_token_seq *left, const cf_token_seq *right, size_t idx[4])
{
    size_t L = left->n, R = right->n;
    double best = 0.0;
    idx[0] = idx[1] = L;
    idx[2] = idx[3] = 0;
    for (size_t i = 1; i < L + R; i++) {
        double eps = (double)i / 10000.0; /* favours long perfect matches */
        size_t ls = L > i ? L - i : 0, le = L + R - i < L ? L + R - i : L;
        size_t rs = i > L ? i - L : 0, re = i < R ? i : R;
        size_t matches = 0;
        for (size_t k = 0; k < le - ls; k++)
            matches += left->ids[ls + k] == right->ids[rs + k];
        double matching = (double)matches / (double)i + eps;
        if (matches > 1 && matching > best) {
            best = matching;
            idx[0] = ls, idx[1] = le, idx[2] = rs, idx[3] = re;
        }
    }
}

cf_status cf_asr_longest_common_sequence(const cf_token_seq *seqs, size_t n, cf_token_seq *out, cf_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += seqs[i].n;
    out->n = 0;
    out->ids = malloc((total + 1) * sizeof *out->ids);
    if (!out->ids)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory merging %zu windows", n);
    if (n == 0)
        return CF_OK;
    cf_token_seq left = seqs[0];
    for (size_t s = 1; s < n; s++) {
        size_t idx[4];
        best_overlap(&left, &seqs[s], idx);
        size_t left_mid = (idx[1] + idx[0]) / 2, right_mid = (idx[3] + idx[2]) / 2;
        memcpy(out->ids + out->n, left.ids, left_mid * sizeof *left.ids);
        out->n += left_mid;
        left = (cf_token_seq){.ids = seqs[s].ids + right_mid, .n = seqs[s].n - right_mid};
    }
    memcpy(out->ids + out->n, left.ids, left.n * sizeof *left.ids);
    out->n += left.n;
    return CF_OK;
}

/* ------------------------------------------------------------- _decode_asr ---- */

typedef struct token_buf {
    int64_t *ids;
    size_t n, cap;
} token_buf;

typedef struct chunk {
    bool has_start, has_end;
    double start, end;
    const char *language; /* NULL: none seen yet */
    char *text;
} chunk;

typedef struct asr_state {
    const cf_tokenizer *tok;
    const cf_asr_decode_opts *opt;
    cf_token_seq *prev; /* previous_tokens */
    size_t n_prev, cap_prev;
    token_buf cur;      /* current_tokens */
    chunk *chunks;
    size_t n_chunks, cap_chunks;
    chunk open;         /* the chunk being built */
    const char *last_language;
    cf_status status;
    cf_error *err;
} asr_state;

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static bool fail_nomem(asr_state *s)
{
    if (s->status == CF_OK)
        s->status = cf_fail(s->err, CF_ERR_NOMEM, "out of memory decoding the transcript");
    return false;
}

static bool push_token(asr_state *s, int64_t id)
{
    if (!grow((void **)&s->cur.ids, &s->cur.cap, s->cur.n + 1, sizeof *s->cur.ids))
        return fail_nomem(s);
    s->cur.ids[s->cur.n++] = id;
    return true;
}

/* previous_tokens.append(current_tokens); current_tokens = [] */
static bool push_current(asr_state *s)
{
    if (!grow((void **)&s->prev, &s->cap_prev, s->n_prev + 1, sizeof *s->prev))
        return fail_nomem(s);
    s->prev[s->n_prev++] = (cf_token_seq){.ids = s->cur.ids, .n = s->cur.n};
    s->cur = (token_buf){0};
    return true;
}

static void clear_previous(asr_state *s)
{
    for (size_t i = 0; i < s->n_prev; i++)
        free(s->prev[i].ids);
    s->n_prev = 0;
    free(s->cur.ids);
    s->cur = (token_buf){0};
}

/* chunk["text"] = decode(longest common sequence of previous_tokens); chunks.append(chunk) */
static bool close_chunk(asr_state *s)
{
    cf_token_seq merged;
    if (s->status != CF_OK)
        return false;
    s->status = cf_asr_longest_common_sequence(s->prev, s->n_prev, &merged, s->err);
    if (s->status == CF_OK)
        s->status = cf_tokenizer_decode(s->tok, merged.ids, merged.n, 0, &s->open.text, s->err);
    free(merged.ids);
    if (s->status != CF_OK)
        return false;
    if (!grow((void **)&s->chunks, &s->cap_chunks, s->n_chunks + 1, sizeof *s->chunks))
        return fail_nomem(s);
    s->chunks[s->n_chunks++] = s->open;
    s->open = (chunk){.language = s->last_language};
    clear_previous(s);
    return true;
}

/* round(x, 2) as Python does it: correctly rounded through the decimal string. */
static double py_round2(double x)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.2f", x);
    return strtod(buf, NULL);
}

static void on_language(asr_state *s, const char *language)
{
    if (s->last_language && strcmp(language, s->last_language) && !s->opt->return_timestamps) {
        push_current(s);
        close_chunk(s);
    }
    s->open.language = language;
    s->last_language = language;
}

typedef struct window_state {
    double time_offset, first_timestamp;
    int64_t last_timestamp; /* 0: none */
    bool skip;
} window_state;

static void on_timestamp(asr_state *s, window_state *w, int64_t token)
{
    double time = py_round2((double)(token - s->opt->timestamp_begin) * s->opt->time_precision + w->time_offset);
    if (w->last_timestamp && token >= w->last_timestamp) {
        w->skip = true; /* inside the right stride: resolved by the next window */
    } else if (w->skip || (s->n_prev && (double)token < w->first_timestamp)) {
        w->skip = false;
    } else if (!s->open.has_start) {
        s->open.has_start = true;
        s->open.start = time;
    } else if (time != s->open.start) { /* equal: a repeated start token, not an end */
        s->open.has_end = true;
        s->open.end = time;
        push_current(s);
        close_chunk(s);
    }
}

/* Stride bookkeeping of one window (times in seconds). */
static void window_strides(const asr_state *s, const cf_asr_window *win, window_state *w)
{
    int64_t tb = s->opt->timestamp_begin;
    w->last_timestamp = 0;
    w->first_timestamp = (double)tb;
    if (!win->has_stride)
        return;
    w->time_offset -= win->stride_left;
    double right_stride_start = win->chunk_len - win->stride_right;
    if (win->stride_left)
        w->first_timestamp = win->stride_left / s->opt->time_precision + (double)tb;
    if (win->stride_right)
        for (size_t i = win->n; i-- > 0;) {
            int64_t token = win->ids[i];
            if (token < tb)
                continue;
            if (w->last_timestamp && (double)(token - tb) * s->opt->time_precision < right_stride_start)
                break;
            w->last_timestamp = token;
        }
}

static void decode_window(asr_state *s, const cf_asr_window *win, window_state *w)
{
    window_strides(s, win, w);
    for (size_t i = 0; i < win->n && s->status == CF_OK; i++) {
        int64_t token = win->ids[i];
        if (cf_tokenizer_is_special_id(s->tok, token)) {
            const char *language = s->opt->language_of ? s->opt->language_of(s->opt->language_ctx, token) : NULL;
            if (language)
                on_language(s, language);
        } else if (token >= s->opt->timestamp_begin) {
            on_timestamp(s, w, token);
        } else {
            push_token(s, token);
        }
    }
    if (win->has_stride)
        w->time_offset += win->chunk_len - win->stride_right;
    bool any = false;
    for (size_t i = 0; i < s->n_prev; i++)
        any |= s->prev[i].n > 0;
    if (s->cur.n)
        push_current(s);
    else if (!any) {
        clear_previous(s);
        free(s->open.text);
        s->open = (chunk){.language = s->last_language};
    }
}

static cJSON *time_or_null(bool has, double t) { return has ? cJSON_CreateNumber(t) : cJSON_CreateNull(); }

static cf_status finish(asr_state *s, char **text, cJSON **chunks)
{
    size_t len = 0;
    for (size_t i = 0; i < s->n_chunks; i++)
        len += strlen(s->chunks[i].text);
    *text = malloc(len + 1);
    if (!*text)
        return cf_fail(s->err, CF_ERR_NOMEM, "out of memory");
    len = 0;
    for (size_t i = 0; i < s->n_chunks; i++) {
        size_t l = strlen(s->chunks[i].text);
        memcpy(*text + len, s->chunks[i].text, l);
        len += l;
    }
    (*text)[len] = '\0';
    if (!s->opt->return_timestamps && !s->opt->return_language)
        return CF_OK;
    *chunks = cJSON_CreateArray();
    for (size_t i = 0; i < s->n_chunks; i++) {
        const chunk *k = &s->chunks[i];
        cJSON *c = cJSON_CreateObject();
        if (s->opt->return_language)
            cJSON_AddItemToObject(c, "language", k->language ? cJSON_CreateString(k->language) : cJSON_CreateNull());
        if (s->opt->return_timestamps) {
            cJSON *ts = cJSON_CreateArray();
            cJSON_AddItemToArray(ts, time_or_null(k->has_start, k->start));
            cJSON_AddItemToArray(ts, time_or_null(k->has_end, k->end));
            cJSON_AddItemToObject(c, "timestamp", ts);
        }
        cJSON_AddStringToObject(c, "text", k->text);
        cJSON_AddItemToArray(*chunks, c);
    }
    return CF_OK;
}

cf_status cf_asr_decode_whisper(const cf_tokenizer *tok, const cf_asr_window *windows, size_t n_windows,
                                const cf_asr_decode_opts *opt, char **text, cJSON **chunks, cf_error *err)
{
    *text = NULL;
    *chunks = NULL;
    asr_state s = {.tok = tok, .opt = opt, .err = err};
    window_state w = {0};
    for (size_t i = 0; i < n_windows && s.status == CF_OK; i++)
        decode_window(&s, &windows[i], &w);
    if (s.status == CF_OK && s.n_prev)
        close_chunk(&s);
    if (s.status == CF_OK)
        s.status = finish(&s, text, chunks);
    clear_previous(&s);
    free(s.prev);
    free(s.open.text);
    for (size_t i = 0; i < s.n_chunks; i++)
        free(s.chunks[i].text);
    free(s.chunks);
    return s.status;
}
