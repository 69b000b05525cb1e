/* A growable byte buffer (always NUL-terminated) and whole-file reading. */
#ifndef CF_CORE_BUF_H
#define CF_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct cf_buf {
    char *data;  /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
} cf_buf;

bool cf_buf_reserve(cf_buf *b, size_t extra);
bool cf_buf_append(cf_buf *b, const void *data, size_t n);
bool cf_buf_puts(cf_buf *b, const char *s);
bool cf_buf_printf(cf_buf *b, const char *fmt, ...) CF_PRINTF(2, 3);
void cf_buf_clear(cf_buf *b);        /* keep the memory, length 0 */
char *cf_buf_steal(cf_buf *b);       /* caller owns the string; b is reset */
void cf_buf_free(cf_buf *b);

/* Read a whole file into a fresh NUL-terminated buffer; refuses files over max_bytes. */
cf_status cf_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len, cf_error *err);

/* path_join("a/b", "c") -> "a/b/c" into dst; fails if it does not fit. */
cf_status cf_path_join(char *dst, size_t dst_size, const char *dir, const char *name, cf_error *err);

bool cf_file_exists(const char *path);
bool cf_dir_exists(const char *path);

/* strdup that returns NULL on NULL. */
char *cf_strdup(const char *s);

#endif
