/* Pre-tokenizers of tokenizer.json: split each not-yet-tokenized piece further. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory pre-tokenizing text"); }

/* Sequence items through the generic list parser. */
static cf_status parse_item(const cJSON *j, void *item, cf_error *err) { return cf_pretokenizer_parse(j, item, err); }
static void free_item(void *item) { cf_pretokenizer_free(item); }

/* ------------------------------------------------------------ byte-level alphabet */

static uint32_t byte_chars[256];
static int16_t char_bytes[324]; /* every alphabet char is below 324 */
static pthread_once_t alphabet_once = PTHREAD_ONCE_INIT;

static void build_alphabet(void)
{
    /* GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + k. */
    int k = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        byte_chars[b] = printable ? (uint32_t)b : (uint32_t)(256 + k++);
    }
    for (int c = 0; c < 324; c++)
        char_bytes[c] = -1;
    for (int b = 0; b < 256; b++)
        char_bytes[byte_chars[b]] = (int16_t)b;
}

uint32_t cf_byte_to_char(uint8_t b)
{
    pthread_once(&alphabet_once, build_alphabet);
    return byte_chars[b];
}

int cf_char_to_byte(uint32_t c)
{
    pthread_once(&alphabet_once, build_alphabet);
    return c < 324 ? char_bytes[c] : -1;
}

/* ------------------------------------------------------------ applying */

typedef cf_status (*split_fn)(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out, cf_matches *m,
                              cf_error *err);

/* PreTokenizedString::split: replace every untokenized split by the pieces fn makes of it. */
static cf_status split_each(const cf_pretokenizer *pt, cf_pretokenized *p, split_fn fn, cf_error *err)
{
    cf_pretokenized next = {p->original, p->original_len, NULL, 0, 0};
    cf_matches m = {0};
    cf_status st = CF_OK;
    for (size_t i = 0; i < p->n && st == CF_OK; i++) {
        cf_split *s = &p->v[i];
        if (s->tokenized) {
            if (next.n == next.cap) {
                size_t cap = next.cap ? next.cap * 2 : 16;
                cf_split *v = realloc(next.v, cap * sizeof *v);
                if (!v) {
                    st = oom(err);
                    break;
                }
                next.v = v;
                next.cap = cap;
            }
            next.v[next.n++] = *s;
            memset(s, 0, sizeof *s);
            continue;
        }
        st = fn(pt, &s->ns, &next, &m, err);
    }
    free(m.v);
    cf_pretokenized_free(p);
    *p = next;
    return st;
}

static cf_status by_char(cf_normalized *ns, bool (*pred)(uint32_t), cf_split_behavior b, cf_pretokenized *out,
                         cf_matches *m, cf_error *err)
{
    CF_TRY(cf_matches_by_char(ns->text, ns->len, pred, m, err));
    return cf_split_by_matches(ns, m, b, out, err);
}

static cf_status by_regex(cf_normalized *ns, const cf_regex *re, bool invert, cf_split_behavior b,
                          cf_pretokenized *out, cf_matches *m, cf_error *err)
{
    CF_TRY(cf_matches_by_regex(re, ns->text, ns->len, m, err));
    if (invert)
        for (size_t i = 0; i < m->n; i++)
            m->v[i].is_match = !m->v[i].is_match;
    return cf_split_by_matches(ns, m, b, out, err);
}

static bool is_ws(uint32_t c) { return cf_uc_is_whitespace(c); }
static bool is_punc(uint32_t c) { return cf_uc_is_punctuation(c); }
static bool is_num(uint32_t c) { return cf_uc_is_numeric(c); }

static cf_status split_whitespace_then_punct(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out,
                                             cf_matches *m, cf_error *err)
{
    (void)pt;
    cf_pretokenized words = {0};
    cf_status st = by_char(ns, is_ws, CF_SPLIT_REMOVED, &words, m, err);
    for (size_t i = 0; i < words.n && st == CF_OK; i++)
        st = by_char(&words.v[i].ns, is_punc, CF_SPLIT_ISOLATED, out, m, err);
    cf_pretokenized_free(&words);
    return st;
}

static cf_status split_whitespace(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out, cf_matches *m,
                                  cf_error *err)
{
    (void)pt;
    return by_char(ns, is_ws, CF_SPLIT_REMOVED, out, m, err);
}

static cf_status split_punct(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out, cf_matches *m,
                             cf_error *err)
{
    return by_char(ns, is_punc, pt->behavior, out, m, err);
}

static cf_status split_digits(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out, cf_matches *m,
                              cf_error *err)
{
    return by_char(ns, is_num, pt->individual_digits ? CF_SPLIT_ISOLATED : CF_SPLIT_CONTIGUOUS, out, m, err);
}

static cf_status split_regex(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out, cf_matches *m,
                             cf_error *err)
{
    return by_regex(ns, pt->regex, pt->invert, pt->behavior, out, m, err);
}

static cf_status split_whitespace_regex(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out,
                                        cf_matches *m, cf_error *err)
{
    /* Whitespace keeps the matches of \w+|[^\w\s]+ and drops the rest. */
    return by_regex(ns, pt->regex, true, CF_SPLIT_REMOVED, out, m, err);
}

static cf_status split_char_delimiter(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out,
                                      cf_matches *m, cf_error *err)
{
    return by_regex(ns, pt->regex, false, CF_SPLIT_REMOVED, out, m, err);
}

static cf_status split_metaspace(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out, cf_matches *m,
                                 cf_error *err)
{
    CF_TRY(cf_normalized_replace(ns, pt->regex, pt->replacement, err));
    size_t rlen = strlen(pt->replacement);
    bool starts = ns->len >= rlen && memcmp(ns->text, pt->replacement, rlen) == 0;
    if (!starts && (pt->prepend_scheme == CF_PREPEND_ALWAYS ||
                    (pt->prepend_scheme == CF_PREPEND_FIRST && ns->orig_start == 0)))
        CF_TRY(cf_normalized_prepend(ns, pt->replacement, err));
    if (!pt->split)
        return ns->len ? cf_pretokenized_push(out, ns, err) : CF_OK;
    /* Split on the replacement char, each piece starting with it (MergedWithNext). */
    m->n = 0;
    size_t last = 0;
    for (size_t i = 0; i + rlen <= ns->len;) {
        if (memcmp(ns->text + i, pt->replacement, rlen) == 0) {
            if ((last < i && !cf_matches_push(m, last, i, false)) || !cf_matches_push(m, i, i + rlen, true))
                return oom(err);
            i += rlen;
            last = i;
        } else {
            size_t n;
            cf_utf8_decode(ns->text + i, &n);
            i += n;
        }
    }
    if (last < ns->len && !cf_matches_push(m, last, ns->len, false))
        return oom(err);
    if (ns->len == 0 && !cf_matches_push(m, 0, 0, false))
        return oom(err);
    return cf_split_by_matches(ns, m, CF_SPLIT_MERGED_WITH_NEXT, out, err);
}

static cf_status split_byte_level(const cf_pretokenizer *pt, cf_normalized *ns, cf_pretokenized *out,
                                  cf_matches *m, cf_error *err)
{
    if (pt->add_prefix_space && ns->text[0] != ' ')
        CF_TRY(cf_normalized_prepend(ns, " ", err));
    size_t first = out->n;
    if (pt->use_regex) {
        CF_TRY(by_regex(ns, pt->regex, false, CF_SPLIT_ISOLATED, out, m, err));
    } else {
        if (ns->len)
            CF_TRY(cf_pretokenized_push(out, ns, err));
    }
    /* Map every byte to its alphabet char; the chars of one source char share its alignment. */
    cf_norm_changes ch = {0};
    cf_status st = CF_OK;
    for (size_t k = first; k < out->n && st == CF_OK; k++) {
        cf_normalized *piece = &out->v[k].ns;
        ch.n = 0;
        for (size_t i = 0; i < piece->len;) {
            size_t n;
            cf_utf8_decode(piece->text + i, &n);
            for (size_t b = 0; b < n; b++)
                if (!cf_norm_changes_push(&ch, cf_byte_to_char((uint8_t)piece->text[i + b]), b > 0)) {
                    st = oom(err);
                    break;
                }
            i += n;
        }
        if (st == CF_OK)
            st = cf_normalized_transform(piece, &ch, 0, err);
    }
    cf_norm_changes_free(&ch);
    return st;
}

cf_status cf_pretokenizer_apply(const cf_pretokenizer *pt, cf_pretokenized *p, cf_error *err)
{
    switch (pt->kind) {
    case CF_PRE_SEQUENCE:
        for (size_t i = 0; i < pt->n_items; i++)
            CF_TRY(cf_pretokenizer_apply(&pt->items[i], p, err));
        return CF_OK;
    case CF_PRE_BERT:
        return split_each(pt, p, split_whitespace_then_punct, err);
    case CF_PRE_BYTE_LEVEL:
        return split_each(pt, p, split_byte_level, err);
    case CF_PRE_METASPACE:
        return split_each(pt, p, split_metaspace, err);
    case CF_PRE_WHITESPACE:
        return split_each(pt, p, split_whitespace_regex, err);
    case CF_PRE_WHITESPACE_SPLIT:
        return split_each(pt, p, split_whitespace, err);
    case CF_PRE_PUNCTUATION:
        return split_each(pt, p, split_punct, err);
    case CF_PRE_DIGITS:
        return split_each(pt, p, split_digits, err);
    case CF_PRE_SPLIT:
        return split_each(pt, p, split_regex, err);
    case CF_PRE_CHAR_DELIMITER:
        return split_each(pt, p, split_char_delimiter, err);
    }
    return cf_fail(err, CF_ERR_INTERNAL, "unknown pre-tokenizer kind %d", (int)pt->kind);
}

/* ------------------------------------------------------------ parsing */

static const char *GPT2_PATTERN =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

cf_status cf_parse_behavior(const cJSON *j, const char *where, cf_split_behavior *out, cf_error *err)
{
    const char *b = NULL;
    CF_TRY(cf_json_string(j, "behavior", where, &b, err));
    if (!b)
        return CF_OK;
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(b, names[i])) {
            *out = (cf_split_behavior)i;
            return CF_OK;
        }
    return cf_fail(err, CF_ERR_FORMAT, "%s: unknown split behavior \"%s\"", where, b);
}

static cf_status parse_one_char(const cJSON *j, const char *key, const char *where, char out[8], cf_error *err)
{
    const char *s = NULL;
    CF_TRY(cf_json_string(j, key, where, &s, err));
    if (!s)
        return CF_OK;
    size_t n = 0;
    if (*s)
        cf_utf8_decode(s, &n);
    if (!*s || s[n] != '\0')
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be exactly one character, got \"%s\"", where, key, s);
    memcpy(out, s, n);
    out[n] = '\0';
    return CF_OK;
}

cf_status cf_parse_prepend_scheme(const cJSON *j, const char *where, cf_prepend_scheme *scheme, cf_error *err)
{
    const char *s = NULL;
    CF_TRY(cf_json_string(j, "prepend_scheme", where, &s, err));
    if (s) {
        if (!strcmp(s, "always"))
            *scheme = CF_PREPEND_ALWAYS;
        else if (!strcmp(s, "first"))
            *scheme = CF_PREPEND_FIRST;
        else if (!strcmp(s, "never"))
            *scheme = CF_PREPEND_NEVER;
        else
            return cf_fail(err, CF_ERR_FORMAT, "%s: unknown prepend_scheme \"%s\"", where, s);
        return CF_OK;
    }
    bool add = true; /* older files: add_prefix_space */
    CF_TRY(cf_json_bool(j, "add_prefix_space", where, &add, err));
    *scheme = add ? CF_PREPEND_ALWAYS : CF_PREPEND_NEVER;
    return CF_OK;
}

cf_status cf_pretokenizer_parse(const cJSON *j, cf_pretokenizer *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    const char *type;
    CF_TRY(cf_json_type(j, "tokenizer.json pre_tokenizer", &type, err));
    const char *w = type;
    if (!strcmp(type, "Sequence")) {
        out->kind = CF_PRE_SEQUENCE;
        return cf_json_sequence_parse(j, "pretokenizers", w, sizeof *out->items, parse_item, (void **)&out->items,
                                      &out->n_items, err);
    }
    if (!strcmp(type, "BertPreTokenizer")) {
        out->kind = CF_PRE_BERT;
        return CF_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        out->kind = CF_PRE_BYTE_LEVEL;
        out->add_prefix_space = true;
        out->use_regex = true;
        CF_TRY(cf_json_bool(j, "add_prefix_space", w, &out->add_prefix_space, err));
        CF_TRY(cf_json_bool(j, "use_regex", w, &out->use_regex, err));
        return cf_regex_new(GPT2_PATTERN, false, &out->regex, err);
    }
    if (!strcmp(type, "Metaspace")) {
        out->kind = CF_PRE_METASPACE;
        strcpy(out->replacement, "\xe2\x96\x81");
        out->split = true;
        CF_TRY(parse_one_char(j, "replacement", w, out->replacement, err));
        CF_TRY(cf_json_bool(j, "split", w, &out->split, err));
        CF_TRY(cf_parse_prepend_scheme(j, w, &out->prepend_scheme, err));
        return cf_regex_new(" ", true, &out->regex, err);
    }
    if (!strcmp(type, "Whitespace")) {
        out->kind = CF_PRE_WHITESPACE;
        return cf_regex_new("\\w+|[^\\w\\s]+", false, &out->regex, err);
    }
    if (!strcmp(type, "WhitespaceSplit")) {
        out->kind = CF_PRE_WHITESPACE_SPLIT;
        return CF_OK;
    }
    if (!strcmp(type, "Punctuation")) {
        out->kind = CF_PRE_PUNCTUATION;
        out->behavior = CF_SPLIT_ISOLATED;
        return cf_parse_behavior(j, w, &out->behavior, err);
    }
    if (!strcmp(type, "Digits")) {
        out->kind = CF_PRE_DIGITS;
        return cf_json_bool(j, "individual_digits", w, &out->individual_digits, err);
    }
    if (!strcmp(type, "Split")) {
        out->kind = CF_PRE_SPLIT;
        out->behavior = CF_SPLIT_REMOVED;
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        if (!pat)
            return cf_fail(err, CF_ERR_FORMAT, "Split pre-tokenizer needs a \"pattern\"");
        CF_TRY(cf_parse_behavior(j, w, &out->behavior, err));
        CF_TRY(cf_json_bool(j, "invert", w, &out->invert, err));
        return cf_parse_pattern(pat, "Split pre-tokenizer", &out->regex, err);
    }
    if (!strcmp(type, "CharDelimiterSplit")) {
        out->kind = CF_PRE_CHAR_DELIMITER;
        CF_TRY(parse_one_char(j, "delimiter", w, out->replacement, err));
        if (!out->replacement[0])
            return cf_fail(err, CF_ERR_FORMAT, "CharDelimiterSplit needs a \"delimiter\"");
        return cf_regex_new(out->replacement, true, &out->regex, err);
    }
    return cf_fail(err, CF_ERR_UNSUPPORTED, "tokenizer.json: pre_tokenizer type \"%s\" is not supported", type);
}

void cf_pretokenizer_free(cf_pretokenizer *pt)
{
    cf_json_sequence_free(pt->items, pt->n_items, sizeof *pt->items, free_item);
    cf_regex_free(pt->regex);
    memset(pt, 0, sizeof *pt);
}
