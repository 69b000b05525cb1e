/* safetensors: the bad-file corpus, every fixture checkpoint, the writer round trip,
 * shape/name errors, sharded checkpoints. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "io/safetensors.h"
#include "common/testutil.h"

/* ------------------------------------------------------------- temp folders ---- */

static char g_tmp[256];

static void make_tmp(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/cf_st_test_XXXXXX");
    cr_assert_not_null(mkdtemp(g_tmp));
}

static void unlink_entry(const char *path, const char *name, void *ctx) { unlink(path); }

static void remove_tmp(void)
{
    if (cf_test_each_entry(g_tmp, unlink_entry, NULL))
        rmdir(g_tmp);
}

static void tmp_path(char *buf, size_t size, const char *name) { snprintf(buf, size, "%s/%s", g_tmp, name); }

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* --------------------------------------------------------------- bad corpus ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The message with the leading "<name>: " removed, so messages of different files compare by defect. */
static const char *without_name(const char *message, const char *name)
{
    size_t n = strlen(name);
    if (!strncmp(message, name, n) && !strncmp(message + n, ": ", 2))
        return message + n + 2;
    return message;
}

Test(safetensors, bad_corpus_every_file_rejected_with_its_own_message)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bad/safetensors", cf_test_data());
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.')
            names[n++] = cf_strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    cr_assert_geq(n, 20, "expected at least 20 bad files in %s, found %zu", dir, n);

    char *messages[256];
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        cf_safetensors *st = NULL;
        cf_error err = {0};
        cf_status s = cf_st_open(path, &st, &err);
        cr_assert_neq(s, CF_OK, "%s was accepted", names[i]);
        cr_assert_null(st);
        cr_assert(s == CF_ERR_FORMAT || s == CF_ERR_UNSUPPORTED, "%s: status %s (%s)", names[i], cf_status_name(s),
                  err.message);
        cr_assert_eq(err.status, s);
        const char *msg = without_name(err.message, path);
        cr_assert_neq(msg, err.message, "%s: message does not start with the file path: %s", names[i], err.message);
        cr_assert_gt(strlen(msg), 10, "%s: message too short: '%s'", names[i], err.message);
        messages[i] = cf_strdup(msg);

        /* The in-memory reader gives the same verdict. */
        char *bytes = NULL;
        size_t len = 0;
        cr_assert_eq(cf_read_file(path, 1 << 20, &bytes, &len, &err), CF_OK);
        cf_error merr = {0};
        cr_assert_eq(cf_st_open_memory(bytes, len, "mem", &st, &merr), s, "%s: memory variant: %s", names[i],
                     merr.message);
        cr_assert_str_eq(without_name(merr.message, "mem"), messages[i], "%s: file and memory messages differ",
                         names[i]);
        free(bytes);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            cr_expect_str_neq(messages[i], messages[j], "%s and %s give the same message: %s", names[i], names[j],
                              messages[i]);
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(messages[i]);
    }
}

/* ------------------------------------------------------------------ fixtures ---- */

static size_t g_fixture_files;

/* Open, then read every tensor (its last byte and, for floats, the f32 conversion). */
static void check_fixture_file(const char *path)
{
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    cr_assert_gt(cf_st_count(st), 0, "%s has no tensors", path);
    for (size_t i = 0; i < cf_st_count(st); i++) {
        const cf_tensor *t = cf_st_at(st, i);
        const char *name = cf_st_name(st, i);
        cr_assert_eq(cf_st_find(st, name), t);
        if (i)
            cr_assert_lt(strcmp(cf_st_name(st, i - 1), name), 0, "%s: names not sorted", path);
        cr_assert_eq((uintptr_t)t->data % cf_dtype_size(t->dtype), 0, "%s: '%s' misaligned", path, name);
        const cf_tensor *got = NULL;
        cr_assert_eq(cf_st_get(st, name, t->ndim, t->shape, &got, &err), CF_OK, "%s", err.message);
        if (t->dtype == CF_DTYPE_F32) {
            float *f = NULL;
            cr_assert_eq(cf_st_get_f32(st, name, t->ndim, t->shape, &f, &err), CF_OK, "%s", err.message);
            size_t n = (size_t)cf_tensor_numel(t);
            cr_assert_eq(n ? memcmp(f, t->data, n * 4) : 0, 0);
            free(f);
        }
    }
    cf_st_close(st);
    g_fixture_files++;
}

static void walk_fixtures(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d || depth > 6) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (cf_dir_exists(path))
            walk_fixtures(path, depth + 1);
        else if (!strcmp(e->d_name, "model.safetensors") || !strcmp(e->d_name, "expected.safetensors"))
            check_fixture_file(path);
    }
    closedir(d);
}

Test(safetensors, every_fixture_checkpoint_opens)
{
    g_fixture_files = 0;
    walk_fixtures(cf_test_fixtures(), 0);
    cr_assert_gt(g_fixture_files, 0, "no model.safetensors or expected.safetensors under %s", cf_test_fixtures());
    cr_log_info("%zu fixture safetensors files opened", g_fixture_files);
}

/* ----------------------------------------------------------- writer round trip ---- */

static void fill_bytes(cf_tensor *t, unsigned seed)
{
    uint8_t *p = t->data;
    size_t n = cf_tensor_nbytes(t);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

Test(safetensors, writer_round_trip, .init = make_tmp, .fini = remove_tmp)
{
    /* One tensor of every dtype, odd sizes so a naive layout would misalign, plus a scalar and an empty one. */
    struct {
        const char *name;
        cf_dtype dtype;
        int ndim;
        int64_t shape[4];
    } specs[] = {
        {"z.bool", CF_DTYPE_BOOL, 1, {3}},       {"y.u8", CF_DTYPE_U8, 2, {1, 5}},
        {"x.i8", CF_DTYPE_I8, 1, {7}},           {"w.f16", CF_DTYPE_F16, 3, {1, 3, 3}},
        {"v.bf16", CF_DTYPE_BF16, 1, {5}},       {"u.f32", CF_DTYPE_F32, 4, {2, 1, 3, 1}},
        {"t.i32", CF_DTYPE_I32, 1, {3}},         {"s.i64", CF_DTYPE_I64, 2, {2, 3}},
        {"r.f64", CF_DTYPE_F64, 1, {3}},         {"q.scalar", CF_DTYPE_F32, 0, {0}},
        {"p.empty", CF_DTYPE_F32, 2, {0, 4}},    {"name with \"quotes\" and \\ / \xc3\xa9", CF_DTYPE_I8, 1, {2}},
    };
    size_t count = sizeof specs / sizeof *specs;
    cf_tensor src[sizeof specs / sizeof *specs];
    cf_error err = {0};
    cf_st_writer *w = cf_st_writer_new();
    cr_assert_not_null(w);
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(cf_tensor_alloc(&src[i], specs[i].dtype, specs[i].ndim, specs[i].shape, &err), CF_OK);
        fill_bytes(&src[i], (unsigned)i + 1);
        cr_assert_eq(cf_st_writer_add(w, specs[i].name, &src[i], &err), CF_OK, "%s", err.message);
    }
    cr_assert_eq(cf_st_writer_add(w, specs[0].name, &src[0], &err), CF_ERR_INVALID_ARG, "a duplicate was accepted");
    cr_assert_eq(cf_st_writer_add(w, "bad\xff", &src[0], &err), CF_ERR_INVALID_ARG, "a non-UTF-8 name was accepted");
    cr_assert_eq(cf_st_writer_add(w, "__metadata__", &src[0], &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_st_writer_set_metadata(w, "format", "pt", &err), CF_OK);
    cr_assert_eq(cf_st_writer_set_metadata(w, "note", "x", &err), CF_OK);
    cr_assert_eq(cf_st_writer_set_metadata(w, "note", "round \"trip\"", &err), CF_OK);
    char path[512];
    tmp_path(path, sizeof path, "rt.safetensors");
    cr_assert_eq(cf_st_writer_save(w, path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);

    /* Layout: header length a multiple of 8, padded with spaces, no gaps in the data section. */
    char *bytes = NULL;
    size_t len = 0;
    cr_assert_eq(cf_read_file(path, 1 << 20, &bytes, &len, &err), CF_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | (uint8_t)bytes[i];
    cr_assert_eq(hlen % 8, 0, "header length %llu is not a multiple of 8", (unsigned long long)hlen);
    cr_assert_eq(bytes[8], '{');
    size_t end = 8 + hlen;
    while (bytes[end - 1] == ' ')
        end--;
    cr_assert_eq(bytes[end - 1], '}');
    cr_assert_lt(8 + hlen - end, 8, "more padding than needed");
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += cf_tensor_nbytes(&src[i]);
    cr_assert_eq(len, 8 + hlen + total, "data section has gaps or extra bytes");
    /* Names appear in the header in sorted order. */
    cr_assert_lt(strstr(bytes + 8, "\"p.empty\""), strstr(bytes + 8, "\"z.bool\""));
    cr_assert_lt(strstr(bytes + 8, "\"__metadata__\""), strstr(bytes + 8, "\"p.empty\""));
    free(bytes);

    cf_safetensors *st = NULL;
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_st_count(st), count);
    cr_assert_str_eq(cf_st_metadata(st, "format"), "pt");
    cr_assert_str_eq(cf_st_metadata(st, "note"), "round \"trip\"");
    cr_assert_null(cf_st_metadata(st, "absent"));
    for (size_t i = 0; i < count; i++) {
        const cf_tensor *t = NULL;
        cr_assert_eq(cf_st_get(st, specs[i].name, specs[i].ndim, specs[i].shape, &t, &err), CF_OK, "%s", err.message);
        cr_assert_eq(t->dtype, specs[i].dtype, "%s", specs[i].name);
        cr_assert_eq(t->ndim, specs[i].ndim);
        size_t n = cf_tensor_nbytes(t);
        cr_assert_eq(n, cf_tensor_nbytes(&src[i]));
        cr_assert_eq(n ? memcmp(t->data, src[i].data, n) : 0, 0, "%s: data differs", specs[i].name);
        cr_assert_eq((uintptr_t)t->data % cf_dtype_size(t->dtype), 0, "%s misaligned", specs[i].name);
    }
    cf_st_close(st);
    for (size_t i = 0; i < count; i++)
        cf_tensor_free(&src[i]);
}

Test(safetensors, get_f32_converts_every_float_dtype, .init = make_tmp, .fini = remove_tmp)
{
    const float values[] = {0.0f, 1.0f, -2.5f, 0.15625f, 65504.0f, -1e-3f, 3.0e-5f};
    int64_t shape[1] = {7};
    cf_dtype dtypes[] = {CF_DTYPE_F32, CF_DTYPE_F16, CF_DTYPE_BF16, CF_DTYPE_F64};
    const char *names[] = {"f32", "f16", "bf16", "f64"};
    cf_error err = {0};
    cf_st_writer *w = cf_st_writer_new();
    for (int k = 0; k < 4; k++) {
        cf_tensor t;
        cr_assert_eq(cf_tensor_alloc(&t, dtypes[k], 1, shape, &err), CF_OK);
        for (int i = 0; i < 7; i++) {
            if (dtypes[k] == CF_DTYPE_F32)
                ((float *)t.data)[i] = values[i];
            else if (dtypes[k] == CF_DTYPE_F16)
                ((uint16_t *)t.data)[i] = cf_f32_to_f16(values[i]);
            else if (dtypes[k] == CF_DTYPE_BF16)
                ((uint16_t *)t.data)[i] = cf_f32_to_bf16(values[i]);
            else
                ((double *)t.data)[i] = values[i];
        }
        cr_assert_eq(cf_st_writer_add(w, names[k], &t, &err), CF_OK);
        cf_tensor_free(&t);
    }
    cf_tensor ints;
    cr_assert_eq(cf_tensor_alloc(&ints, CF_DTYPE_I64, 1, shape, &err), CF_OK);
    cr_assert_eq(cf_st_writer_add(w, "ids", &ints, &err), CF_OK);
    cf_tensor_free(&ints);
    char path[512];
    tmp_path(path, sizeof path, "f.safetensors");
    cr_assert_eq(cf_st_writer_save(w, path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);

    cf_safetensors *st = NULL;
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    /* Tolerance: half an ulp of the storage type (f16: 2^-11 relative, bf16: 2^-8), plus f16 subnormal spacing. */
    const double rtol[] = {0, 1.0 / 2048, 1.0 / 256, 0};
    for (int k = 0; k < 4; k++) {
        float *f = NULL;
        cr_assert_eq(cf_st_get_f32(st, names[k], 1, shape, &f, &err), CF_OK, "%s", err.message);
        double worst;
        size_t at;
        cr_assert(cf_test_allclose(f, values, 7, k == 1 ? 6e-8 : 0, rtol[k], &worst, &at), "%s: worst %g at %zu",
                  names[k], worst, at);
        free(f);
    }
    float *f = NULL;
    cr_assert_eq(cf_st_get_f32(st, "ids", 1, shape, &f, &err), CF_ERR_FORMAT);
    cr_assert_null(f);
    cr_assert(strstr(err.message, "'ids' is I64"), "%s", err.message);
    cf_st_close(st);
}

/* ------------------------------------------------------ lookups and messages ---- */

static cf_safetensors *small_checkpoint(const char *path)
{
    static const char *names[] = {"h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight", "h.1.attn.c_attn.weight",
                                  "wte.weight", "ln_f.bias"};
    int64_t shape[2] = {4, 12};
    cf_error err = {0};
    cf_st_writer *w = cf_st_writer_new();
    for (size_t i = 0; i < 5; i++) {
        cf_tensor t;
        cr_assert_eq(cf_tensor_alloc(&t, CF_DTYPE_F32, 2, shape, &err), CF_OK);
        cr_assert_eq(cf_st_writer_add(w, names[i], &t, &err), CF_OK);
        cf_tensor_free(&t);
    }
    cr_assert_eq(cf_st_writer_save(w, path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);
    cf_safetensors *st = NULL;
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    return st;
}

Test(safetensors, shape_mismatch_names_tensor_and_both_shapes, .init = make_tmp, .fini = remove_tmp)
{
    char path[512];
    tmp_path(path, sizeof path, "model.safetensors");
    cf_safetensors *st = small_checkpoint(path);
    cf_error err = {0};
    const cf_tensor *t = NULL;
    int64_t want[2] = {4, 13};
    cr_assert_eq(cf_st_get(st, "h.1.attn.c_attn.weight", 2, want, &t, &err), CF_ERR_SHAPE);
    cr_assert_null(t);
    char expect[1024];
    snprintf(expect, sizeof expect, "%s: tensor 'h.1.attn.c_attn.weight' has shape [4,12], expected [4,13]", path);
    cr_assert_str_eq(err.message, expect);
    int64_t any[2] = {-1, 12};
    cr_assert_eq(cf_st_get(st, "h.1.attn.c_attn.weight", 2, any, &t, &err), CF_OK, "-1 should match any size");
    int64_t rank3[3] = {4, 12, 1};
    cr_assert_eq(cf_st_get(st, "h.1.attn.c_attn.weight", 3, rank3, &t, &err), CF_ERR_SHAPE);
    cr_assert(strstr(err.message, "has shape [4,12], expected [4,12,1]"), "%s", err.message);
    int64_t wild[2] = {-1, 5};
    cr_assert_eq(cf_st_get(st, "wte.weight", 2, wild, &t, &err), CF_ERR_SHAPE);
    cr_assert(strstr(err.message, "expected [*,5]"), "%s", err.message);
    cf_st_close(st);
}

Test(safetensors, missing_tensor_suggests_close_names, .init = make_tmp, .fini = remove_tmp)
{
    char path[512];
    tmp_path(path, sizeof path, "model.safetensors");
    cf_safetensors *st = small_checkpoint(path);
    cf_error err = {0};
    const cf_tensor *t = NULL;
    int64_t shape[2] = {4, 12};
    cr_assert_eq(cf_st_get(st, "transformer.h.0.attn.c_proj.weight", 2, shape, &t, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "no tensor named 'transformer.h.0.attn.c_proj.weight' (the file has 5 tensors, "
                                  "e.g. 'h.0.attn.c_proj.weight'"),
              "%s", err.message);
    cr_assert_eq(cf_st_get(st, "wte.weigth", 2, shape, &t, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "e.g. 'wte.weight'"), "%s", err.message);
    cr_assert_null(cf_st_find(st, "nope"));
    cr_assert_null(cf_st_at(st, 99));
    cf_st_close(st);
}

Test(safetensors, unaligned_data_is_copied_to_aligned_memory)
{
    /* A 2-byte header (not padded to 8) puts the F32 data at file offset 10. */
    const char header[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hlen = strlen(header);
    uint8_t *buf = calloc(1, 8 + hlen + 8 + 8);
    uint8_t *file = buf + 1; /* misaligned base too */
    for (int i = 0; i < 8; i++)
        file[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(file + 8, header, hlen);
    const float values[2] = {1.5f, -2.0f};
    memcpy(file + 8 + hlen, values, 8);
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_open_memory(file, 8 + hlen + 8, "mem", &st, &err), CF_OK, "%s", err.message);
    const cf_tensor *t = cf_st_find(st, "a");
    cr_assert_not_null(t);
    cr_assert_eq((uintptr_t)t->data % 4, 0);
    cr_assert_eq(memcmp(t->data, values, 8), 0);
    cf_st_close(st);
    free(buf);
}

Test(safetensors, truncations_and_byte_flips_never_crash, .init = make_tmp, .fini = remove_tmp)
{
    char path[512];
    tmp_path(path, sizeof path, "model.safetensors");
    cf_st_close(small_checkpoint(path));
    char *bytes = NULL;
    size_t len = 0;
    cf_error err = {0};
    cr_assert_eq(cf_read_file(path, 1 << 20, &bytes, &len, &err), CF_OK);
    uint64_t hlen = (uint8_t)bytes[0] | (uint64_t)(uint8_t)bytes[1] << 8;
    size_t accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        cf_safetensors *st = NULL;
        cf_status s = cf_st_open_memory(bytes, cut, "cut", &st, &err);
        cr_assert_eq(s, CF_ERR_FORMAT, "truncation at %zu: %s", cut, cf_status_name(s));
        cr_assert_gt(strlen(err.message), 0);
    }
    /* Flip every header byte: each result is a clean accept or a clean reject. */
    char *copy = malloc(len);
    for (size_t i = 0; i < 8 + hlen; i++) {
        memcpy(copy, bytes, len);
        copy[i] ^= 0x5a;
        cf_safetensors *st = NULL;
        err.message[0] = '\0';
        cf_status s = cf_st_open_memory(copy, len, "flip", &st, &err);
        if (s == CF_OK) {
            accepted++;
            for (size_t k = 0; k < cf_st_count(st); k++)
                cr_assert_not_null(cf_st_at(st, k)->data);
            cf_st_close(st);
        } else {
            cr_assert_gt(strlen(err.message), 0, "flip at %zu: empty message", i);
        }
    }
    cr_log_info("%zu of %llu header byte flips still parse", accepted, (unsigned long long)(8 + hlen));
    free(copy);
    free(bytes);
}

/* ------------------------------------------------------------------ sharding ---- */

static void write_shard(const char *name, const char *const *tensors, size_t n)
{
    int64_t shape[1] = {3};
    cf_error err = {0};
    cf_st_writer *w = cf_st_writer_new();
    for (size_t i = 0; i < n; i++) {
        cf_tensor t;
        cr_assert_eq(cf_tensor_alloc(&t, CF_DTYPE_F32, 1, shape, &err), CF_OK);
        ((float *)t.data)[0] = (float)i;
        cr_assert_eq(cf_st_writer_add(w, tensors[i], &t, &err), CF_OK);
        cf_tensor_free(&t);
    }
    cr_assert_eq(cf_st_writer_set_metadata(w, "format", "pt", &err), CF_OK);
    char path[512];
    tmp_path(path, sizeof path, name);
    cr_assert_eq(cf_st_writer_save(w, path, &err), CF_OK, "%s", err.message);
    cf_st_writer_free(w);
}

static void write_two_shards(void)
{
    const char *a[] = {"layer.0.w", "embed"};
    const char *b[] = {"layer.1.w", "head"};
    write_shard("model-00001-of-00002.safetensors", a, 2);
    write_shard("model-00002-of-00002.safetensors", b, 2);
}

static cf_status open_index_text(const char *text, cf_safetensors **st, cf_error *err)
{
    char path[512];
    tmp_path(path, sizeof path, "model.safetensors.index.json");
    write_text(path, text);
    return cf_st_open(path, st, err);
}

#define INDEX_OK                                                                                                    \
    "{\"metadata\":{\"total_size\":48},\"weight_map\":{\"embed\":\"model-00001-of-00002.safetensors\","           \
    "\"layer.0.w\":\"model-00001-of-00002.safetensors\",\"layer.1.w\":\"model-00002-of-00002.safetensors\","      \
    "\"head\":\"model-00002-of-00002.safetensors\"}}"

Test(safetensors, sharded_checkpoint_opens_every_shard, .init = make_tmp, .fini = remove_tmp)
{
    write_two_shards();
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(open_index_text(INDEX_OK, &st, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_st_count(st), 4);
    cr_assert_eq(cf_st_shard_count(st), 2);
    cr_assert_str_eq(cf_st_name(st, 0), "embed");
    cr_assert_str_eq(cf_st_name(st, 3), "layer.1.w");
    cr_assert_str_eq(cf_st_metadata(st, "format"), "pt");
    cr_assert_not_null(cf_st_find(st, "head"));
    cf_st_close(st);
    /* cf_st_open_dir finds the index when there is no model.safetensors. */
    cr_assert_eq(cf_st_open_dir(g_tmp, &st, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_st_count(st), 4);
    cf_st_close(st);
}

Test(safetensors, sharded_index_errors, .init = make_tmp, .fini = remove_tmp)
{
    write_two_shards();
    struct {
        const char *index;
        cf_status status;
        const char *message_part;
    } cases[] = {
        {"{\"weight_map\":{\"embed\":\"../model-00001-of-00002.safetensors\"}}", CF_ERR_FORMAT, "not a plain file name"},
        {"{\"weight_map\":{\"embed\":\"/etc/passwd\"}}", CF_ERR_FORMAT, "not a plain file name"},
        {"{\"weight_map\":{\"embed\":\"..\"}}", CF_ERR_FORMAT, "not a plain file name"},
        {"{\"weight_map\":{\"embed\":\"\"}}", CF_ERR_FORMAT, "not a plain file name"},
        {"{\"weight_map\":{\"embed\":7}}", CF_ERR_FORMAT, "is a number, expected a file name"},
        {"{\"weight_map\":[]}", CF_ERR_FORMAT, "no \"weight_map\""},
        {"{\"metadata\":{}}", CF_ERR_FORMAT, "no \"weight_map\""},
        {"{\"weight_map\":{\"embed\":\"missing.safetensors\"}}", CF_ERR_NOT_FOUND, "missing.safetensors: cannot open"},
        {"{\"weight_map\":{\"nope\":\"model-00001-of-00002.safetensors\"}}", CF_ERR_FORMAT, "but no shard has it"},
        {"{\"weight_map\":{\"embed\":\"model-00002-of-00002.safetensors\",\"head\":\"model-00001-of-00002.safetensors\"}}",
         CF_ERR_FORMAT, "but it is in"},
        {"{\"weight_map\":{\"embed\":", CF_ERR_FORMAT, "JSON ends early"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cf_safetensors *st = NULL;
        cf_error err = {0};
        cf_status s = open_index_text(cases[i].index, &st, &err);
        cr_expect_eq(s, cases[i].status, "case %zu: %s (%s)", i, cf_status_name(s), err.message);
        cr_expect(strstr(err.message, cases[i].message_part), "case %zu: '%s' lacks '%s'", i, err.message,
                  cases[i].message_part);
        cr_assert_null(st);
    }
}

Test(safetensors, tensor_in_two_shards_is_rejected, .init = make_tmp, .fini = remove_tmp)
{
    const char *a[] = {"x", "y"};
    const char *b[] = {"y", "z"};
    write_shard("s1.safetensors", a, 2);
    write_shard("s2.safetensors", b, 2);
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(open_index_text("{\"weight_map\":{\"x\":\"s1.safetensors\",\"y\":\"s1.safetensors\","
                                 "\"z\":\"s2.safetensors\"}}",
                                 &st, &err),
                 CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "tensor 'y' is in both"), "%s", err.message);
}

Test(safetensors, open_dir_without_weights_says_what_it_looked_for, .init = make_tmp, .fini = remove_tmp)
{
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_open_dir(g_tmp, &st, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "no model.safetensors or model.safetensors.index.json"), "%s", err.message);
    char bin[512];
    tmp_path(bin, sizeof bin, "pytorch_model.bin");
    write_text(bin, "pickle");
    cr_assert_eq(cf_st_open_dir(g_tmp, &st, &err), CF_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "pytorch_model.bin"), "%s", err.message);
}
