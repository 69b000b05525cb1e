/* Encodings under construction: merging a pair, truncation into overflowing windows with a
 * stride, padding, and the move into the public cf_encoding. Mirrors the Rust Encoding. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory building an encoding"); }

static bool reserve(cf_enc *e, size_t need)
{
    if (need <= e->cap)
        return true;
    size_t cap = e->cap ? e->cap : 16;
    while (cap < need)
        cap *= 2;
#define GROW(field)                                                   \
    do {                                                              \
        void *p = realloc(e->field, cap * sizeof *e->field);          \
        if (!p)                                                       \
            return false;                                             \
        e->field = p;                                                 \
    } while (0)
    GROW(ids);
    GROW(type_ids);
    GROW(special);
    GROW(attn);
    GROW(words);
    GROW(tokens);
    GROW(offsets);
#undef GROW
    e->cap = cap;
    return true;
}

bool cf_enc_push(cf_enc *e, int64_t id, int64_t type_id, const char *token, int64_t start, int64_t end,
                 int64_t special, int64_t word)
{
    if (!reserve(e, e->n + 1))
        return false;
    size_t i = e->n++;
    e->ids[i] = id;
    e->type_ids[i] = type_id;
    e->tokens[i] = token;
    e->offsets[i][0] = start;
    e->offsets[i][1] = end;
    e->special[i] = special;
    e->attn[i] = 1;
    e->words[i] = word;
    return true;
}

static bool append_range(cf_enc *dst, const cf_enc *src, size_t start, size_t stop)
{
    if (stop <= start)
        return true;
    if (!reserve(dst, dst->n + (stop - start)))
        return false;
    size_t k = stop - start, at = dst->n;
    memcpy(dst->ids + at, src->ids + start, k * sizeof *dst->ids);
    memcpy(dst->type_ids + at, src->type_ids + start, k * sizeof *dst->ids);
    memcpy(dst->special + at, src->special + start, k * sizeof *dst->ids);
    memcpy(dst->attn + at, src->attn + start, k * sizeof *dst->ids);
    memcpy(dst->words + at, src->words + start, k * sizeof *dst->ids);
    memcpy(dst->tokens + at, src->tokens + start, k * sizeof *dst->tokens);
    memcpy(dst->offsets + at, src->offsets + start, k * sizeof *dst->offsets);
    dst->n += k;
    return true;
}

/* Drop the overflowing windows of e. */
static void free_windows(cf_enc *e)
{
    for (size_t i = 0; i < e->n_over; i++)
        cf_enc_free(&e->over[i]);
    free(e->over);
    e->over = NULL;
    e->n_over = 0;
}

void cf_enc_free(cf_enc *e)
{
    free(e->ids);
    free(e->type_ids);
    free(e->special);
    free(e->attn);
    free(e->words);
    free(e->tokens);
    free(e->offsets);
    free_windows(e);
    memset(e, 0, sizeof *e);
}

bool cf_enc_reserve(cf_enc *e, size_t n) { return reserve(e, n); }

cf_status cf_enc_merge_owned(cf_enc *a, cf_enc *b, cf_error *err)
{
    bool a_empty = a->n == 0 && a->n_over == 0 && !a->ranges[0].present && !a->ranges[1].present;
    if (!a_empty)
        return cf_enc_merge(a, b, err);
    /* merging into nothing gives b itself */
    cf_enc_free(a);
    *a = *b;
    memset(b, 0, sizeof *b);
    return CF_OK;
}

cf_status cf_enc_copy(cf_enc *dst, const cf_enc *src, cf_error *err)
{
    memset(dst, 0, sizeof *dst);
    if (!append_range(dst, src, 0, src->n))
        return oom(err);
    memcpy(dst->ranges, src->ranges, sizeof dst->ranges);
    if (src->n_over) {
        dst->over = calloc(src->n_over, sizeof *dst->over);
        if (!dst->over)
            return oom(err);
        for (size_t i = 0; i < src->n_over; i++) {
            CF_TRY(cf_enc_copy(&dst->over[i], &src->over[i], err));
            dst->n_over++;
        }
    }
    return CF_OK;
}

void cf_enc_set_sequence(cf_enc *e, int seq)
{
    e->ranges[seq] = (cf_seq_range){true, 0, e->n};
    for (size_t i = 0; i < e->n_over; i++)
        cf_enc_set_sequence(&e->over[i], seq);
}

static cf_status push_over(cf_enc *e, cf_enc *o, cf_error *err)
{
    cf_enc *v = realloc(e->over, (e->n_over + 1) * sizeof *v);
    if (!v) {
        cf_enc_free(o);
        return oom(err);
    }
    e->over = v;
    e->over[e->n_over++] = *o;
    memset(o, 0, sizeof *o);
    return CF_OK;
}

/* Append to res's windows a copy of `base` (with or without its own windows) merged with `extra`. */
static cf_status push_merged(cf_enc *res, const cf_enc *base, bool base_windows, const cf_enc *extra, cf_error *err)
{
    cf_enc x;
    cf_status st = cf_enc_copy(&x, base, err);
    if (st == CF_OK && !base_windows)
        free_windows(&x);
    if (st == CF_OK)
        st = cf_enc_merge(&x, extra, err);
    if (st != CF_OK) {
        cf_enc_free(&x);
        return st;
    }
    return push_over(res, &x, err);
}

/* Encoding::merge_with (offsets not shifted): a's windows each combined with b and with b's
 * windows, then a itself with b's windows; finally a gets b appended. */
cf_status cf_enc_merge(cf_enc *a, const cf_enc *b, cf_error *err)
{
    cf_enc res = {0};
    cf_status st = CF_OK;
    for (size_t i = 0; i < a->n_over && st == CF_OK; i++) {
        st = push_merged(&res, &a->over[i], true, b, err);
        for (size_t k = 0; k < b->n_over && st == CF_OK; k++)
            st = push_merged(&res, &a->over[i], true, &b->over[k], err);
    }
    for (size_t k = 0; k < b->n_over && st == CF_OK; k++)
        st = push_merged(&res, a, false, &b->over[k], err);
    size_t a_len = a->n;
    if (st == CF_OK && !append_range(a, b, 0, b->n))
        st = oom(err);
    for (int k = 0; k < 2 && st == CF_OK; k++)
        if (b->ranges[k].present)
            a->ranges[k] = (cf_seq_range){true, a_len + b->ranges[k].start, a_len + b->ranges[k].end};
    if (st != CF_OK) {
        cf_enc_free(&res);
        return st;
    }
    free_windows(a);
    a->over = res.over;
    a->n_over = res.n_over;
    return CF_OK;
}

/* Window i of a sequence of len tokens cut into windows of max_len tokens, each `step` tokens
 * after the last, counted from the start (or from the end when truncating on the left). */
static void truncation_window(size_t len, size_t max_len, size_t step, size_t i, bool left, size_t *start,
                              size_t *stop)
{
    size_t offset = i * step;
    size_t width = offset + max_len < len ? max_len : len - offset;
    *start = left ? len - offset - width : offset;
    *stop = *start + width;
}

cf_status cf_enc_truncate(cf_enc *e, size_t max_len, size_t stride, bool left, cf_error *err)
{
    size_t len = e->n;
    if (max_len >= len)
        return CF_OK;
    if (max_len == 0) {
        cf_enc whole = *e;
        memset(e, 0, sizeof *e);
        return push_over(e, &whole, err);
    }
    if (stride >= max_len)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "truncation stride %zu must be smaller than the room left for the sequence (%zu tokens)", stride,
                       max_len);
    size_t step = max_len - stride;
    /* The windows, in order, up to the first that reaches the far end; the first one stays the
     * encoding and the others become its overflowing encodings. */
    size_t n_windows = 1 + (len - max_len + step - 1) / step;
    cf_enc first = {0};
    cf_status st = CF_OK;
    for (size_t i = 0; i < n_windows && st == CF_OK; i++) {
        size_t start, stop;
        truncation_window(len, max_len, step, i, left, &start, &stop);
        cf_enc o = {0};
        if (!append_range(&o, e, start, stop)) {
            cf_enc_free(&o);
            st = oom(err);
        } else if (i == 0) {
            first = o;
        } else {
            st = push_over(&first, &o, err);
        }
    }
    if (st != CF_OK) {
        cf_enc_free(&first);
        return st;
    }
    /* Truncating loses the sequence ranges (the windows are fresh encodings without any). */
    cf_enc_free(e);
    *e = first;
    return CF_OK;
}

cf_status cf_truncate_pair(cf_enc *a, cf_enc *b, cf_truncation_strategy strategy, size_t max_length, size_t stride,
                           bool left, cf_error *err)
{
    if (max_length == 0) {
        CF_TRY(cf_enc_truncate(a, 0, stride, left, err));
        return b ? cf_enc_truncate(b, 0, stride, left, err) : CF_OK;
    }
    size_t total = a->n + (b ? b->n : 0);
    if (total <= max_length)
        return CF_OK;
    size_t to_remove = total - max_length;
    if (strategy == CF_TRUNCATE_LONGEST_FIRST) {
        if (!b)
            return cf_enc_truncate(a, total - to_remove, stride, left, err);
        size_t n1 = a->n, n2 = b->n;
        bool swap = n1 > n2;
        if (swap) {
            size_t t = n1;
            n1 = n2;
            n2 = t;
        }
        if (n1 > max_length)
            n2 = n1;
        else
            n2 = n1 > max_length - n1 ? n1 : max_length - n1;
        if (n1 + n2 > max_length) {
            n1 = max_length / 2;
            n2 = n1 + max_length % 2;
        }
        if (swap) {
            size_t t = n1;
            n1 = n2;
            n2 = t;
        }
        CF_TRY(cf_enc_truncate(a, n1, stride, left, err));
        return cf_enc_truncate(b, n2, stride, left, err);
    }
    cf_enc *target = strategy == CF_TRUNCATE_ONLY_FIRST ? a : b;
    if (!target)
        return cf_fail(err, CF_ERR_INVALID_ARG, "truncation only_second needs a pair of texts");
    if (target->n <= to_remove)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "truncation %s: the %s sequence (%zu tokens) is too short to remove %zu tokens",
                       strategy == CF_TRUNCATE_ONLY_FIRST ? "only_first" : "only_second",
                       strategy == CF_TRUNCATE_ONLY_FIRST ? "first" : "second", target->n, to_remove);
    return cf_enc_truncate(target, target->n - to_remove, stride, left, err);
}

cf_status cf_enc_pad(cf_enc *e, size_t target, int64_t pad_id, int64_t pad_type_id, const char *pad_token,
                     bool left, cf_error *err)
{
    for (size_t i = 0; i < e->n_over; i++)
        CF_TRY(cf_enc_pad(&e->over[i], target, pad_id, pad_type_id, pad_token, left, err));
    if (e->n >= target)
        return CF_OK;
    size_t k = target - e->n, old = e->n;
    if (!reserve(e, target))
        return oom(err);
    if (left) {
#define SHIFT(field) memmove(e->field + k, e->field, old * sizeof *e->field)
        SHIFT(ids);
        SHIFT(type_ids);
        SHIFT(special);
        SHIFT(attn);
        SHIFT(words);
        SHIFT(tokens);
        SHIFT(offsets);
#undef SHIFT
    }
    size_t at = left ? 0 : old;
    for (size_t i = at; i < at + k; i++) {
        e->ids[i] = pad_id;
        e->type_ids[i] = pad_type_id;
        e->tokens[i] = pad_token;
        e->offsets[i][0] = e->offsets[i][1] = 0;
        e->special[i] = 1;
        e->attn[i] = 0;
        e->words[i] = -1;
    }
    e->n = target;
    return CF_OK;
}

/* Encoding::get_sequence_ids: no ranges means every token is in sequence 0; otherwise ids
 * 0..count are laid over their ranges in order (a missing id covers everything). */
static int64_t *sequence_ids(const cf_enc *e)
{
    int64_t *v = malloc((e->n ? e->n : 1) * sizeof *v);
    if (!v)
        return NULL;
    int count = e->ranges[0].present + e->ranges[1].present;
    for (size_t i = 0; i < e->n; i++)
        v[i] = count ? -1 : 0;
    for (int s = 0; s < count; s++) {
        size_t a = e->ranges[s].present ? e->ranges[s].start : 0, b = e->ranges[s].present ? e->ranges[s].end : e->n;
        for (size_t i = a; i < b && i < e->n; i++)
            v[i] = s;
    }
    return v;
}

cf_status cf_enc_finalize(cf_enc *e, cf_encoding *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = e->n, bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(e->tokens[i]) + 1;
    /* The token pointers and their text share one block, freed with the array. */
    char **tokens = malloc(n * sizeof *tokens + bytes + 1);
    if (!tokens)
        return oom(err);
    char *text = (char *)(tokens + n);
    for (size_t i = 0; i < n; i++) {
        tokens[i] = text;
        text = stpcpy(text, e->tokens[i]) + 1;
    }
    free(e->tokens);
    e->tokens = NULL;
    out->n = n;
    out->ids = e->ids;
    out->type_ids = e->type_ids;
    out->tokens = tokens;
    out->offsets = e->offsets;
    out->special_mask = e->special;
    out->attention_mask = e->attn;
    out->word_ids = e->words;
    out->sequence_ids = sequence_ids(e);
    if (n && !out->sequence_ids) {
        free(tokens);
        return oom(err);
    }
    cf_status st = CF_OK;
    if (e->n_over) {
        out->overflowing = calloc(e->n_over, sizeof *out->overflowing);
        if (!out->overflowing)
            st = oom(err);
        for (size_t i = 0; i < e->n_over && st == CF_OK; i++) {
            st = cf_enc_finalize(&e->over[i], &out->overflowing[i], err);
            out->n_overflowing = i + 1;
        }
    }
    free_windows(e);
    memset(e, 0, sizeof *e);
    return st;
}

void cf_encoding_free(cf_encoding *enc)
{
    if (!enc)
        return;
    free(enc->ids);
    free(enc->type_ids);
    free(enc->tokens);
    free(enc->offsets);
    free(enc->special_mask);
    free(enc->attention_mask);
    free(enc->word_ids);
    free(enc->sequence_ids);
    for (size_t i = 0; i < enc->n_overflowing; i++)
        cf_encoding_free(&enc->overflowing[i]);
    free(enc->overflowing);
    memset(enc, 0, sizeof *enc);
}
