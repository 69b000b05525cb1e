/* PreTokenizedString: the list of splits a text goes through, and the NormalizedString
 * operations that work on patterns (split with a behaviour, replace, prepend). */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/grow.h"
#include "tokenizers/tokenizer_internal.h"

bool cf_toks_push(cf_toks *t, int64_t id, size_t start, size_t end)
{
    cf_tok *v = cf_grow_for_one(t->v, t->n, &t->cap, sizeof *v, 16);
    if (!v)
        return false;
    t->v = v;
    t->v[t->n++] = (cf_tok){id, (uint32_t)start, (uint32_t)end, 0};
    return true;
}

bool cf_matches_push(cf_matches *m, size_t start, size_t end, bool is_match)
{
    cf_match *v = cf_grow_for_one(m->v, m->n, &m->cap, sizeof *v, 16);
    if (!v)
        return false;
    m->v = v;
    m->v[m->n++] = (cf_match){start, end, is_match};
    return true;
}

cf_status cf_matches_by_char(const char *s, size_t len, bool (*pred)(uint32_t), cf_matches *out, cf_error *err)
{
    out->n = 0;
    if (len == 0)
        return cf_matches_push(out, 0, 0, false) ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    size_t last = 0;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t c = cf_utf8_decode(s + i, &n);
        if (pred(c)) {
            if (last < i && !cf_matches_push(out, last, i, false))
                return cf_fail(err, CF_ERR_NOMEM, "out of memory");
            if (!cf_matches_push(out, i, i + n, true))
                return cf_fail(err, CF_ERR_NOMEM, "out of memory");
            last = i + n;
        }
        i += n;
    }
    if (last < len && !cf_matches_push(out, last, len, false))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    return CF_OK;
}

cf_status cf_matches_by_regex(const cf_regex *re, const char *s, size_t len, cf_matches *out, cf_error *err)
{
    out->n = 0;
    if (len == 0)
        return cf_matches_push(out, 0, 0, false) ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    void *md = NULL;
    size_t prev = 0, ms, me;
    cf_status st = CF_OK;
    while (cf_regex_next(re, &md, s, len, prev, &ms, &me)) {
        if ((prev != ms && !cf_matches_push(out, prev, ms, false)) || !cf_matches_push(out, ms, me, true)) {
            st = cf_fail(err, CF_ERR_NOMEM, "out of memory");
            break;
        }
        prev = me;
    }
    cf_regex_match_data_free(md);
    if (st == CF_OK && prev != len && !cf_matches_push(out, prev, len, false))
        st = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    return st;
}

cf_status cf_pretokenized_push(cf_pretokenized *p, cf_normalized *ns, cf_error *err)
{
    cf_split *v = cf_grow_for_one(p->v, p->n, &p->cap, sizeof *v, 16);
    if (!v) {
        cf_normalized_free(ns);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory splitting text");
    }
    p->v = v;
    p->v[p->n++] = (cf_split){*ns, false, false, NULL, {0}, 0};
    memset(ns, 0, sizeof *ns);
    return CF_OK;
}

void cf_pretokenized_free(cf_pretokenized *p)
{
    for (size_t i = 0; i < p->n; i++) {
        cf_normalized_free(&p->v[i].ns);
        free(p->v[i].toks.v);
        free(p->v[i].values);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Regroup matches per behaviour (NormalizedString::split); `remove` marks pieces to drop. */
static void regroup(cf_matches *m, cf_split_behavior behavior, bool *remove)
{
    size_t w = 0;
    bool prev_match = false;
    switch (behavior) {
    case CF_SPLIT_REMOVED:
        for (size_t i = 0; i < m->n; i++)
            remove[i] = m->v[i].is_match;
        return;
    case CF_SPLIT_ISOLATED:
        break;
    case CF_SPLIT_CONTIGUOUS:
    case CF_SPLIT_MERGED_WITH_PREVIOUS:
        /* A piece joins the one before it: Contiguous, when both are (or both are not)
         * matches; MergedWithPrevious, when it is a match that follows a non-match. */
        for (size_t i = 0; i < m->n; i++) {
            bool is_match = m->v[i].is_match;
            bool joins = behavior == CF_SPLIT_CONTIGUOUS ? is_match == prev_match : is_match && !prev_match;
            if (joins && w > 0)
                m->v[w - 1].end = m->v[i].end;
            else
                m->v[w++] = m->v[i];
            prev_match = is_match;
        }
        m->n = w;
        break;
    case CF_SPLIT_MERGED_WITH_NEXT: {
        /* Walk backwards, merging a match into the piece after it; then restore order. */
        size_t n = m->n;
        w = n;
        for (size_t k = n; k-- > 0;) {
            cf_match cur = m->v[k];
            if (cur.is_match && !prev_match && w < n)
                m->v[w].start = cur.start;
            else
                m->v[--w] = cur;
            prev_match = cur.is_match;
        }
        memmove(m->v, m->v + w, (n - w) * sizeof *m->v);
        m->n = n - w;
        break;
    }
    }
    for (size_t i = 0; i < m->n; i++)
        remove[i] = false;
}

cf_status cf_split_by_matches(const cf_normalized *ns, const cf_matches *m, cf_split_behavior behavior,
                              cf_pretokenized *out, cf_error *err)
{
    cf_matches g = {malloc((m->n ? m->n : 1) * sizeof(cf_match)), m->n, m->n};
    bool *remove = malloc((m->n ? m->n : 1) * sizeof *remove);
    if (!g.v || !remove) {
        free(g.v);
        free(remove);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory splitting text");
    }
    memcpy(g.v, m->v, m->n * sizeof *m->v);
    regroup(&g, behavior, remove);
    cf_status st = CF_OK;
    for (size_t i = 0; i < g.n && st == CF_OK; i++) {
        if (remove[i] || g.v[i].end <= g.v[i].start)
            continue;
        cf_normalized piece;
        st = cf_normalized_slice(ns, g.v[i].start, g.v[i].end, &piece, err);
        if (st == CF_OK)
            st = cf_pretokenized_push(out, &piece, err);
    }
    free(g.v);
    free(remove);
    return st;
}

cf_status cf_normalized_replace(cf_normalized *ns, const cf_regex *re, const char *content, cf_error *err)
{
    cf_matches m = {0};
    CF_TRY(cf_matches_by_regex(re, ns->text, ns->len, &m, err));
    size_t clen = strlen(content), n_match = 0;
    for (size_t k = 0; k < m.n; k++)
        n_match += m.v[k].is_match;
    if (n_match == 0) {
        free(m.v);
        return CF_OK;
    }
    /* One pass: every replacement char is aligned like the last char of what it replaces. */
    size_t cap = ns->len + n_match * clen + 1;
    char *text = malloc(cap);
    cf_span *align = malloc(cap * sizeof *align);
    if (!text || !align) {
        free(text);
        free(align);
        free(m.v);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory normalizing text");
    }
    size_t w = 0;
    for (size_t k = 0; k < m.n; k++) {
        const cf_match *x = &m.v[k];
        if (!x->is_match) {
            memcpy(text + w, ns->text + x->start, x->end - x->start);
            memcpy(align + w, ns->align + x->start, (x->end - x->start) * sizeof *align);
            w += x->end - x->start;
            continue;
        }
        memcpy(text + w, content, clen);
        for (size_t b = 0; b < clen; b++)
            align[w + b] = ns->align[x->end - 1];
        w += clen;
    }
    free(m.v);
    free(ns->text);
    free(ns->align);
    ns->text = text;
    ns->align = align;
    ns->len = w;
    ns->cap = cap;
    text[w] = '\0';
    return CF_OK;
}

cf_status cf_normalized_prepend(cf_normalized *ns, const char *s, cf_error *err)
{
    if (ns->len == 0)
        return CF_OK;
    size_t first_len;
    uint32_t first = cf_utf8_decode(ns->text, &first_len);
    cf_norm_changes ch = {0};
    bool ok = true;
    size_t i = 0;
    for (const char *p = s; *p && ok; i++) {
        size_t n;
        uint32_t c = cf_utf8_decode(p, &n);
        ok = cf_norm_changes_push(&ch, c, i == 0 ? 0 : 1);
        p += n;
    }
    ok = ok && cf_norm_changes_push(&ch, first, 1);
    cf_status st = ok ? cf_normalized_transform_range(ns, 0, first_len, ch.v, ch.n, 0, err)
                      : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_norm_changes_free(&ch);
    return st;
}
