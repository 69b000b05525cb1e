/* Small shared pieces of the tokenizer layer: typed JSON access, Unicode classes with the
 * Rust standard library's semantics, and PCRE2 regexes. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizers/tokenizer_internal.h"

/* ------------------------------------------------------------ JSON */

cf_status cf_json_string(const cJSON *obj, const char *key, const char *where, const char **out, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsString(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be a string", where, key);
    *out = v->valuestring;
    return CF_OK;
}

cf_status cf_json_bool(const cJSON *obj, const char *key, const char *where, bool *out, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsBool(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be true or false", where, key);
    *out = cJSON_IsTrue(v);
    return CF_OK;
}

cf_status cf_json_int(const cJSON *obj, const char *key, const char *where, int64_t *out, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble || v->valuedouble < -9e15 ||
        v->valuedouble > 9e15)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be an integer", where, key);
    *out = (int64_t)v->valuedouble;
    return CF_OK;
}

cf_status cf_json_array(const cJSON *obj, const char *key, const char *where, const cJSON **out, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsArray(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be an array", where, key);
    *out = v;
    return CF_OK;
}

const char *cf_json_token_text(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

cf_status cf_json_type(const cJSON *obj, const char *where, const char **type, cf_error *err)
{
    if (!cJSON_IsObject(obj))
        return cf_fail(err, CF_ERR_FORMAT, "%s must be an object", where);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(t))
        return cf_fail(err, CF_ERR_FORMAT, "%s has no \"type\" string", where);
    *type = t->valuestring;
    return CF_OK;
}

cf_status cf_json_sequence_parse(const cJSON *obj, const char *key, const char *where, size_t item_size,
                                 cf_json_item_parse parse, void **items, size_t *n_items, cf_error *err)
{
    const cJSON *arr = NULL;
    CF_TRY(cf_json_array(obj, key, where, &arr, err));
    size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 0;
    unsigned char *v = calloc(n ? n : 1, item_size);
    if (!v)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory reading \"%s\"", where, key);
    *items = v;
    *n_items = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        /* counted first: a half-parsed item is freed with the rest */
        CF_TRY(parse(it, v + item_size * (*n_items)++, err));
    }
    return CF_OK;
}

void cf_json_sequence_free(void *items, size_t n_items, size_t item_size, cf_json_item_free free_item)
{
    for (size_t i = 0; i < n_items; i++)
        free_item((unsigned char *)items + item_size * i);
    free(items);
}

/* ------------------------------------------------------------ Unicode */

bool cf_uc_is_whitespace(uint32_t c)
{
    if ((c >= 9 && c <= 13) || c == 32)
        return true;
    if (c < 0x85)
        return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static utf8proc_category_t category(uint32_t c) { return utf8proc_category((utf8proc_int32_t)c); }

bool cf_uc_is_alphanumeric(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    utf8proc_category_t k = category(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) ||
           (k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO);
}

bool cf_uc_is_numeric(uint32_t c)
{
    if (c < 0x80)
        return c >= '0' && c <= '9';
    utf8proc_category_t k = category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

bool cf_uc_is_punctuation(uint32_t c)
{
    if (c < 0x80)
        return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    utf8proc_category_t k = category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool cf_uc_is_control(uint32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r')
        return false;
    utf8proc_category_t k = category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CN ||
           k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CS;
}

bool cf_uc_is_mark_nonspacing(uint32_t c) { return c >= 0x300 && category(c) == UTF8PROC_CATEGORY_MN; }

bool cf_uc_is_cjk(uint32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void cf_uc_edge_runs(const char *s, size_t len, bool (*pred)(uint32_t), size_t *nchars, size_t *lead,
                     size_t *trail)
{
    bool in_lead = true;
    *nchars = *lead = *trail = 0;
    for (size_t i = 0; i < len;) {
        size_t n;
        bool match = pred(cf_utf8_decode(s + i, &n));
        i += n;
        ++*nchars;
        if (in_lead && match)
            ++*lead;
        else
            in_lead = false;
        *trail = match ? *trail + 1 : 0;
    }
}

int cf_uc_lower(uint32_t c, uint32_t out[3])
{
    if (c < 0x80) {
        out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        return 1;
    }
    if (c == 0x130) { /* the one unconditional multi-char lowercase mapping */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

int cf_uc_upper(uint32_t c, uint32_t out[3])
{
    if (c < 0x80) {
        out[0] = (c >= 'a' && c <= 'z') ? c - 32 : c;
        return 1;
    }
    out[0] = (uint32_t)utf8proc_toupper((utf8proc_int32_t)c);
    return 1;
}

/* ------------------------------------------------------------ regex */

struct cf_regex {
    pcre2_code *code;
};

cf_status cf_regex_new(const char *pattern, bool literal, cf_regex **out, cf_error *err)
{
    int code;
    PCRE2_SIZE at;
    uint32_t flags = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, flags, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return cf_fail(err, CF_ERR_FORMAT, "regex \"%s\" does not compile at offset %zu: %s", pattern, (size_t)at,
                       (const char *)msg);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is unavailable */
    cf_regex *r = malloc(sizeof *r);
    if (!r) {
        pcre2_code_free(re);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory compiling a regex");
    }
    r->code = re;
    *out = r;
    return CF_OK;
}

void cf_regex_free(cf_regex *re)
{
    if (!re)
        return;
    pcre2_code_free(re->code);
    free(re);
}

bool cf_regex_next(const cf_regex *re, void **match_data, const char *s, size_t len, size_t from, size_t *mstart,
                   size_t *mend)
{
    if (!*match_data)
        *match_data = pcre2_match_data_create_from_pattern(re->code, NULL);
    pcre2_match_data *md = *match_data;
    if (!md)
        return false;
    while (from <= len) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, from, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc < 0)
            return false;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] > ov[0]) {
            *mstart = ov[0];
            *mend = ov[1];
            return true;
        }
        /* Empty match: retry one char further. */
        if (ov[0] >= len)
            return false;
        size_t n;
        cf_utf8_decode(s + ov[0], &n);
        from = ov[0] + n;
    }
    return false;
}

void cf_regex_match_data_free(void *match_data) { pcre2_match_data_free(match_data); }
