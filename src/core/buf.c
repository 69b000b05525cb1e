#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool cf_buf_reserve(cf_buf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len - 1)
        return false;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return false;
    p[b->len] = '\0'; /* a fresh buffer is "" at once, so reserve-then-steal gives a string */
    b->data = p;
    b->cap = cap;
    return true;
}

bool cf_buf_append(cf_buf *b, const void *data, size_t n)
{
    if (!cf_buf_reserve(b, n))
        return false;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool cf_buf_puts(cf_buf *b, const char *s) { return cf_buf_append(b, s, strlen(s)); }

bool cf_buf_printf(cf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    bool ok = n >= 0 && cf_buf_reserve(b, (size_t)n);
    if (ok) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
    return ok;
}

void cf_buf_clear(cf_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *cf_buf_steal(cf_buf *b)
{
    char *s = b->data;
    if (!s)
        s = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void cf_buf_free(cf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

cf_status cf_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, cf_error *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cf_fail(err, errno == ENOENT ? CF_ERR_NOT_FOUND : CF_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return cf_fail(err, CF_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return cf_fail(err, CF_ERR_NOMEM, "%s: file is %lld bytes, more than the limit of %zu", path,
                       (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    if (!data) {
        fclose(f);
        return cf_fail(err, CF_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
    }
    size_t got = fread(data, 1, size, f);
    fclose(f);
    if (got != size) {
        free(data);
        return cf_fail(err, CF_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, size);
    }
    data[size] = '\0';
    *out = data;
    if (out_len)
        *out_len = size;
    return CF_OK;
}

cf_status cf_path_join(char *dst, size_t dst_size, const char *dir, const char *name, cf_error *err)
{
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    int n = snprintf(dst, dst_size, "%s%s%s", dir, slash || dl == 0 ? "" : "/", name);
    if (n < 0 || (size_t)n >= dst_size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s/%s", dir, name);
    return CF_OK;
}

bool cf_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool cf_dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *cf_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}
