/* safetensors reader and writer.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON header, then the data
 * section. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the data section) plus an optional "__metadata__" string map.
 * Every field is checked before a tensor view is handed out. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "io/json_util.h"
#include "io/model_dir.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* the reference reader's limit */
#define ST_MAX_INDEX ((size_t)100 * 1000 * 1000)
#define ST_MAX_DIM ((double)(1ULL << 53)) /* largest integer a JSON double holds exactly */

typedef struct st_entry {
    char *name;
    cf_tensor tensor;
    size_t shard;
    uint64_t begin, end; /* data_offsets, relative to the shard's data section */
} st_entry;

typedef struct st_shard {
    char *path;          /* as given, for messages */
    const uint8_t *bytes; /* the whole file */
    size_t size;
    bool mmapped;
    void *aligned_copy;  /* data section copied when the file's own bytes are misaligned */
} st_shard;

typedef struct st_meta {
    char *key, *value;
} st_meta;

struct cf_safetensors {
    char *name; /* the file or index path, for messages */
    st_entry *entries; /* sorted by name once opening finished */
    size_t n, cap;
    st_shard *shards;
    size_t nshards;
    st_meta *meta;
    size_t nmeta;
};

/* ------------------------------------------------------------------ helpers ---- */

static uint64_t read_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Byte offset of the first invalid UTF-8 sequence, or len when the text is valid. */
static size_t utf8_invalid_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i; /* overlong, out of range or a surrogate */
        i += n + 1;
    }
    return len;
}

static cf_status add_entry(cf_safetensors *st, const st_entry *e, cf_error *err)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        st_entry *p = realloc(st->entries, cap * sizeof *p);
        if (!p)
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for %zu tensor entries", st->name, cap);
        st->entries = p;
        st->cap = cap;
    }
    st->entries[st->n++] = *e;
    return CF_OK;
}

static cf_status add_metadata(cf_safetensors *st, const char *key, const char *value, cf_error *err)
{
    st_meta *p = realloc(st->meta, (st->nmeta + 1) * sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for metadata", st->name);
    st->meta = p;
    p[st->nmeta].key = cf_strdup(key);
    p[st->nmeta].value = cf_strdup(value);
    if (!p[st->nmeta].key || !p[st->nmeta].value) {
        free(p[st->nmeta].key);
        free(p[st->nmeta].value);
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for metadata", st->name);
    }
    st->nmeta++;
    return CF_OK;
}

static cf_safetensors *st_new(const char *name)
{
    cf_safetensors *st = calloc(1, sizeof *st);
    if (st && !(st->name = cf_strdup(name))) {
        free(st);
        st = NULL;
    }
    return st;
}

static cf_status add_shard(cf_safetensors *st, const char *path, size_t *index, cf_error *err)
{
    st_shard *p = realloc(st->shards, (st->nshards + 1) * sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    st->shards = p;
    memset(&p[st->nshards], 0, sizeof *p);
    if (!(p[st->nshards].path = cf_strdup(path)))
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    *index = st->nshards++;
    return CF_OK;
}

/* ------------------------------------------------------ header validation ---- */

/* A non-negative integer that a JSON double represents exactly. */
static cf_status json_uint(const cJSON *v, uint64_t *out, const char *file, const char *tensor, const char *field,
                           int index, cf_error *err)
{
    if (!cJSON_IsNumber(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': %s[%d] is %s, expected a non-negative integer", file,
                       tensor, field, index, cf_json_type_name(v));
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d))
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': %s[%d] = %g is not an integer", file, tensor, field,
                       index, d);
    if (d < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': %s[%d] = %.0f is negative", file, tensor, field, index,
                       d);
    if (d >= ST_MAX_DIM)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': %s[%d] = %g is too large (limit 2^53)", file, tensor,
                       field, index, d);
    *out = (uint64_t)d;
    return CF_OK;
}

static cf_status parse_dtype(const cJSON *entry, const char *file, const char *tname, cf_dtype *out, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!v)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' has no \"dtype\"", file, tname);
    if (!cJSON_IsString(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is %s, expected a string like \"F32\"", file,
                       tname, cf_json_type_name(v));
    if (cf_dtype_from_name(v->valuestring, out))
        return CF_OK;
    static const char *const other_known[] = {"I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F4", "F6_E2M3",
                                              "F6_E3M2", "F8_E8M0", "C64"};
    for (size_t i = 0; i < sizeof other_known / sizeof *other_known; i++)
        if (!strcmp(v->valuestring, other_known[i]))
            return cf_fail(err, CF_ERR_UNSUPPORTED,
                           "%s: tensor '%s' has dtype %s, which cformer does not support "
                           "(supported: F32, F16, BF16, F64, I64, I32, I8, U8, BOOL)",
                           file, tname, v->valuestring);
    return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%.40s'", file, tname, v->valuestring);
}

static cf_status parse_shape(const cJSON *entry, const char *file, const char *tname, cf_tensor *t, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!v)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' has no \"shape\"", file, tname);
    if (!cJSON_IsArray(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': \"shape\" is %s, expected an array of integers", file,
                       tname, cf_json_type_name(v));
    int rank = cJSON_GetArraySize(v);
    if (rank > CF_MAX_DIMS)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: tensor '%s' has %d dimensions; cformer supports at most %d",
                       file, tname, rank, CF_MAX_DIMS);
    t->ndim = rank;
    uint64_t bytes = cf_dtype_size(t->dtype);
    int i = 0;
    for (const cJSON *d = v->child; d; d = d->next, i++) {
        uint64_t dim;
        CF_TRY(json_uint(d, &dim, file, tname, "shape", i, err));
        t->shape[i] = (int64_t)dim;
        if (__builtin_mul_overflow(bytes, dim, &bytes) || bytes > (uint64_t)INT64_MAX) {
            char shape[256];
            return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': shape %s has more bytes than fit in 63 bits", file,
                           tname, cf_json_compact(v, shape, sizeof shape));
        }
    }
    return CF_OK;
}

static cf_status parse_offsets(const cJSON *entry, const char *file, const char *tname, uint64_t data_size,
                               st_entry *e, cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!v)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' has no \"data_offsets\"", file, tname);
    if (!cJSON_IsArray(v))
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" is %s, expected [begin, end]", file,
                       tname, cf_json_type_name(v));
    int count = cJSON_GetArraySize(v);
    if (count != 2)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" has %d entries, expected 2 ([begin, end])",
                       file, tname, count);
    CF_TRY(json_uint(v->child, &e->begin, file, tname, "data_offsets", 0, err));
    CF_TRY(json_uint(v->child->next, &e->end, file, tname, "data_offsets", 1, err));
    if (e->end < e->begin)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu,%llu] end before they begin", file,
                       tname, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets [%llu,%llu] go past the end of the data section (%llu bytes)",
                       file, tname, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)data_size);
    uint64_t want = cf_tensor_nbytes(&e->tensor);
    if (e->end - e->begin != want) {
        char shape[128];
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: tensor '%s' is %s %s = %llu bytes, but data_offsets [%llu,%llu] hold %llu bytes", file,
                       tname, cf_dtype_name(e->tensor.dtype), cf_shape_str(e->tensor.ndim, e->tensor.shape, shape, sizeof shape),
                       (unsigned long long)want, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)(e->end - e->begin));
    }
    return CF_OK;
}

static int cmp_json_key(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* "__metadata__": an object of strings with distinct keys. */
static cf_status check_metadata(const cJSON *meta, const char *file, cf_error *err)
{
    if (!cJSON_IsObject(meta))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"__metadata__\" is %s, expected an object of strings", file,
                       cf_json_type_name(meta));
    size_t n = 0;
    for (const cJSON *kv = meta->child; kv; kv = kv->next, n++)
        if (!cJSON_IsString(kv))
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"__metadata__\" value of '%s' is %s, expected a string", file,
                           kv->string, cf_json_type_name(kv));
    const cJSON **keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", file);
    n = 0;
    for (const cJSON *kv = meta->child; kv; kv = kv->next)
        keys[n++] = kv;
    qsort(keys, n, sizeof *keys, cmp_json_key);
    cf_status s = CF_OK;
    for (size_t i = 1; i < n && s == CF_OK; i++)
        if (!strcmp(keys[i - 1]->string, keys[i]->string))
            s = cf_fail(err, CF_ERR_FORMAT, "%s: \"__metadata__\" has key '%s' twice", file, keys[i]->string);
    free(keys);
    return s;
}

static cf_status parse_metadata(cf_safetensors *st, const cJSON *meta, const char *file, cf_error *err)
{
    CF_TRY(check_metadata(meta, file, err));
    if (st->nmeta)
        return CF_OK; /* shards of one checkpoint repeat the same metadata: keep the first */
    for (const cJSON *kv = meta->child; kv; kv = kv->next)
        CF_TRY(add_metadata(st, kv->string, kv->valuestring, err));
    return CF_OK;
}

static cf_status parse_tensor(const cJSON *item, const char *file, uint64_t data_size, st_entry *e, cf_error *err)
{
    const char *tname = item->string;
    if (!*tname)
        return cf_fail(err, CF_ERR_FORMAT, "%s: a tensor has an empty name", file);
    if (!cJSON_IsObject(item))
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' is %s, expected an object with dtype, shape, data_offsets",
                       file, tname, cf_json_type_name(item));
    CF_TRY(parse_dtype(item, file, tname, &e->tensor.dtype, err));
    CF_TRY(parse_shape(item, file, tname, &e->tensor, err));
    return parse_offsets(item, file, tname, data_size, e, err);
}

static int cmp_by_begin(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Tensors of one file must not share bytes (empty tensors share none). */
static cf_status check_overlaps(const st_entry *entries, size_t n, const char *file, cf_error *err)
{
    if (n < 2)
        return CF_OK;
    const st_entry **order = malloc(n * sizeof *order);
    if (!order)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", file);
    for (size_t i = 0; i < n; i++)
        order[i] = &entries[i];
    qsort(order, n, sizeof *order, cmp_by_begin);
    const st_entry *last = NULL;
    cf_status s = CF_OK;
    for (size_t i = 0; i < n && s == CF_OK; i++) {
        const st_entry *e = order[i];
        if (e->begin == e->end)
            continue;
        if (last && e->begin < last->end)
            s = cf_fail(err, CF_ERR_FORMAT, "%s: tensors '%s' [%llu,%llu] and '%s' [%llu,%llu] overlap", file,
                        last->name, (unsigned long long)last->begin, (unsigned long long)last->end, e->name,
                        (unsigned long long)e->begin, (unsigned long long)e->end);
        if (!last || e->end > last->end)
            last = e;
    }
    free(order);
    return s;
}

static bool misaligned(const st_entry *e, const uint8_t *data)
{
    return e->end > e->begin && (uintptr_t)(data + e->begin) % cf_dtype_size(e->tensor.dtype) != 0;
}

/* Point the tensors of one shard into its data section. A tensor whose address would not be
 * a multiple of its element size (the offsets, the header length or a memory buffer's base
 * can cause that) gets an aligned copy, so kernels may load elements directly. */
static cf_status place_tensors(cf_safetensors *st, size_t shard, size_t first, const uint8_t *data, cf_error *err)
{
    size_t copy_bytes = 0, copies = 0;
    for (size_t i = first; i < st->n; i++)
        if (misaligned(&st->entries[i], data)) {
            copy_bytes += (cf_tensor_nbytes(&st->entries[i].tensor) + 63) / 64 * 64;
            copies++;
        }
    uint8_t *copy = NULL;
    if (copy_bytes) {
        if (!(copy = aligned_alloc(64, copy_bytes)))
            return cf_fail(err, CF_ERR_NOMEM, "%s: cannot allocate %zu bytes to align its tensors",
                           st->shards[shard].path, copy_bytes);
        st->shards[shard].aligned_copy = copy;
        cf_log_debug("%s: %zu tensors are not aligned to their element size; copied %zu bytes",
                     st->shards[shard].path, copies, copy_bytes);
    }
    for (size_t i = first; i < st->n; i++) {
        st_entry *e = &st->entries[i];
        if (misaligned(e, data)) {
            size_t n = cf_tensor_nbytes(&e->tensor);
            memcpy(copy, data + e->begin, n);
            e->tensor.data = copy;
            copy += (n + 63) / 64 * 64;
        } else {
            e->tensor.data = (void *)(data + e->begin);
        }
    }
    return CF_OK;
}

/* Locate, copy and parse the JSON header of one file. */
static cf_status parse_header_json(const uint8_t *bytes, size_t size, const char *file, cJSON **out,
                                   uint64_t *header_len, cf_error *err)
{
    if (size == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: file is empty", file);
    if (size < 8)
        return cf_fail(err, CF_ERR_FORMAT, "%s: file is %zu bytes, too short for the 8-byte header length", file,
                       size);
    uint64_t n = read_le64(bytes);
    if (n > ST_MAX_HEADER)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header length %llu is over the %llu byte limit (not a safetensors file?)",
                       file, (unsigned long long)n, (unsigned long long)ST_MAX_HEADER);
    if (n > size - 8)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header length %llu is more than the %zu bytes after it in the file",
                       file, (unsigned long long)n, size - 8);
    if (n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header length is 0; the header must be a JSON object", file);
    const uint8_t *h = bytes + 8;
    size_t bad = utf8_invalid_at(h, n);
    if (bad < n)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header is not valid UTF-8 (byte 0x%02x at header offset %zu)", file,
                       h[bad], bad);
    if (memchr(h, 0, n))
        return cf_fail(err, CF_ERR_FORMAT, "%s: header contains a NUL byte at offset %zu", file,
                       (size_t)((const uint8_t *)memchr(h, 0, n) - h));
    size_t pos;
    bool truncated, trailing;
    cJSON *root = cf_json_parse_raw((const char *)h, n, &pos, &truncated, &trailing);
    if (!root && truncated)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header JSON is truncated (it ends inside a value at byte %llu)", file,
                       (unsigned long long)n);
    if (!root && trailing)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header has trailing bytes after the JSON object (at header byte %zu)",
                       file, pos);
    if (!root)
        return cf_fail(err, CF_ERR_FORMAT, "%s: header is not valid JSON (syntax error at header byte %zu)", file, pos);
    if (!cJSON_IsObject(root)) {
        cf_status s = cf_fail(err, CF_ERR_FORMAT, "%s: header is %s, expected a JSON object", file,
                              cf_json_type_name(root));
        cJSON_Delete(root);
        return s;
    }
    *out = root;
    *header_len = n;
    return CF_OK;
}

static cf_status parse_entries(cf_safetensors *st, size_t shard, const cJSON *root, uint64_t data_size,
                               cf_error *err)
{
    const char *file = st->shards[shard].path;
    bool seen_meta = false;
    for (const cJSON *item = root->child; item; item = item->next) {
        if (!strcmp(item->string, "__metadata__")) {
            if (seen_meta)
                return cf_fail(err, CF_ERR_FORMAT, "%s: \"__metadata__\" appears twice", file);
            seen_meta = true;
            CF_TRY(parse_metadata(st, item, file, err));
            continue;
        }
        st_entry e = {.shard = shard};
        CF_TRY(parse_tensor(item, file, data_size, &e, err));
        if (!(e.name = cf_strdup(item->string)))
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", file);
        if (add_entry(st, &e, err) != CF_OK) {
            free(e.name);
            return err->status;
        }
    }
    return CF_OK;
}

/* Parse one file's bytes (already registered as shard `shard`) and append its tensors. */
static cf_status parse_shard(cf_safetensors *st, size_t shard, cf_error *err)
{
    const st_shard *sh = &st->shards[shard];
    cJSON *root = NULL;
    uint64_t header_len = 0;
    CF_TRY(parse_header_json(sh->bytes, sh->size, sh->path, &root, &header_len, err));
    const uint8_t *data = sh->bytes + 8 + header_len;
    size_t data_size = sh->size - 8 - (size_t)header_len;
    size_t first = st->n;
    cf_status s = parse_entries(st, shard, root, data_size, err);
    cJSON_Delete(root);
    if (s == CF_OK && st->n > first)
        s = check_overlaps(st->entries + first, st->n - first, sh->path, err);
    if (s == CF_OK)
        s = place_tensors(st, shard, first, data, err);
    return s;
}

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

/* Sort by name and reject names that occur twice (within a file or across shards). */
static cf_status finish_index(cf_safetensors *st, cf_error *err)
{
    if (st->n > 1)
        qsort(st->entries, st->n, sizeof *st->entries, cmp_by_name);
    for (size_t i = 1; i < st->n; i++) {
        const st_entry *a = &st->entries[i - 1], *b = &st->entries[i];
        if (strcmp(a->name, b->name))
            continue;
        if (a->shard == b->shard)
            return cf_fail(err, CF_ERR_FORMAT, "%s: tensor name '%s' appears twice in the header",
                           st->shards[a->shard].path, a->name);
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' is in both %s and %s", st->name, a->name,
                       st->shards[a->shard].path, st->shards[b->shard].path);
    }
    return CF_OK;
}

/* Binary search over the name-sorted entries. */
static const st_entry *find_entry(const cf_safetensors *st, const char *name)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->entries[mid].name, name);
        if (c == 0)
            return &st->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------------ opening ---- */

static cf_status map_file(const char *path, st_shard *sh, cf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cf_fail(err, errno == ENOENT ? CF_ERR_NOT_FOUND : CF_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        close(fd);
        return cf_fail(err, CF_ERR_IO, "%s: not a regular file", path);
    }
    sh->size = (size_t)info.st_size;
    if (sh->size == 0) {
        close(fd);
        sh->bytes = (const uint8_t *)"";
        return CF_OK; /* parse_header_json reports the empty file */
    }
    void *map = mmap(NULL, sh->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (map == MAP_FAILED)
        return cf_fail(err, CF_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, sh->size, strerror(saved));
    sh->bytes = map;
    sh->mmapped = true;
    return CF_OK;
}

static cf_status open_file_into(cf_safetensors *st, const char *path, cf_error *err)
{
    size_t shard;
    CF_TRY(add_shard(st, path, &shard, err));
    CF_TRY(map_file(path, &st->shards[shard], err));
    return parse_shard(st, shard, err);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* A shard named in an index must be a plain file name next to the index. */
static bool plain_file_name(const char *s)
{
    return *s && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/') && !strchr(s, '\\') && strlen(s) < 256;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The distinct shard names of a weight_map, sorted; every value checked. */
static cf_status index_shard_names(const cJSON *map, const char *path, const char ***out, size_t *count,
                                   cf_error *err)
{
    size_t n = 0, total = (size_t)cJSON_GetArraySize(map);
    const char **names = malloc((total ? total : 1) * sizeof *names);
    if (!names)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    for (const cJSON *kv = map->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) {
            free(names);
            return cf_fail(err, CF_ERR_FORMAT, "%s: weight_map entry '%s' is %s, expected a file name", path,
                           kv->string, cf_json_type_name(kv));
        }
        if (!plain_file_name(kv->valuestring)) {
            free(names);
            return cf_fail(err, CF_ERR_FORMAT,
                           "%s: weight_map puts '%s' in '%.200s', which is not a plain file name in the index's folder",
                           path, kv->string, kv->valuestring);
        }
        names[n++] = kv->valuestring;
    }
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (!distinct || strcmp(names[distinct - 1], names[i]))
            names[distinct++] = names[i];
    *out = names;
    *count = distinct;
    return CF_OK;
}

/* Every tensor the index names must be in the shard it names. */
static cf_status check_weight_map(const cf_safetensors *st, const cJSON *map, const char *dir, cf_error *err)
{
    for (const cJSON *kv = map->child; kv; kv = kv->next) {
        const st_entry *e = find_entry(st, kv->string);
        if (!e)
            return cf_fail(err, CF_ERR_FORMAT, "%s: weight_map names tensor '%s' in %s, but no shard has it", st->name,
                           kv->string, kv->valuestring);
        char want[CF_PATH_MAX];
        snprintf(want, sizeof want, "%s%s", dir, kv->valuestring);
        if (strcmp(st->shards[e->shard].path, want))
            return cf_fail(err, CF_ERR_FORMAT, "%s: weight_map puts tensor '%s' in %s, but it is in %s", st->name,
                           kv->string, kv->valuestring, st->shards[e->shard].path);
    }
    return CF_OK;
}

static cf_status open_index(cf_safetensors *st, const char *path, cf_error *err)
{
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(path, ST_MAX_INDEX, &text, &len, err));
    cJSON *root = NULL;
    cf_status s = cf_json_parse(text, len, path, &root, err);
    free(text);
    CF_TRY(s);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(map) || !map->child) {
        cJSON_Delete(root);
        return cf_fail(err, CF_ERR_FORMAT, "%s: no \"weight_map\" object (tensor name -> shard file)", path);
    }
    char dir[CF_PATH_MAX] = "";
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path + 1), path);
    const char **names = NULL;
    size_t count = 0;
    s = index_shard_names(map, path, &names, &count, err);
    for (size_t i = 0; s == CF_OK && i < count; i++) {
        char shard_path[CF_PATH_MAX];
        if (snprintf(shard_path, sizeof shard_path, "%s%s", dir, names[i]) >= (int)sizeof shard_path)
            s = cf_fail(err, CF_ERR_INVALID_ARG, "%s: shard path too long", path);
        else
            s = open_file_into(st, shard_path, err);
    }
    free(names);
    if (s == CF_OK)
        s = finish_index(st, err);
    if (s == CF_OK)
        s = check_weight_map(st, map, dir, err);
    cJSON_Delete(root);
    return s;
}

cf_status cf_st_open(const char *path, cf_safetensors **out, cf_error *err)
{
    *out = NULL;
    cf_safetensors *st = st_new(path);
    if (!st)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    cf_status s;
    if (ends_with(path, ".json")) {
        s = open_index(st, path, err);
    } else {
        s = open_file_into(st, path, err);
        if (s == CF_OK)
            s = finish_index(st, err);
    }
    if (s != CF_OK) {
        cf_st_close(st);
        return s;
    }
    *out = st;
    return CF_OK;
}

cf_status cf_st_open_memory(const void *data, size_t size, const char *name, cf_safetensors **out, cf_error *err)
{
    *out = NULL;
    if (!name)
        name = "<memory>";
    cf_safetensors *st = st_new(name);
    if (!st)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", name);
    size_t shard;
    cf_status s = add_shard(st, name, &shard, err);
    if (s == CF_OK) {
        st->shards[shard].bytes = data ? data : (const void *)"";
        st->shards[shard].size = data ? size : 0;
        s = parse_shard(st, shard, err);
    }
    if (s == CF_OK)
        s = finish_index(st, err);
    if (s != CF_OK) {
        cf_st_close(st);
        return s;
    }
    *out = st;
    return CF_OK;
}

cf_status cf_st_open_dir(const char *dir, cf_safetensors **out, cf_error *err)
{
    *out = NULL;
    char path[CF_PATH_MAX];
    CF_TRY(cf_path_join(path, sizeof path, dir, "model.safetensors", err));
    if (cf_file_exists(path))
        return cf_st_open(path, out, err);
    CF_TRY(cf_path_join(path, sizeof path, dir, "model.safetensors.index.json", err));
    if (cf_file_exists(path))
        return cf_st_open(path, out, err);
    char bin[CF_PATH_MAX];
    CF_TRY(cf_path_join(bin, sizeof bin, dir, "pytorch_model.bin", err));
    if (cf_file_exists(bin))
        return cf_fail(err, CF_ERR_UNSUPPORTED,
                       "%s: has pytorch_model.bin but no model.safetensors; cformer reads safetensors only "
                       "(convert it, e.g. with the Hub's safetensors convert space)",
                       dir);
    return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no model.safetensors or model.safetensors.index.json", dir);
}

void cf_st_close(cf_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->entries[i].name);
    for (size_t i = 0; i < st->nshards; i++) {
        if (st->shards[i].mmapped)
            munmap((void *)st->shards[i].bytes, st->shards[i].size);
        free(st->shards[i].aligned_copy);
        free(st->shards[i].path);
    }
    for (size_t i = 0; i < st->nmeta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->entries);
    free(st->shards);
    free(st->meta);
    free(st->name);
    free(st);
}

/* ------------------------------------------------------------------- lookup ---- */

size_t cf_st_count(const cf_safetensors *st) { return st->n; }

const char *cf_st_name(const cf_safetensors *st, size_t i) { return i < st->n ? st->entries[i].name : NULL; }

const cf_tensor *cf_st_at(const cf_safetensors *st, size_t i) { return i < st->n ? &st->entries[i].tensor : NULL; }

size_t cf_st_shard_count(const cf_safetensors *st) { return st->nshards; }

const cf_tensor *cf_st_find(const cf_safetensors *st, const char *name)
{
    const st_entry *e = find_entry(st, name);
    return e ? &e->tensor : NULL;
}

const char *cf_st_metadata(const cf_safetensors *st, const char *key)
{
    for (size_t i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta[i].key, key))
            return st->meta[i].value;
    return NULL;
}

static size_t common_prefix(const char *a, const char *b)
{
    size_t n = 0;
    while (a[n] && a[n] == b[n])
        n++;
    return n;
}

static size_t common_suffix(const char *a, const char *b)
{
    size_t i = strlen(a), j = strlen(b), n = 0;
    while (i > 0 && j > 0 && a[--i] == b[--j])
        n++;
    return n;
}

/* "e.g. 'x', 'y', 'z'": the names sharing the longest prefix or suffix with `want`
 * (a typo, or a missing/extra "model." prefix). */
static void suggest_names(const cf_safetensors *st, const char *want, char *buf, size_t size)
{
    enum { K = 3 };
    size_t best[K], score[K], nbest = 0;
    for (size_t i = 0; i < st->n; i++) {
        size_t p = common_prefix(want, st->entries[i].name), q = common_suffix(want, st->entries[i].name);
        size_t sc = p > q ? p : q;
        size_t at = nbest;
        while (at > 0 && score[at - 1] < sc)
            at--;
        if (at >= K)
            continue;
        if (nbest < K)
            nbest++;
        for (size_t k = nbest - 1; k > at; k--) {
            best[k] = best[k - 1];
            score[k] = score[k - 1];
        }
        best[at] = i;
        score[at] = sc;
    }
    size_t off = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < nbest && off < size; k++)
        off += (size_t)snprintf(buf + off, size - off, "%s'%.120s'", k ? ", " : "", st->entries[best[k]].name);
}

static const char *expected_shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t off = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && off < size; i++) {
        if (shape[i] < 0)
            off += (size_t)snprintf(buf + off, size - off, "%s*", i ? "," : "");
        else
            off += (size_t)snprintf(buf + off, size - off, "%s%lld", i ? "," : "", (long long)shape[i]);
    }
    if (off < size)
        snprintf(buf + off, size - off, "]");
    return buf;
}

cf_status cf_st_get(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape,
                    const cf_tensor **out, cf_error *err)
{
    *out = NULL;
    const cf_tensor *t = cf_st_find(st, name);
    if (!t) {
        char hint[512];
        suggest_names(st, name, hint, sizeof hint);
        if (st->nshards > 1)
            return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no tensor named '%s' (the %zu shards have %zu tensors, e.g. %s)",
                           st->name, name, st->nshards, st->n, hint);
        return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no tensor named '%s' (the file has %zu tensors%s%s)", st->name, name,
                       st->n, st->n ? ", e.g. " : "", hint);
    }
    bool ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = shape[i] < 0 || shape[i] == t->shape[i];
    if (!ok) {
        char have[128], want[128];
        return cf_fail(err, CF_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", st->name, name,
                       cf_shape_str(t->ndim, t->shape, have, sizeof have),
                       expected_shape_str(ndim, shape, want, sizeof want));
    }
    *out = t;
    return CF_OK;
}

cf_status cf_st_get_f32(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape, float **out,
                        cf_error *err)
{
    *out = NULL;
    const cf_tensor *t;
    CF_TRY(cf_st_get(st, name, ndim, shape, &t, err));
    if (t->dtype != CF_DTYPE_F32 && t->dtype != CF_DTYPE_F16 && t->dtype != CF_DTYPE_BF16 && t->dtype != CF_DTYPE_F64)
        return cf_fail(err, CF_ERR_FORMAT, "%s: tensor '%s' is %s, expected a floating-point tensor (F32/F16/BF16/F64)",
                       st->name, name, cf_dtype_name(t->dtype));
    size_t n = (size_t)cf_tensor_numel(t);
    float *f = malloc((n ? n : 1) * sizeof *f);
    if (!f)
        return cf_fail(err, CF_ERR_NOMEM, "%s: cannot allocate %zu floats for tensor '%s'", st->name, n, name);
    cf_status s = cf_tensor_to_f32(t, f, err);
    if (s != CF_OK) {
        free(f);
        return s;
    }
    *out = f;
    return CF_OK;
}

/* ------------------------------------------------------------------- writer ---- */

typedef struct st_wentry {
    char *name;
    cf_tensor tensor; /* owned copy */
} st_wentry;

struct cf_st_writer {
    st_wentry *entries;
    size_t n;
    st_meta *meta;
    size_t nmeta;
};

cf_st_writer *cf_st_writer_new(void) { return calloc(1, sizeof(cf_st_writer)); }

void cf_st_writer_free(cf_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->entries[i].name);
        cf_tensor_free(&w->entries[i].tensor);
    }
    for (size_t i = 0; i < w->nmeta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->entries);
    free(w->meta);
    free(w);
}

cf_status cf_st_writer_add(cf_st_writer *w, const char *name, const cf_tensor *t, cf_error *err)
{
    if (!name || !*name || !strcmp(name, "__metadata__"))
        return cf_fail(err, CF_ERR_INVALID_ARG, "safetensors writer: invalid tensor name '%s'", name ? name : "(null)");
    if (utf8_invalid_at((const uint8_t *)name, strlen(name)) < strlen(name))
        return cf_fail(err, CF_ERR_INVALID_ARG, "safetensors writer: tensor name '%s' is not valid UTF-8", name);
    if ((unsigned)t->dtype >= CF_DTYPE_COUNT)
        return cf_fail(err, CF_ERR_INVALID_ARG, "safetensors writer: tensor '%s' has an invalid dtype", name);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->entries[i].name, name))
            return cf_fail(err, CF_ERR_INVALID_ARG, "safetensors writer: tensor '%s' added twice", name);
    st_wentry *p = realloc(w->entries, (w->n + 1) * sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "safetensors writer: out of memory");
    w->entries = p;
    st_wentry *e = &p[w->n];
    CF_TRY(cf_tensor_alloc(&e->tensor, t->dtype, t->ndim, t->shape, err));
    size_t bytes = cf_tensor_nbytes(t);
    if (bytes && t->data)
        memcpy(e->tensor.data, t->data, bytes);
    if (!(e->name = cf_strdup(name))) {
        cf_tensor_free(&e->tensor);
        return cf_fail(err, CF_ERR_NOMEM, "safetensors writer: out of memory");
    }
    w->n++;
    return CF_OK;
}

cf_status cf_st_writer_set_metadata(cf_st_writer *w, const char *key, const char *value, cf_error *err)
{
    for (size_t i = 0; i < w->nmeta; i++) {
        if (!strcmp(w->meta[i].key, key)) {
            char *v = cf_strdup(value);
            if (!v)
                return cf_fail(err, CF_ERR_NOMEM, "safetensors writer: out of memory");
            free(w->meta[i].value);
            w->meta[i].value = v;
            return CF_OK;
        }
    }
    st_meta *p = realloc(w->meta, (w->nmeta + 1) * sizeof *p);
    if (!p)
        return cf_fail(err, CF_ERR_NOMEM, "safetensors writer: out of memory");
    w->meta = p;
    p[w->nmeta].key = cf_strdup(key);
    p[w->nmeta].value = cf_strdup(value);
    w->nmeta++;
    if (!p[w->nmeta - 1].key || !p[w->nmeta - 1].value)
        return cf_fail(err, CF_ERR_NOMEM, "safetensors writer: out of memory");
    return CF_OK;
}

static int cmp_wentry_name(const void *a, const void *b)
{
    return strcmp(((const st_wentry *)a)->name, ((const st_wentry *)b)->name);
}

/* Data order as the reference writer: widest dtype first (so every tensor stays aligned
 * without padding between tensors), then by name. */
static int cmp_wentry_layout(const void *a, const void *b)
{
    const st_wentry *x = *(st_wentry *const *)a, *y = *(st_wentry *const *)b;
    size_t sx = cf_dtype_size(x->tensor.dtype), sy = cf_dtype_size(y->tensor.dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static cJSON *tensor_json(const cf_tensor *t, uint64_t begin, uint64_t end)
{
    cJSON *e = cJSON_CreateObject();
    cJSON *shape = cJSON_AddArrayToObject(e, "shape");
    cJSON *offsets = cJSON_AddArrayToObject(e, "data_offsets");
    cJSON_AddStringToObject(e, "dtype", cf_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)end));
    return e;
}

/* The header JSON: __metadata__ first, then tensors sorted by name. */
static char *writer_header(cf_st_writer *w, const st_wentry **layout)
{
    uint64_t *begin = calloc(w->n ? w->n : 1, sizeof *begin);
    if (!begin)
        return NULL;
    uint64_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        begin[layout[i] - w->entries] = off;
        off += cf_tensor_nbytes(&layout[i]->tensor);
    }
    cJSON *root = cJSON_CreateObject();
    if (w->nmeta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; i < w->nmeta; i++)
            cJSON_AddStringToObject(meta, w->meta[i].key, w->meta[i].value);
    }
    for (size_t i = 0; i < w->n; i++) {
        const cf_tensor *t = &w->entries[i].tensor;
        cJSON_AddItemToObject(root, w->entries[i].name, tensor_json(t, begin[i], begin[i] + cf_tensor_nbytes(t)));
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    free(begin);
    return text;
}

static cf_status write_all(FILE *f, const void *data, size_t n, const char *path, cf_error *err)
{
    if (n && fwrite(data, 1, n, f) != n)
        return cf_fail(err, CF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return CF_OK;
}

static cf_status write_file(cf_st_writer *w, const st_wentry **layout, const char *header, const char *path,
                            cf_error *err)
{
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) / 8 * 8; /* spaces up to 8 bytes, as the reference writer pads */
    uint8_t len_bytes[8];
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    FILE *f = fopen(path, "wb");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    static const char spaces[8] = "        ";
    cf_status s = write_all(f, len_bytes, 8, path, err);
    if (s == CF_OK)
        s = write_all(f, header, hlen, path, err);
    if (s == CF_OK)
        s = write_all(f, spaces, padded - hlen, path, err);
    for (size_t i = 0; s == CF_OK && i < w->n; i++)
        s = write_all(f, layout[i]->tensor.data, cf_tensor_nbytes(&layout[i]->tensor), path, err);
    if (fclose(f) != 0 && s == CF_OK)
        s = cf_fail(err, CF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return s;
}

cf_status cf_st_writer_save(cf_st_writer *w, const char *path, cf_error *err)
{
    if (w->n > 1)
        qsort(w->entries, w->n, sizeof *w->entries, cmp_wentry_name);
    const st_wentry **layout = malloc((w->n ? w->n : 1) * sizeof *layout);
    if (!layout)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < w->n; i++)
        layout[i] = &w->entries[i];
    if (w->n > 1)
        qsort(layout, w->n, sizeof *layout, cmp_wentry_layout);
    char *header = writer_header(w, layout);
    cf_status s = header ? write_file(w, layout, header, path, err)
                         : cf_fail(err, CF_ERR_NOMEM, "%s: out of memory building the header", path);
    cJSON_free(header);
    free(layout);
    return s;
}
