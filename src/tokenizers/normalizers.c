/* Normalizers of tokenizer.json: each rewrites a normalized string through transformations,
 * so alignments to the caller's text follow every edit. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/base64.h"
#include "tokenizers/tokenizer_internal.h"

#if defined(__has_include)
#if __has_include("tokenizers/precompiled.h")
#include "tokenizers/precompiled.h"
#define CF_HAVE_PRECOMPILED 1
#endif
#endif

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory normalizing text"); }

/* Sequence items through the generic list parser. */
static cf_status parse_item(const cJSON *j, void *item, cf_error *err) { return cf_normalizer_parse(j, item, err); }
static void free_item(void *item) { cf_normalizer_free(item); }

/* ------------------------------------------------------------ char-wise edits */

/* NormalizedString::filter: removed chars are folded into the kept char before them. */
static cf_status filter(cf_normalized *ns, bool (*drop)(uint32_t), cf_error *err)
{
    cf_norm_changes ch = {0};
    size_t leading = 0;
    bool any = false, dropped = false;
    for (size_t i = 0; i < ns->len;) {
        size_t n;
        uint32_t c = cf_utf8_decode(ns->text + i, &n);
        i += n;
        if (drop(c)) {
            dropped = true;
            if (ch.n)
                ch.v[ch.n - 1].change--;
            else
                leading++;
            continue;
        }
        any = true;
        if (!cf_norm_changes_push(&ch, c, 0)) {
            cf_norm_changes_free(&ch);
            return oom(err);
        }
    }
    (void)any;
    cf_status st = dropped ? cf_normalized_transform(ns, &ch, leading, err) : CF_OK;
    cf_norm_changes_free(&ch);
    return st;
}

static bool is_bert_removed(uint32_t c) { return c == 0 || c == 0xFFFD || cf_uc_is_control(c); }

/* Each char through `map`, which writes what it becomes (up to 3 chars: the first takes its
 * place, the rest are inserted after it) and returns their count. */
static cf_status map_chars(cf_normalized *ns, int (*map)(uint32_t, uint32_t[3]), cf_error *err)
{
    cf_norm_changes ch = {0};
    bool changed = false, ok = true;
    for (size_t i = 0; i < ns->len && ok;) {
        size_t n;
        uint32_t c = cf_utf8_decode(ns->text + i, &n);
        i += n;
        uint32_t out[3];
        int k = map(c, out);
        changed |= k != 1 || out[0] != c;
        for (int j = 0; j < k && ok; j++)
            ok = cf_norm_changes_push(&ch, out[j], j > 0);
    }
    cf_status st = !ok ? oom(err) : changed ? cf_normalized_transform(ns, &ch, 0, err) : CF_OK;
    cf_norm_changes_free(&ch);
    return st;
}

/* BertNormalizer clean_text: whitespace becomes ' ' (one char for one, so one-byte whitespace
 * keeps its alignment; multi-byte ones go through a transformation). */
static int bert_space(uint32_t c, uint32_t out[3])
{
    out[0] = cf_uc_is_whitespace(c) ? ' ' : c;
    return 1;
}

static cf_status bert_clean_text(cf_normalized *ns, cf_error *err)
{
    CF_TRY(filter(ns, is_bert_removed, err));
    return map_chars(ns, bert_space, err);
}

/* BertNormalizer handle_chinese_chars: a space on each side of every CJK char. */
static int bert_pad_cjk(uint32_t c, uint32_t out[3])
{
    if (!cf_uc_is_cjk(c)) {
        out[0] = c;
        return 1;
    }
    out[0] = ' ';
    out[1] = c;
    out[2] = ' ';
    return 3;
}

/* ------------------------------------------------------------ Unicode normal forms */

static int ccc(uint32_t c) { return c < 0x300 ? 0 : utf8proc_get_property((utf8proc_int32_t)c)->combining_class; }

/* NFD/NFKD: each char's decomposition (first char replaces it, the rest are inserted),
 * then the canonical ordering of combining marks, moving their changes along. */
static cf_status decompose(const cf_normalized *ns, bool compat, cf_norm_changes *ch, bool *changed, cf_error *err)
{
    int opts = UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0);
    for (size_t i = 0; i < ns->len;) {
        size_t n;
        uint32_t c = cf_utf8_decode(ns->text + i, &n);
        i += n;
        if (c < 0xC0) {
            if (!cf_norm_changes_push(ch, c, 0))
                return oom(err);
            continue;
        }
        utf8proc_int32_t buf[32];
        int last = 0;
        utf8proc_ssize_t k = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 32, opts, &last);
        if (k < 1 || k > 32) {
            buf[0] = (utf8proc_int32_t)c;
            k = 1;
        }
        if (k != 1 || (uint32_t)buf[0] != c)
            *changed = true;
        for (utf8proc_ssize_t j = 0; j < k; j++)
            if (!cf_norm_changes_push(ch, (uint32_t)buf[j], j > 0))
                return oom(err);
    }
    /* Canonical ordering: stable insertion sort of each run of non-starters. */
    for (size_t i = 1; i < ch->n; i++) {
        int ci = ccc(ch->v[i].cp);
        if (ci == 0)
            continue;
        size_t j = i;
        cf_norm_change x = ch->v[i];
        while (j > 0 && ccc(ch->v[j - 1].cp) > ci) {
            ch->v[j] = ch->v[j - 1];
            j--;
        }
        if (j != i) {
            ch->v[j] = x;
            *changed = true;
        }
    }
    return CF_OK;
}

static cf_status apply_decompose(cf_normalized *ns, bool compat, cf_error *err)
{
    cf_norm_changes ch = {0};
    bool changed = false;
    cf_status st = decompose(ns, compat, &ch, &changed, err);
    if (st == CF_OK && changed)
        st = cf_normalized_transform(ns, &ch, 0, err);
    cf_norm_changes_free(&ch);
    return st;
}

static bool starts_segment(uint32_t c)
{
    /* Hangul vowels/trailing jamo compose with the char before them. */
    return ccc(c) == 0 && !(c >= 0x1161 && c <= 0x11C2);
}

/* NFC/NFKC: normalize segment by segment (a starter and the marks after it); a segment that
 * changed is replaced with the rule the Rust library uses for any piece-wise rewrite. */
static cf_status apply_compose(cf_normalized *ns, bool compat, cf_error *err)
{
    cf_norm_builder b;
    cf_norm_builder_init(&b, ns);
    int opts = UTF8PROC_COMPOSE | UTF8PROC_STABLE | (compat ? UTF8PROC_COMPAT : 0);
    cf_status st = CF_OK;
    size_t i = 0;
    while (i < ns->len && st == CF_OK) {
        size_t start = i, n;
        cf_utf8_decode(ns->text + i, &n);
        i += n;
        while (i < ns->len) {
            uint32_t c = cf_utf8_decode(ns->text + i, &n);
            if (starts_segment(c))
                break;
            i += n;
        }
        bool ascii = i - start == 1 && (unsigned char)ns->text[start] < 0x80;
        if (ascii) {
            st = cf_norm_builder_emit(&b, ns->text + start, 1, start, i);
            continue;
        }
        utf8proc_uint8_t *out = NULL;
        utf8proc_ssize_t k =
            utf8proc_map((const utf8proc_uint8_t *)ns->text + start, (utf8proc_ssize_t)(i - start), &out, opts);
        if (k < 0)
            st = cf_norm_builder_emit(&b, ns->text + start, i - start, start, i);
        else
            st = cf_norm_builder_emit(&b, (const char *)out, (size_t)k, start, i);
        free(out);
        if (st != CF_OK)
            st = oom(err);
    }
    if (st != CF_OK) {
        cf_norm_changes_free(&b.changes);
        return st;
    }
    return cf_norm_builder_finish(&b, err);
}

/* ------------------------------------------------------------ other normalizers */

static cf_status strip(cf_normalized *ns, bool left, bool right, cf_error *err)
{
    size_t nchars, lead, trail;
    cf_uc_edge_runs(ns->text, ns->len, cf_uc_is_whitespace, &nchars, &lead, &trail);
    if (!left)
        lead = 0;
    if (!right)
        trail = 0;
    if (lead == 0 && trail == 0)
        return CF_OK;
    /* Keep chars [lead, nchars - trail): the last kept char absorbs the trailing removal. */
    cf_norm_changes ch = {0};
    size_t idx = 0;
    bool ok = true;
    for (size_t i = 0; i < ns->len && ok; idx++) {
        size_t n;
        uint32_t c = cf_utf8_decode(ns->text + i, &n);
        i += n;
        if (idx >= lead && idx + trail < nchars)
            ok = cf_norm_changes_push(&ch, c, 0);
    }
    if (ok && ch.n && trail)
        ch.v[ch.n - 1].change = -(int32_t)trail;
    cf_status st = ok ? cf_normalized_transform(ns, &ch, lead, err) : oom(err);
    cf_norm_changes_free(&ch);
    return st;
}

static bool is_mn(uint32_t c) { return cf_uc_is_mark_nonspacing(c); }

cf_status cf_normalizer_apply(const cf_normalizer *nz, cf_normalized *ns, cf_error *err)
{
    switch (nz->kind) {
    case CF_NORM_SEQUENCE:
        for (size_t i = 0; i < nz->n_items; i++)
            CF_TRY(cf_normalizer_apply(&nz->items[i], ns, err));
        return CF_OK;
    case CF_NORM_BERT: {
        if (nz->clean_text)
            CF_TRY(bert_clean_text(ns, err));
        if (nz->handle_chinese_chars)
            CF_TRY(map_chars(ns, bert_pad_cjk, err));
        bool strip_accents = nz->strip_accents < 0 ? nz->lowercase : nz->strip_accents;
        if (strip_accents) {
            CF_TRY(apply_decompose(ns, false, err));
            CF_TRY(filter(ns, is_mn, err));
        }
        if (nz->lowercase)
            CF_TRY(map_chars(ns, cf_uc_lower, err));
        return CF_OK;
    }
    case CF_NORM_NFC:
    case CF_NORM_NFKC:
        return apply_compose(ns, nz->kind == CF_NORM_NFKC, err);
    case CF_NORM_NFD:
    case CF_NORM_NFKD:
        return apply_decompose(ns, nz->kind == CF_NORM_NFKD, err);
    case CF_NORM_LOWERCASE:
    case CF_NORM_UPPERCASE:
        return map_chars(ns, nz->kind == CF_NORM_LOWERCASE ? cf_uc_lower : cf_uc_upper, err);
    case CF_NORM_STRIP_ACCENTS:
        return filter(ns, is_mn, err);
    case CF_NORM_REPLACE:
        return cf_normalized_replace(ns, nz->pattern, nz->content, err);
    case CF_NORM_PREPEND:
        return cf_normalized_prepend(ns, nz->content, err);
    case CF_NORM_STRIP:
        return strip(ns, nz->strip_left, nz->strip_right, err);
    case CF_NORM_PRECOMPILED: {
#ifdef CF_HAVE_PRECOMPILED
        cf_norm_builder b;
        cf_norm_builder_init(&b, ns);
        cf_status st = cf_precompiled_normalize(nz->precompiled, ns->text, ns->len, cf_norm_builder_emit, &b, err);
        if (st != CF_OK) {
            cf_norm_changes_free(&b.changes);
            return st;
        }
        return cf_norm_builder_finish(&b, err);
#else
        return cf_fail(err, CF_ERR_UNSUPPORTED, "the Precompiled normalizer is not available in this build");
#endif
    }
    }
    return cf_fail(err, CF_ERR_INTERNAL, "unknown normalizer kind %d", (int)nz->kind);
}

/* ------------------------------------------------------------ parsing */

/* A {"String": s} or {"Regex": r} pattern object into a compiled regex. */
cf_status cf_parse_pattern(const cJSON *j, const char *where, cf_regex **out, cf_error *err)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "String");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "Regex");
    if (cJSON_IsString(s))
        return cf_regex_new(s->valuestring, true, out, err);
    if (cJSON_IsString(r))
        return cf_regex_new(r->valuestring, false, out, err);
    return cf_fail(err, CF_ERR_FORMAT, "%s: \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}", where);
}

cf_status cf_normalizer_parse(const cJSON *j, cf_normalizer *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    const char *type;
    CF_TRY(cf_json_type(j, "tokenizer.json normalizer", &type, err));
    const char *w = type;
    if (!strcmp(type, "Sequence")) {
        out->kind = CF_NORM_SEQUENCE;
        return cf_json_sequence_parse(j, "normalizers", w, sizeof *out->items, parse_item, (void **)&out->items,
                                      &out->n_items, err);
    }
    if (!strcmp(type, "BertNormalizer")) {
        out->kind = CF_NORM_BERT;
        out->clean_text = out->handle_chinese_chars = out->lowercase = true;
        out->strip_accents = -1;
        CF_TRY(cf_json_bool(j, "clean_text", w, &out->clean_text, err));
        CF_TRY(cf_json_bool(j, "handle_chinese_chars", w, &out->handle_chinese_chars, err));
        CF_TRY(cf_json_bool(j, "lowercase", w, &out->lowercase, err));
        const cJSON *sa = cJSON_GetObjectItemCaseSensitive(j, "strip_accents");
        if (cJSON_IsBool(sa))
            out->strip_accents = cJSON_IsTrue(sa);
        else if (sa && !cJSON_IsNull(sa))
            return cf_fail(err, CF_ERR_FORMAT, "BertNormalizer: \"strip_accents\" must be true, false or null");
        return CF_OK;
    }
    /* "Uppercase" is not a tokenizers type: only the Wav2Vec2 legacy converter writes it. */
    static const struct {
        const char *name;
        cf_normalizer_kind kind;
    } simple[] = {{"NFC", CF_NORM_NFC},           {"NFD", CF_NORM_NFD},
                  {"NFKC", CF_NORM_NFKC},         {"NFKD", CF_NORM_NFKD},
                  {"Lowercase", CF_NORM_LOWERCASE}, {"Uppercase", CF_NORM_UPPERCASE}, {"StripAccents", CF_NORM_STRIP_ACCENTS}};
    for (size_t i = 0; i < sizeof simple / sizeof *simple; i++)
        if (!strcmp(type, simple[i].name)) {
            out->kind = simple[i].kind;
            return CF_OK;
        }
    if (!strcmp(type, "Replace")) {
        out->kind = CF_NORM_REPLACE;
        const char *content = NULL;
        CF_TRY(cf_json_string(j, "content", w, &content, err));
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        if (!content || !pat)
            return cf_fail(err, CF_ERR_FORMAT, "Replace normalizer needs \"pattern\" and \"content\"");
        if (!(out->content = strdup(content)))
            return oom(err);
        return cf_parse_pattern(pat, "Replace normalizer", &out->pattern, err);
    }
    if (!strcmp(type, "Prepend")) {
        out->kind = CF_NORM_PREPEND;
        const char *p = NULL;
        CF_TRY(cf_json_string(j, "prepend", w, &p, err));
        if (!p)
            return cf_fail(err, CF_ERR_FORMAT, "Prepend normalizer needs a \"prepend\" string");
        out->content = strdup(p);
        return out->content ? CF_OK : oom(err);
    }
    if (!strcmp(type, "Strip")) {
        out->kind = CF_NORM_STRIP;
        out->strip_left = out->strip_right = true;
        CF_TRY(cf_json_bool(j, "strip_left", w, &out->strip_left, err));
        CF_TRY(cf_json_bool(j, "strip_right", w, &out->strip_right, err));
        return CF_OK;
    }
    if (!strcmp(type, "Precompiled")) {
        out->kind = CF_NORM_PRECOMPILED;
        const char *b64 = NULL;
        CF_TRY(cf_json_string(j, "precompiled_charsmap", w, &b64, err));
        if (!b64) /* no charsmap: the identity, as the Rust library treats it */
        {
            out->kind = CF_NORM_SEQUENCE;
            return CF_OK;
        }
#ifdef CF_HAVE_PRECOMPILED
        uint8_t *bytes = NULL;
        size_t len = 0;
        cf_error why = {0};
        if (cf_base64_decode(b64, &bytes, &len, &why) != CF_OK)
            return cf_fail(err, CF_ERR_FORMAT, "Precompiled normalizer: precompiled_charsmap is %s", why.message);
        cf_status st = cf_precompiled_new(bytes, len, (cf_precompiled **)&out->precompiled, err);
        free(bytes);
        if (st != CF_OK)
            cf_error_prefix(err, "Precompiled normalizer: ");
        return st;
#else
        return cf_fail(err, CF_ERR_UNSUPPORTED, "the Precompiled normalizer is not available in this build");
#endif
    }
    return cf_fail(err, CF_ERR_UNSUPPORTED, "tokenizer.json: normalizer type \"%s\" is not supported", type);
}

void cf_normalizer_free(cf_normalizer *n)
{
    cf_json_sequence_free(n->items, n->n_items, sizeof *n->items, free_item);
    cf_regex_free(n->pattern);
    free(n->content);
#ifdef CF_HAVE_PRECOMPILED
    if (n->precompiled)
        cf_precompiled_free(n->precompiled);
#endif
    memset(n, 0, sizeof *n);
}
