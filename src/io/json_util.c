#include "io/json_util.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1-based line and column of byte `pos`. */
static void line_col(const char *text, size_t pos, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool only_space(const char *s, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* cJSON on a NUL-terminated copy, `pad` spaces appended; the error position on failure. */
static cJSON *parse_copy(const char *text, size_t len, size_t pad, size_t *pos)
{
    char *copy = malloc(len + pad + 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, text, len);
    memset(copy + len, ' ', pad);
    copy[len + pad] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + pad, &end, false);
    *pos = end ? (size_t)(end - copy) : 0;
    free(copy);
    return root;
}

cJSON *cf_json_parse_raw(const char *text, size_t len, size_t *error_at, bool *truncated, bool *trailing)
{
    *error_at = 0;
    *truncated = *trailing = false;
    size_t pos;
    cJSON *root = parse_copy(text, len, 0, &pos);
    if (!root) {
        /* cJSON reports running out of input as an error at the last byte; with one more
         * byte of padding a truncation moves past the original end, a real error does not. */
        size_t padded_pos = pos;
        if (pos + 1 >= len)
            cJSON_Delete(parse_copy(text, len, 1, &padded_pos));
        *truncated = only_space(text, 0, len) || padded_pos >= len;
        *error_at = pos < len ? pos : len;
        return NULL;
    }
    while (pos < len && only_space(text, pos, pos + 1))
        pos++;
    if (pos < len) {
        cJSON_Delete(root);
        *trailing = true;
        *error_at = pos;
        return NULL;
    }
    return root;
}

cf_status cf_json_parse(const char *text, size_t len, const char *name, cJSON **out, cf_error *err)
{
    size_t pos, line, col;
    bool truncated, trailing;
    *out = cf_json_parse_raw(text, len, &pos, &truncated, &trailing);
    if (*out)
        return CF_OK;
    line_col(text, pos, &line, &col);
    if (only_space(text, 0, len))
        return cf_fail(err, CF_ERR_FORMAT, "%s: empty, expected JSON", name);
    if (truncated)
        return cf_fail(err, CF_ERR_FORMAT, "%s: JSON ends early (line %zu, column %zu): truncated file?", name, line,
                       col);
    if (trailing)
        return cf_fail(err, CF_ERR_FORMAT, "%s: unexpected text after the JSON value at line %zu, column %zu", name,
                       line, col);
    int shown = len - pos < 20 ? (int)(len - pos) : 20;
    return cf_fail(err, CF_ERR_FORMAT, "%s: invalid JSON at line %zu, column %zu (near \"%.*s\")", name, line, col,
                   shown, text + pos);
}

const char *cf_json_type_name(const cJSON *v)
{
    if (!v)
        return "missing";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    return "an invalid value";
}

const char *cf_json_compact(const cJSON *v, char *buf, size_t size)
{
    if (!size)
        return buf;
    char *text = v ? cJSON_PrintUnformatted(v) : NULL;
    if (!text) {
        snprintf(buf, size, "?");
        return buf;
    }
    size_t n = strlen(text);
    if (n < size)
        memcpy(buf, text, n + 1);
    else
        snprintf(buf, size, "%.*s...", size > 4 ? (int)(size - 4) : 0, text);
    cJSON_free(text);
    return buf;
}
