/* Decoders of tokenizer.json: each rewrites the list of token strings (decode_chain); the
 * tokenizer joins what is left. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory decoding"); }

/* Sequence items through the generic list parser. */
static cf_status parse_item(const cJSON *j, void *item, cf_error *err) { return cf_decoder_parse(j, item, err); }
static void free_item(void *item) { cf_decoder_free(item); }

/* Replace every occurrence of `from` in s by `to`; returns a new string. */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    cf_buf b = {0};
    if (!cf_buf_reserve(&b, strlen(s)))
        return NULL;
    const char *p = s;
    while (fl) {
        const char *q = strstr(p, from);
        if (!q)
            break;
        if (!cf_buf_append(&b, p, (size_t)(q - p)) || !cf_buf_append(&b, to, tl)) {
            cf_buf_free(&b);
            return NULL;
        }
        p = q + fl;
    }
    if (!cf_buf_puts(&b, p)) {
        cf_buf_free(&b);
        return NULL;
    }
    return cf_buf_steal(&b);
}

static bool set_token(char **slot, char *value)
{
    if (!value)
        return false;
    free(*slot);
    *slot = value;
    return true;
}

/* The tokenizers WordPiece decoder's cleanup, applied to each token; the slow (Python)
 * tokenizers' clean_up_tokenization is the same without the " do not" rule. */
static char *cleanup_rules(const char *s, bool python)
{
    static const char *pairs[][2] = {{" .", "."},      {" ?", "?"},   {" !", "!"},   {" ,", ","},
                                     {" ' ", "'"},     {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"},
                                     {" 's", "'s"},    {" 've", "'ve"}, {" 're", "'re"}};
    char *cur = strdup(s);
    for (size_t i = 0; cur && i < sizeof pairs / sizeof *pairs; i++) {
        if (python && !strcmp(pairs[i][0], " do not"))
            continue;
        char *next = replace_all(cur, pairs[i][0], pairs[i][1]);
        free(cur);
        cur = next;
    }
    return cur;
}

static char *cleanup(const char *s) { return cleanup_rules(s, false); }
static char *python_cleanup(const char *s) { return cleanup_rules(s, true); }

/* Rust's String::from_utf8_lossy: each maximal invalid sequence becomes one U+FFFD. */
static char *utf8_lossy(const char *s, size_t len)
{
    cf_buf b = {0};
    if (!cf_buf_reserve(&b, len))
        return NULL;
    size_t i = 0;
    while (i < len) {
        size_t bad = cf_utf8_invalid_at(s + i, len - i);
        if (!cf_buf_append(&b, s + i, bad))
            goto fail;
        i += bad;
        if (i >= len)
            break;
        /* Length of the longest prefix of a valid sequence at i (at least one byte). */
        const unsigned char *u = (const unsigned char *)s + i;
        size_t need = u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : u[0] >= 0xC2 ? 2 : 1;
        size_t k = 1;
        if (need > 1 && u[0] <= 0xF4) {
            for (; k < need && i + k < len; k++) {
                unsigned char lo = 0x80, hi = 0xBF;
                if (k == 1) {
                    if (u[0] == 0xE0)
                        lo = 0xA0;
                    else if (u[0] == 0xED)
                        hi = 0x9F;
                    else if (u[0] == 0xF0)
                        lo = 0x90;
                    else if (u[0] == 0xF4)
                        hi = 0x8F;
                }
                if (u[k] < lo || u[k] > hi)
                    break;
            }
        }
        if (!cf_buf_puts(&b, "\xEF\xBF\xBD"))
            goto fail;
        i += k;
    }
    if (!b.data && !cf_buf_puts(&b, ""))
        return NULL;
    return cf_buf_steal(&b);
fail:
    cf_buf_free(&b);
    return NULL;
}

static void free_tokens(char **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i]);
}

/* Python's str.strip(): the text without leading and trailing whitespace, newly allocated. */
static char *strip_whitespace(const char *s)
{
    size_t len = strlen(s), a = 0, b = len, l;
    while (a < len && cf_uc_is_whitespace(cf_utf8_decode(s + a, &l)))
        a += l;
    while (b > a) {
        size_t k = b - 1;
        while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (!cf_uc_is_whitespace(cf_utf8_decode(s + k, &l)))
            break;
        b = k;
    }
    return strndup(s + a, b - a);
}

static cf_status decode_byte_level(char ***tokens, size_t *n, cf_error *err)
{
    cf_buf bytes = {0};
    for (size_t i = 0; i < *n; i++) {
        const char *t = (*tokens)[i];
        size_t len = strlen(t), start = bytes.len;
        bool all = true;
        for (size_t k = 0; k < len && all;) {
            size_t cl;
            int b = cf_char_to_byte(cf_utf8_decode(t + k, &cl));
            k += cl;
            if (b < 0) {
                all = false;
                break;
            }
            unsigned char byte = (unsigned char)b;
            if (!cf_buf_append(&bytes, &byte, 1)) {
                cf_buf_free(&bytes);
                return oom(err);
            }
        }
        if (!all) { /* not byte-level text: keep its raw bytes */
            bytes.len = start;
            if (!cf_buf_append(&bytes, t, len)) {
                cf_buf_free(&bytes);
                return oom(err);
            }
        }
    }
    char *s = utf8_lossy(bytes.data ? bytes.data : "", bytes.len);
    cf_buf_free(&bytes);
    if (!s)
        return oom(err);
    free_tokens(*tokens, *n);
    (*tokens)[0] = s;
    *n = 1;
    return CF_OK;
}

/* A run of byte tokens as text, as sentencepiece decodes byte pieces (and as the Python pipelines
 * print them): every valid UTF-8 character is kept and each byte that starts no valid character
 * becomes U+FFFD. (The Rust decoder replaces the whole run when any byte is invalid; the two agree
 * whenever the run is valid or entirely invalid.) */
static char *bytes_to_text(const char *bytes, size_t len)
{
    cf_buf text = {0};
    size_t at = 0;
    while (at < len) {
        size_t bad = at + cf_utf8_invalid_at(bytes + at, len - at);
        if (!cf_buf_append(&text, bytes + at, bad - at) || (bad < len && !cf_buf_puts(&text, "\xEF\xBF\xBD"))) {
            cf_buf_free(&text);
            return NULL;
        }
        at = bad < len ? bad + 1 : len;
    }
    return cf_buf_steal(&text);
}

static cf_status decode_byte_fallback(char ***tokens, size_t *n, cf_error *err)
{
    char **out = calloc(*n ? *n : 1, sizeof *out);
    if (!out)
        return oom(err);
    size_t w = 0;
    cf_buf pending = {0};
    size_t n_pending = 0;
    cf_status st = CF_OK;
    for (size_t i = 0; i <= *n && st == CF_OK; i++) {
        const char *t = i < *n ? (*tokens)[i] : NULL;
        int byte = -1;
        if (t && strlen(t) == 6 && !strncmp(t, "<0x", 3) && t[5] == '>') {
            char hex[3] = {t[3], t[4], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0' && hex[0] != '-' && hex[0] != '+' && hex[0] != ' ')
                byte = (int)v;
        }
        if (byte >= 0) {
            unsigned char b = (unsigned char)byte;
            if (!cf_buf_append(&pending, &b, 1))
                st = oom(err);
            n_pending++;
            continue;
        }
        if (n_pending) {
            if (!(out[w++] = bytes_to_text(pending.data, pending.len)))
                st = oom(err);
            cf_buf_clear(&pending);
            n_pending = 0;
        }
        if (t && st == CF_OK && !(out[w++] = strdup(t)))
            st = oom(err);
    }
    cf_buf_free(&pending);
    free_tokens(*tokens, *n);
    free(*tokens);
    *tokens = out;
    *n = w;
    return st;
}

static char *strip_token(const char *t, uint32_t content, size_t start, size_t stop)
{
    size_t len = strlen(t), nchars = 0;
    for (size_t k = 0; k < len; nchars++) {
        size_t cl;
        cf_utf8_decode(t + k, &cl);
        k += cl;
    }
    /* byte position of each char boundary */
    size_t *pos = malloc((nchars + 1) * sizeof *pos);
    uint32_t *cp = malloc((nchars + 1) * sizeof *cp);
    if (!pos || !cp) {
        free(pos);
        free(cp);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < nchars; i++) {
        size_t cl;
        pos[i] = k;
        cp[i] = cf_utf8_decode(t + k, &cl);
        k += cl;
    }
    pos[nchars] = len;
    size_t a = 0, b = nchars;
    for (size_t i = 0; i < start && i < nchars && cp[i] == content; i++)
        a = i + 1;
    for (size_t i = 0; i < stop && i < nchars; i++) {
        size_t idx = nchars - i - 1;
        if (cp[idx] != content)
            break;
        b = idx;
    }
    char *r = b > a ? strndup(t + pos[a], pos[b] - pos[a]) : strdup("");
    free(pos);
    free(cp);
    return r;
}

static cf_status decode_chain(const cf_decoder *d, char ***tokens, size_t *n, cf_error *err);

static bool is_special(const cf_decoder *d, const char *t)
{
    for (size_t i = 0; i < d->n_specials; i++)
        if (!strcmp(d->specials[i], t))
            return true;
    return false;
}

/* The run t[0, n) through the inner decoder, appended to b (the run's strings are consumed). */
static cf_status append_run(const cf_decoder *inner, char **t, size_t n, cf_buf *b, cf_error *err)
{
    char **run = malloc((n ? n : 1) * sizeof *run);
    if (!run)
        return oom(err);
    memcpy(run, t, n * sizeof *run);
    for (size_t i = 0; i < n; i++)
        t[i] = NULL;
    cf_status st = n ? decode_chain(inner, &run, &n, err) : CF_OK;
    for (size_t i = 0; i < n && st == CF_OK; i++)
        if (!cf_buf_puts(b, run[i]))
            st = oom(err);
    free_tokens(run, n);
    free(run);
    return st;
}

/* Python's str.lower() of s (the full mapping), newly allocated. */
static char *lower_text(const char *s)
{
    cf_buf b = {0};
    if (!cf_buf_reserve(&b, strlen(s) + 1))
        return NULL;
    for (size_t i = 0, l; s[i]; i += l) {
        uint32_t low[3];
        int k = cf_uc_lower(cf_utf8_decode(s + i, &l), low);
        for (int j = 0; j < k; j++) {
            char u[4];
            if (!cf_buf_append(&b, u, cf_utf8_encode(low[j], u))) {
                cf_buf_free(&b);
                return NULL;
            }
        }
    }
    if (!cf_buf_puts(&b, "")) {
        cf_buf_free(&b);
        return NULL;
    }
    return cf_buf_steal(&b);
}

/* The end of a slow tokenizer's decode: the n tokens t are freed and the text joined in b
 * (when `joined` is CF_OK) is stripped, lowercased and cleaned up as asked, and left as the
 * only token. */
static cf_status replace_with_text(char **t, size_t *n, cf_buf *b, cf_status joined, bool lowercase, bool cleanup,
                                  cf_error *err)
{
    free_tokens(t, *n);
    *n = 0;
    if (joined != CF_OK) {
        cf_buf_free(b);
        return joined;
    }
    char *text = cf_buf_steal(b);
    char *v = strip_whitespace(text);
    free(text);
    if (v && lowercase) {
        char *low = lower_text(v);
        free(v);
        v = low;
    }
    if (v && cleanup) {
        char *c = python_cleanup(v);
        free(v);
        v = c;
    }
    if (!v)
        return oom(err);
    t[0] = v;
    *n = 1;
    return CF_OK;
}

/* The slow sentencepiece tokenizers' (MarianTokenizer) convert_tokens_to_string: each run
 * between special tokens is decoded on its own, every special token is followed by a
 * space, the whole is stripped, then optionally cleaned up. Leaves one string. */
static cf_status decode_special_runs(const cf_decoder *d, char ***tokens, size_t *n, cf_error *err)
{
    char **t = *tokens;
    cf_buf b = {0};
    cf_status st = cf_buf_puts(&b, "") ? CF_OK : oom(err);
    size_t run_start = 0;
    for (size_t i = 0; i <= *n && st == CF_OK; i++) {
        if (i < *n && !is_special(d, t[i]))
            continue;
        st = append_run(&d->items[0], t + run_start, i - run_start, &b, err);
        if (st == CF_OK && i < *n && (!cf_buf_puts(&b, t[i]) || !cf_buf_puts(&b, " ")))
            st = oom(err);
        run_start = i + 1;
    }
    return replace_with_text(t, n, &b, st, false, d->cleanup, err);
}

/* Wav2Vec2CTCTokenizer.convert_tokens_to_string + _decode: group repeated tokens, drop the
 * blank (pad) token, the word delimiter becomes replace_char, join, strip, lowercase when
 * do_lower_case, clean up. Leaves one string. */
static cf_status decode_ctc_slow(const cf_decoder *d, char ***tokens, size_t *n, cf_error *err)
{
    char **t = *tokens;
    cf_buf b = {0};
    bool ok = cf_buf_puts(&b, "");
    for (size_t i = 0; i < *n && ok; i++) {
        if ((i > 0 && !strcmp(t[i], t[i - 1])) || !strcmp(t[i], d->content))
            continue;
        ok = cf_buf_puts(&b, !strcmp(t[i], d->word_delimiter) ? d->replace_char : t[i]);
    }
    return replace_with_text(t, n, &b, ok ? CF_OK : oom(err), d->lowercase, d->cleanup, err);
}

static cf_status decode_chain(const cf_decoder *d, char ***tokens, size_t *n, cf_error *err)
{
    char **t = *tokens;
    switch (d->kind) {
    case CF_DEC_SEQUENCE:
        for (size_t i = 0; i < d->n_items; i++)
            CF_TRY(decode_chain(&d->items[i], tokens, n, err));
        return CF_OK;
    case CF_DEC_BYTE_LEVEL:
        return *n ? decode_byte_level(tokens, n, err) : CF_OK;
    case CF_DEC_BYTE_FALLBACK:
        return decode_byte_fallback(tokens, n, err);
    case CF_DEC_WORDPIECE: {
        size_t pl = strlen(d->prefix);
        for (size_t i = 0; i < *n; i++) {
            if (i != 0) {
                char *v;
                if (pl && !strncmp(t[i], d->prefix, pl))
                    v = strdup(t[i] + pl);
                else if ((v = malloc(strlen(t[i]) + 2)))
                    v[0] = ' ', strcpy(v + 1, t[i]);
                if (!set_token(&t[i], v))
                    return oom(err);
            }
            if (d->cleanup && !set_token(&t[i], cleanup(t[i])))
                return oom(err);
        }
        return CF_OK;
    }
    case CF_DEC_METASPACE: {
        size_t rl = strlen(d->replacement);
        for (size_t i = 0; i < *n; i++) {
            bool drop = i == 0 && d->prepend_scheme != CF_PREPEND_NEVER;
            char *v = replace_all(t[i], d->replacement, drop ? "" : " ");
            (void)rl;
            if (!set_token(&t[i], v))
                return oom(err);
        }
        return CF_OK;
    }
    case CF_DEC_FUSE: {
        if (*n == 0)
            return CF_OK;
        cf_buf b = {0};
        for (size_t i = 0; i < *n; i++)
            if (!cf_buf_puts(&b, t[i])) {
                cf_buf_free(&b);
                return oom(err);
            }
        if (!b.data && !cf_buf_puts(&b, ""))
            return oom(err);
        free_tokens(t, *n);
        t[0] = cf_buf_steal(&b);
        *n = 1;
        return CF_OK;
    }
    case CF_DEC_STRIP: {
        size_t cl;
        uint32_t c = cf_utf8_decode(d->content, &cl);
        for (size_t i = 0; i < *n; i++)
            if (!set_token(&t[i], strip_token(t[i], c, (size_t)d->start, (size_t)d->stop)))
                return oom(err);
        return CF_OK;
    }
    case CF_DEC_REPLACE: {
        for (size_t i = 0; i < *n; i++) {
            cf_normalized ns;
            CF_TRY(cf_normalized_init(&ns, t[i], 0, strlen(t[i]), err));
            cf_status st = cf_normalized_replace(&ns, d->pattern, d->content, err);
            if (st != CF_OK) {
                cf_normalized_free(&ns);
                return st;
            }
            char *v = strndup(ns.text ? ns.text : "", ns.len);
            cf_normalized_free(&ns);
            if (!set_token(&t[i], v))
                return oom(err);
        }
        return CF_OK;
    }
    case CF_DEC_CTC: {
        /* Collapse repeats, drop the pad token, turn the word delimiter into spaces. */
        size_t w = 0;
        char *prev = NULL;
        cf_status st = CF_OK;
        for (size_t i = 0; i < *n; i++) {
            if (prev && !strcmp(t[i], prev)) {
                free(t[i]);
                t[i] = NULL;
                continue;
            }
            free(prev);
            prev = t[i];
            t[i] = NULL;
            if (st != CF_OK)
                continue;
            char *v = replace_all(prev, d->content, "");
            if (v && d->cleanup) {
                char *c2 = cleanup(v);
                free(v);
                v = c2 ? replace_all(c2, d->word_delimiter, " ") : NULL;
                free(c2);
            }
            if (!v)
                st = oom(err);
            else if (!*v)
                free(v);
            else
                t[w++] = v;
        }
        free(prev);
        *n = w;
        return st;
    }
    case CF_DEC_SPECIAL_RUNS:
        return decode_special_runs(d, tokens, n, err);
    case CF_DEC_CTC_SLOW:
        return decode_ctc_slow(d, tokens, n, err);
    case CF_DEC_BPE: {
        for (size_t i = 0; i < *n; i++)
            if (!set_token(&t[i], replace_all(t[i], d->content, i + 1 == *n ? "" : " ")))
                return oom(err);
        return CF_OK;
    }
    }
    return cf_fail(err, CF_ERR_INTERNAL, "unknown decoder kind");
}

cf_status cf_decoder_apply(const cf_decoder *d, char ***tokens, size_t *n, cf_error *err)
{
    return decode_chain(d, tokens, n, err);
}

cf_status cf_decoder_parse(const cJSON *j, cf_decoder *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    const char *type;
    CF_TRY(cf_json_type(j, "tokenizer.json decoder", &type, err));
    const char *w = type;
    if (!strcmp(type, "Sequence")) {
        out->kind = CF_DEC_SEQUENCE;
        return cf_json_sequence_parse(j, "decoders", w, sizeof *out->items, parse_item, (void **)&out->items,
                                      &out->n_items, err);
    }
    if (!strcmp(type, "WordPiece")) {
        out->kind = CF_DEC_WORDPIECE;
        const char *prefix = "##";
        out->cleanup = true;
        CF_TRY(cf_json_string(j, "prefix", w, &prefix, err));
        CF_TRY(cf_json_bool(j, "cleanup", w, &out->cleanup, err));
        return (out->prefix = strdup(prefix)) ? CF_OK : oom(err);
    }
    if (!strcmp(type, "ByteLevel")) {
        out->kind = CF_DEC_BYTE_LEVEL;
        return CF_OK;
    }
    if (!strcmp(type, "ByteFallback")) {
        out->kind = CF_DEC_BYTE_FALLBACK;
        return CF_OK;
    }
    if (!strcmp(type, "Fuse")) {
        out->kind = CF_DEC_FUSE;
        return CF_OK;
    }
    if (!strcmp(type, "Metaspace")) {
        out->kind = CF_DEC_METASPACE;
        const char *r = "\xe2\x96\x81";
        CF_TRY(cf_json_string(j, "replacement", w, &r, err));
        if (strlen(r) >= sizeof out->replacement || !*r)
            return cf_fail(err, CF_ERR_FORMAT, "Metaspace decoder: bad replacement \"%s\"", r);
        strcpy(out->replacement, r);
        return cf_parse_prepend_scheme(j, w, &out->prepend_scheme, err);
    }
    if (!strcmp(type, "Strip")) {
        out->kind = CF_DEC_STRIP;
        const char *c = NULL;
        CF_TRY(cf_json_string(j, "content", w, &c, err));
        CF_TRY(cf_json_int(j, "start", w, &out->start, err));
        CF_TRY(cf_json_int(j, "stop", w, &out->stop, err));
        if (!c || !*c || out->start < 0 || out->stop < 0)
            return cf_fail(err, CF_ERR_FORMAT, "Strip decoder needs a \"content\" char and non-negative start/stop");
        return (out->content = strdup(c)) ? CF_OK : oom(err);
    }
    if (!strcmp(type, "Replace")) {
        out->kind = CF_DEC_REPLACE;
        const char *c = NULL;
        CF_TRY(cf_json_string(j, "content", w, &c, err));
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pattern");
        if (!c || !pat)
            return cf_fail(err, CF_ERR_FORMAT, "Replace decoder needs \"pattern\" and \"content\"");
        if (!(out->content = strdup(c)))
            return oom(err);
        return cf_parse_pattern(pat, "Replace decoder", &out->pattern, err);
    }
    if (!strcmp(type, "CTC")) {
        out->kind = CF_DEC_CTC;
        const char *pad = "<pad>", *delim = "|";
        out->cleanup = true;
        CF_TRY(cf_json_string(j, "pad_token", w, &pad, err));
        CF_TRY(cf_json_string(j, "word_delimiter_token", w, &delim, err));
        CF_TRY(cf_json_bool(j, "cleanup", w, &out->cleanup, err));
        out->content = strdup(pad);
        out->word_delimiter = strdup(delim);
        return out->content && out->word_delimiter ? CF_OK : oom(err);
    }
    if (!strcmp(type, "Wav2Vec2CTC")) {
        /* Written only by the Wav2Vec2 legacy converter: see decode_ctc_slow. */
        out->kind = CF_DEC_CTC_SLOW;
        const char *pad = "<pad>", *delim = "|", *rc = " ";
        CF_TRY(cf_json_string(j, "pad_token", w, &pad, err));
        CF_TRY(cf_json_string(j, "word_delimiter_token", w, &delim, err));
        CF_TRY(cf_json_string(j, "replace_word_delimiter_char", w, &rc, err));
        CF_TRY(cf_json_bool(j, "do_lower_case", w, &out->lowercase, err));
        CF_TRY(cf_json_bool(j, "cleanup", w, &out->cleanup, err));
        out->content = strdup(pad);
        out->word_delimiter = strdup(delim);
        out->replace_char = strdup(rc);
        return out->content && out->word_delimiter && out->replace_char ? CF_OK : oom(err);
    }
    if (!strcmp(type, "SentencePieceRuns")) {
        /* Written only by the sentencepiece converter (Marian): see decode_special_runs. */
        out->kind = CF_DEC_SPECIAL_RUNS;
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(j, "decoder"), *arr = NULL;
        CF_TRY(cf_json_array(j, "special_tokens", w, &arr, err));
        CF_TRY(cf_json_bool(j, "cleanup", w, &out->cleanup, err));
        if (!cJSON_IsObject(inner))
            return cf_fail(err, CF_ERR_FORMAT, "SentencePieceRuns decoder needs a \"decoder\" object");
        if (!(out->items = calloc(1, sizeof *out->items)))
            return oom(err);
        out->n_items = 1;
        CF_TRY(cf_decoder_parse(inner, &out->items[0], err));
        size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 0;
        if (!(out->specials = calloc(n ? n : 1, sizeof *out->specials)))
            return oom(err);
        const cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            if (!cJSON_IsString(it))
                return cf_fail(err, CF_ERR_FORMAT, "SentencePieceRuns decoder: special_tokens must be strings");
            if (!(out->specials[out->n_specials++] = strdup(it->valuestring)))
                return oom(err);
        }
        return CF_OK;
    }
    if (!strcmp(type, "BPEDecoder")) {
        out->kind = CF_DEC_BPE;
        const char *suffix = "</w>";
        CF_TRY(cf_json_string(j, "suffix", w, &suffix, err));
        return (out->content = strdup(suffix)) ? CF_OK : oom(err);
    }
    return cf_fail(err, CF_ERR_UNSUPPORTED, "tokenizer.json: decoder type \"%s\" is not supported", type);
}

void cf_decoder_free(cf_decoder *d)
{
    cf_json_sequence_free(d->items, d->n_items, sizeof *d->items, free_item);
    free(d->prefix);
    free(d->content);
    free(d->word_delimiter);
    free(d->replace_char);
    for (size_t i = 0; i < d->n_specials; i++)
        free(d->specials[i]);
    free(d->specials);
    cf_regex_free(d->pattern);
    memset(d, 0, sizeof *d);
}
