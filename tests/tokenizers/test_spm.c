/* sentencepiece pieces: the ModelProto reader on every .model/.spm under the fixtures and on
 * the malformed files of tests/data/bad/spm, and the converters' tokenizer.json trees. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/config.h"
#include "common/testutil.h"
#include "tokenizers/convert_spm.h"
#include "tokenizers/precompiled.h"
#include "tokenizers/spm_proto.h"

typedef struct path_list {
    char **v;
    size_t n, cap;
} path_list;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void list_push(path_list *l, const char *path)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = cf_strdup(path);
}

typedef struct walk_ctx {
    const char *const *suffixes;
    size_t n_suffixes;
    path_list *out;
} walk_ctx;

static void visit(const char *path, const char *name, void *ctx)
{
    walk_ctx *w = ctx;
    if (cf_dir_exists(path)) {
        cf_test_each_entry(path, visit, w);
        return;
    }
    for (size_t i = 0; i < w->n_suffixes; i++)
        if (ends_with(name, w->suffixes[i]))
            list_push(w->out, path);
}

/* Every file under root whose name ends with one of the suffixes, recursively. */
static void walk(const char *root, const char *const *suffixes, size_t n_suffixes, path_list *out)
{
    cf_test_each_entry(root, visit, &(walk_ctx){.suffixes = suffixes, .n_suffixes = n_suffixes, .out = out});
}

static void free_list(path_list *l) { cf_test_free_list(l->v, l->n); }

static path_list fixture_models(void)
{
    static const char *const suffixes[] = {".model", ".spm"};
    path_list l = {0};
    walk(cf_test_fixtures(), suffixes, 2, &l);
    return l;
}

Test(spm_proto, parses_every_fixture_model)
{
    path_list models = fixture_models();
    cr_assert_gt(models.n, 0, "no .model/.spm files under %s", cf_test_fixtures());
    for (size_t f = 0; f < models.n; f++) {
        cf_error err = {0};
        cf_spm_model m;
        cr_assert_eq(cf_spm_load(models.v[f], &m, &err), CF_OK, "%s", err.message);
        cr_assert_gt(m.n_pieces, 0, "%s", models.v[f]);
        size_t counts[7] = {0};
        for (size_t i = 0; i < m.n_pieces; i++) {
            const cf_spm_piece *p = &m.pieces[i];
            cr_assert(p->type >= CF_SPM_NORMAL && p->type <= CF_SPM_BYTE, "%s piece %zu", models.v[f], i);
            cr_assert(isfinite(p->score) && p->score <= 0.0f, "%s piece %zu score %g", models.v[f], i, p->score);
            cr_assert_gt(strlen(p->piece), 0);
            counts[p->type]++;
        }
        /* sentencepiece's own invariants: exactly one unknown piece, at unk_id */
        cr_assert_eq(counts[CF_SPM_UNKNOWN], 1, "%s: %zu UNKNOWN pieces", models.v[f], counts[CF_SPM_UNKNOWN]);
        cr_assert(m.trainer.unk_id >= 0 && (size_t)m.trainer.unk_id < m.n_pieces);
        cr_assert_eq(m.pieces[m.trainer.unk_id].type, CF_SPM_UNKNOWN);
        cr_assert_str_eq(m.pieces[m.trainer.unk_id].piece, m.trainer.unk_piece);
        if (m.trainer.byte_fallback)
            cr_assert_eq(counts[CF_SPM_BYTE], 256, "%s: byte_fallback with %zu byte pieces", models.v[f],
                         counts[CF_SPM_BYTE]);
        cr_assert(m.trainer.model_type == CF_SPM_UNIGRAM || m.trainer.model_type == CF_SPM_BPE);
        cr_assert(m.normalizer.present, "%s: no normalizer_spec", models.v[f]);
        cr_assert_gt(strlen(m.normalizer.name), 0, "%s: normalizer has no name", models.v[f]);
        if (m.normalizer.charsmap_len) {
            cf_precompiled *p;
            cr_assert_eq(cf_precompiled_new(m.normalizer.precompiled_charsmap, m.normalizer.charsmap_len, &p, &err),
                         CF_OK, "%s: %s", models.v[f], err.message);
            cf_precompiled_free(p);
        }
        cr_log_info("%s: %zu pieces (%zu normal, %zu control, %zu byte), type %d, normalizer %s", models.v[f],
                    m.n_pieces, counts[CF_SPM_NORMAL], counts[CF_SPM_CONTROL], counts[CF_SPM_BYTE],
                    m.trainer.model_type, m.normalizer.name);
        cf_spm_model_free(&m);
    }
    free_list(&models);
}

Test(spm_proto, rejects_every_bad_file)
{
    static const char *const suffixes[] = {".model", ".spm"};
    char root[4096];
    snprintf(root, sizeof root, "%s/bad/spm", cf_test_data());
    path_list bad = {0};
    walk(root, suffixes, 2, &bad);
    cr_assert_geq(bad.n, 10, "expected the malformed models in %s", root);
    for (size_t f = 0; f < bad.n; f++) {
        cf_error err = {0};
        cf_spm_model m;
        cf_status st = cf_spm_load(bad.v[f], &m, &err);
        cr_assert_eq(st, CF_ERR_FORMAT, "%s: accepted or wrong status %s", bad.v[f], cf_status_name(st));
        cr_assert(strstr(err.message, bad.v[f]) != NULL, "message does not name the file: %s", err.message);
        cr_assert_eq(m.n_pieces, 0);
    }
    free_list(&bad);
}

/* Every prefix of a real model is either a valid (shorter) model or a clean error. */
Test(spm_proto, truncations_of_a_real_model)
{
    path_list models = fixture_models();
    cr_assert_gt(models.n, 0);
    char *data;
    size_t len;
    cf_error err = {0};
    cr_assert_eq(cf_read_file(models.v[0], (size_t)1 << 30, &data, &len, &err), CF_OK);
    size_t step = len / 4000 + 1, rejected = 0;
    for (size_t cut = 0; cut < len; cut += step) {
        cf_spm_model m;
        cf_status st = cf_spm_parse((const uint8_t *)data, cut, "cut", &m, &err);
        cr_assert(st == CF_OK || st == CF_ERR_FORMAT);
        rejected += st != CF_OK;
        cf_spm_model_free(&m);
    }
    cr_assert_gt(rejected, 0);
    free(data);
    free_list(&models);
}

/* ---- converters ---- */

static const cJSON *get(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* Tokenizer folders that hold both a sentencepiece model and the library's tokenizer.json. */
static path_list converted_folders(void)
{
    char root[4096];
    snprintf(root, sizeof root, "%s/tokenizers", cf_test_fixtures());
    path_list out = {0};
    DIR *d = opendir(root);
    if (!d)
        return out;
    struct dirent *e;
    while ((e = readdir(d))) {
        char dir[4096], tj[4200];
        snprintf(dir, sizeof dir, "%s/%s", root, e->d_name);
        snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
        if (e->d_name[0] != '.' && cf_file_exists(tj) && cf_spm_folder_has_model(dir))
            list_push(&out, dir);
    }
    closedir(d);
    return out;
}

static void assert_same(const cJSON *a, const cJSON *b, const char *dir, const char *what)
{
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    cr_assert(cJSON_Compare(a, b, true), "%s: %s differs:\n ours %.600s\n file %.600s", dir, what, sa, sb);
    free(sa);
    free(sb);
}

/* The parts of a converted document that do not depend on the legacy whitespace rules
 * must equal the library's own tokenizer.json of the same folder. */
Test(convert_spm, matches_the_libraries_tokenizer_json)
{
    path_list dirs = converted_folders();
    cr_assert_gt(dirs.n, 0, "no tokenizer folder with a sentencepiece model and tokenizer.json");
    for (size_t f = 0; f < dirs.n; f++) {
        cf_error err = {0};
        cJSON *ours;
        cr_assert_eq(cf_spm_convert(dirs.v[f], &ours, &err), CF_OK, "%s", err.message);
        char tj[4200];
        snprintf(tj, sizeof tj, "%s/tokenizer.json", dirs.v[f]);
        cJSON *ref = cf_test_read_json(tj);
        cr_assert_not_null(ref);
        const cJSON *om = get(ours, "model"), *rm = get(ref, "model");
        cr_assert_str_eq(get(om, "type")->valuestring, get(rm, "type")->valuestring);
        assert_same(get(om, "vocab"), get(rm, "vocab"), dirs.v[f], "model.vocab");
        if (get(rm, "merges"))
            assert_same(get(om, "merges"), get(rm, "merges"), dirs.v[f], "model.merges");
        for (const cJSON *k = rm->child; k; k = k->next)
            if (strcmp(k->string, "vocab") && strcmp(k->string, "merges"))
                assert_same(get(om, k->string), k, dirs.v[f], k->string);
        assert_same(get(ours, "post_processor"), get(ref, "post_processor"), dirs.v[f], "post_processor");
        assert_same(get(ours, "decoder"), get(ref, "decoder"), dirs.v[f], "decoder");
        /* added tokens: same ids, contents and specialness */
        const cJSON *oa = get(ours, "added_tokens"), *ra = get(ref, "added_tokens");
        cr_assert_eq(cJSON_GetArraySize(oa), cJSON_GetArraySize(ra), "%s: added token count", dirs.v[f]);
        for (int i = 0; i < cJSON_GetArraySize(ra); i++) {
            const cJSON *o = cJSON_GetArrayItem(oa, i), *r = cJSON_GetArrayItem(ra, i);
            cr_assert_eq(get(o, "id")->valuedouble, get(r, "id")->valuedouble);
            cr_assert_str_eq(get(o, "content")->valuestring, get(r, "content")->valuestring);
            cr_assert_eq(cJSON_IsTrue(get(o, "special")), cJSON_IsTrue(get(r, "special")));
        }
        /* the Precompiled charsmap is carried over byte for byte */
        const cJSON *rn = get(ref, "normalizer");
        const cJSON *rl = get(rn, "normalizers");
        for (int i = 0; i < cJSON_GetArraySize(rl); i++) {
            const cJSON *r = cJSON_GetArrayItem(rl, i);
            if (strcmp(get(r, "type")->valuestring, "Precompiled"))
                continue;
            const cJSON *o = cJSON_GetArrayItem(get(get(ours, "normalizer"), "normalizers"), 0);
            assert_same(o, r, dirs.v[f], "Precompiled normalizer");
        }
        if (!get(get(ref, "normalizer"), "normalizers") || strcmp(get(rm, "type")->valuestring, "BPE") == 0) {
            assert_same(get(ours, "normalizer"), rn, dirs.v[f], "normalizer");
            assert_same(get(ours, "pre_tokenizer"), get(ref, "pre_tokenizer"), dirs.v[f], "pre_tokenizer");
        }
        cJSON_Delete(ours);
        cJSON_Delete(ref);
    }
    free_list(&dirs);
}

Test(convert_spm, missing_and_bad_folders)
{
    cf_error err = {0};
    cJSON *out = (cJSON *)1;
    cr_assert_eq(cf_spm_convert("/nonexistent-folder", &out, &err), CF_ERR_NOT_FOUND);
    cr_assert_null(out);
    char root[4096];
    snprintf(root, sizeof root, "%s/bad/spm", cf_test_data());
    cf_status st = cf_spm_convert(root, &out, &err);
    cr_assert_eq(st, CF_ERR_FORMAT, "%s", err.message);
    cr_assert_null(out);
}
