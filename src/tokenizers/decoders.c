/* Decoders of tokenizer.json: each rewrites the list of token strings (decode_chain); the
 * tokenizer joins what is left. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory decoding"); }

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

/* The tokenizers WordPiece decoder's cleanup, applied to each token. */
static char *cleanup(const char *s)
{
    static const char *pairs[][2] = {{" .", "."},      {" ?", "?"},   {" !", "!"},   {" ,", ","},
                                     {" ' ", "'"},     {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"},
                                     {" 's", "'s"},    {" 've", "'ve"}, {" 're", "'re"}};
    char *cur = strdup(s);
    for (size_t i = 0; cur && i < sizeof pairs / sizeof *pairs; i++) {
        char *next = replace_all(cur, pairs[i][0], pairs[i][1]);
        free(cur);
        cur = next;
    }
    return cur;
}

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
            if (cf_utf8_invalid_at(pending.data, pending.len) == pending.len) {
                if (!(out[w++] = strdup(pending.data)))
                    st = oom(err);
            } else { /* one replacement char per byte token */
                for (size_t k = 0; k < n_pending && st == CF_OK; k++)
                    if (!(out[w++] = strdup("\xEF\xBF\xBD")))
                        st = oom(err);
            }
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
        const cJSON *arr = NULL;
        CF_TRY(cf_json_array(j, "decoders", w, &arr, err));
        size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 0;
        out->items = calloc(n ? n : 1, sizeof *out->items);
        if (!out->items)
            return oom(err);
        const cJSON *it;
        cJSON_ArrayForEach(it, arr)
        {
            CF_TRY(cf_decoder_parse(it, &out->items[out->n_items], err));
            out->n_items++;
        }
        return CF_OK;
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
    for (size_t i = 0; i < d->n_items; i++)
        cf_decoder_free(&d->items[i]);
    free(d->items);
    free(d->prefix);
    free(d->content);
    free(d->word_delimiter);
    cf_regex_free(d->pattern);
    memset(d, 0, sizeof *d);
}
