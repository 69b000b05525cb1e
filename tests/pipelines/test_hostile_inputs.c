/* Hostile inputs never crash or hang a pipeline: each must give a result or a clear error.
 *
 * - each file of tests/data/bad/hostile/<task>/: payloads that must fail with a message, run through
 *   cf_pipeline_run on a fixture model of that task (the first case, walking the fixtures, that
 *   records a call of the task).
 * - Generated texts (empty, a NUL, 1 MB, 4-byte characters) through every text task: a result
 *   that is valid JSON, or an error with a message.
 * - Corrupted model folders (a copy of a fixture case with a truncated model.safetensors or a
 *   config.json whose integers are strings, huge, negative or zero): cf_pipeline_open fails
 *   naming the file. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/replay.h"
#include "common/testutil.h"
#include "core/buf.h"
#include "pipelines/pipeline.h"

/* ------------------------------------------------------------ finding a model ---- */

typedef struct task_case {
    const cf_task *want;
    char dir[4096];
    char task[64]; /* as the case records it, e.g. "translation_en_to_mg" */
} task_case;

static void match_entry(const char *dir, const cJSON *entry, int index, void *ctx)
{
    (void)index;
    task_case *tc = ctx;
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "call"), "task"));
    if (!tc->dir[0] && task && cf_task_find(task) == tc->want) {
        snprintf(tc->dir, sizeof tc->dir, "%s", dir);
        snprintf(tc->task, sizeof tc->task, "%s", task);
    }
}

/* Every family folder under the fixtures, sorted. */
static size_t families(char ***out)
{
    *out = NULL;
    DIR *d = opendir(cf_test_fixtures());
    if (!d)
        return 0;
    size_t n = 0;
    char **list = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", cf_test_fixtures(), e->d_name);
        if (e->d_name[0] == '.' || !cf_dir_exists(path))
            continue;
        list = realloc(list, (n + 1) * sizeof *list);
        list[n++] = strdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of names */
        for (size_t j = i; j > 0 && strcmp(list[j - 1], list[j]) > 0; j--) {
            char *t = list[j];
            list[j] = list[j - 1];
            list[j - 1] = t;
        }
    *out = list;
    return n;
}

/* The first fixture case that records a call of `task` (any alias or spelling of it). */
static bool find_task_case(const char *task, task_case *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->want = cf_task_find(task);
    cr_assert(tc->want, "'%s' is not a task name", task);
    char **fams;
    size_t n = families(&fams);
    for (size_t i = 0; i < n && !tc->dir[0]; i++)
        cf_test_each_call(fams[i], match_entry, tc);
    cf_test_free_list(fams, n);
    return tc->dir[0] != 0;
}

/* ------------------------------------------------------------ payloads ---- */

static char *replace_all(const char *s, const char *what, const char *with)
{
    cf_buf b = {0};
    size_t wl = strlen(what);
    for (const char *hit; (hit = strstr(s, what)); s = hit + wl) {
        cf_buf_append(&b, s, (size_t)(hit - s));
        cf_buf_puts(&b, with);
    }
    cf_buf_puts(&b, s);
    return cf_buf_steal(&b);
}

static char *long_text(size_t bytes)
{
    char *s = malloc(bytes + 1);
    for (size_t i = 0; i < bytes; i++)
        s[i] = i % 2 ? ' ' : 'a';
    s[bytes] = '\0';
    return s;
}

/* The payload file with its placeholders filled in (see tests/data/bad/hostile/README.md). */
static char *expand_payload(const char *raw)
{
    char *long_one = long_text(1 << 20);
    char *a = replace_all(raw, "@DATA@", cf_test_data());
    char *b = replace_all(a, "@LONG@", long_one);
    char *c = replace_all(b, "@MASK@", "hello <mask> [MASK] world");
    free(a);
    free(b);
    free(long_one);
    return c;
}

/* A result must be valid JSON; a failure must say something. Returns the status. */
static cf_status run_checked(cf_pipeline *p, const char *where, const char *payload, bool must_fail)
{
    cf_result *r = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run(p, payload, &r, &err);
    if (s == CF_OK) {
        cJSON *j = cJSON_Parse(cf_result_json(r));
        cr_expect(j, "%s: the result is not JSON: %.200s", where, cf_result_json(r));
        cJSON_Delete(j);
        cr_expect(!must_fail, "%s: should fail, gave %.200s", where, cf_result_json(r));
    } else {
        cr_expect(err.message[0], "%s: failed (%s) without a message", where, cf_status_name(s));
        cr_expect_neq(s, CF_ERR_INTERNAL, "%s: an internal error for bad input: %s", where, err.message);
    }
    cf_result_free(r);
    return s;
}

static size_t run_task_folder(const char *task_dir, const char *task)
{
    task_case tc;
    if (!find_task_case(task, &tc)) {
        cr_log_warn("no fixture case records a %s call; %s not run", task, task_dir);
        return 0;
    }
    cf_pipeline *p = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_open(tc.task, tc.dir, NULL, &p, &err), CF_OK, "%s: %s", tc.dir, err.message);
    DIR *d = opendir(task_dir);
    cr_assert(d, "%s", task_dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        char path[8400], *raw = NULL;
        size_t size = 0;
        snprintf(path, sizeof path, "%s/%s", task_dir, e->d_name);
        cr_assert_eq(cf_read_file(path, 1 << 20, &raw, &size, &err), CF_OK, "%s", err.message);
        char *payload = expand_payload(raw);
        run_checked(p, path, payload, true);
        free(payload);
        free(raw);
        n++;
    }
    closedir(d);
    cf_pipeline_free(p);
    return n;
}

Test(hostile_inputs, every_bad_payload_fails_clearly)
{
    char root[4200];
    snprintf(root, sizeof root, "%s/bad/hostile", cf_test_data());
    DIR *d = opendir(root);
    cr_assert(d, "%s is missing", root);
    size_t payloads = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char sub[8400];
        snprintf(sub, sizeof sub, "%s/%s", root, e->d_name);
        if (e->d_name[0] != '.' && cf_dir_exists(sub))
            payloads += run_task_folder(sub, e->d_name);
    }
    closedir(d);
    cr_log_info("%zu hostile payloads failed cleanly", payloads);
    cr_assert_gt(payloads, 0, "no hostile payloads were run");
}

/* ------------------------------------------------------------ odd texts ---- */

static const char *const k_text_tasks[] = {"text-classification", "token-classification", "feature-extraction",
                                           "fill-mask", "zero-shot-classification", "question-answering",
                                           "text-generation", "summarization", "translation"};

/* {"inputs": text} with what the task needs beside it. */
static char *text_payload(const char *task, const char *text)
{
    cJSON *body = cJSON_CreateObject(), *params = cJSON_AddObjectToObject(body, "parameters");
    if (!strcmp(task, "question-answering")) {
        cJSON *in = cJSON_AddObjectToObject(body, "inputs");
        cJSON_AddStringToObject(in, "question", text[0] ? text : "what?");
        cJSON_AddStringToObject(in, "context", text);
    } else {
        cJSON_AddStringToObject(body, "inputs", text);
    }
    if (!strcmp(task, "zero-shot-classification"))
        cJSON_AddItemToObject(params, "candidate_labels", cJSON_CreateString("yes,no"));
    if (strstr(task, "generation") || !strcmp(task, "summarization") || !strcmp(task, "translation"))
        cJSON_AddNumberToObject(params, "max_new_tokens", 2);
    char *s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return s;
}

Test(hostile_inputs, odd_texts_give_a_result_or_an_error)
{
    char *huge = long_text(1 << 20);
    char emoji[4 * 512 + 1] = "";
    for (int i = 0; i < 512; i++)
        strcat(emoji, "\xF0\x9F\x98\x80");
    const char *texts[] = {"", "\x01\x02 control", "nul \\u0000 inside", emoji, huge};
    size_t runs = 0;
    for (size_t t = 0; t < sizeof k_text_tasks / sizeof *k_text_tasks; t++) {
        task_case tc;
        if (!find_task_case(k_text_tasks[t], &tc))
            continue;
        cf_pipeline *p = NULL;
        cf_error err = {0};
        cr_assert_eq(cf_pipeline_open(tc.task, tc.dir, NULL, &p, &err), CF_OK, "%s: %s", tc.dir, err.message);
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            char *payload = text_payload(k_text_tasks[t], texts[i]);
            char *nul = strstr(payload, "\\\\u0000"); /* cJSON escaped our backslash: make it a real \u0000 */
            if (nul)
                memmove(nul, nul + 1, strlen(nul));
            char where[256];
            snprintf(where, sizeof where, "%s on %s, text %zu (%zu bytes)", tc.task, tc.dir, i, strlen(texts[i]));
            run_checked(p, where, payload, false);
            free(payload);
            runs++;
        }
        cf_pipeline_free(p);
    }
    free(huge);
    cr_assert_gt(runs, 0, "no text task has a fixture case");
}

/* ------------------------------------------------------------ broken model folders ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* A fresh folder of links to every file of case_dir except `skip`. */
static void link_case(const char *case_dir, const char *skip, char *tmp)
{
    strcpy(tmp, "/tmp/cf_hostile_XXXXXX");
    cr_assert(mkdtemp(tmp), "mkdtemp");
    DIR *d = opendir(case_dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, skip))
            continue;
        char from[8400], to[8400];
        snprintf(from, sizeof from, "%s/%s", case_dir, e->d_name);
        snprintf(to, sizeof to, "%s/%s", tmp, e->d_name);
        cr_assert_eq(symlink(from, to), 0, "symlink %s", to);
    }
    closedir(d);
}

static void write_file(const char *dir, const char *name, const void *data, size_t size)
{
    char path[8400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s", path);
    fwrite(data, 1, size, f);
    fclose(f);
}

typedef enum { INTS_AS_STRINGS, INTS_HUGE, INTS_NEGATIVE, INTS_ZERO } int_damage;

/* Damage every top-level positive integer of the config (ids kept for the zero case: 0 is valid). */
static void damage_ints(cJSON *cfg, int_damage how)
{
    cJSON *item = cfg->child;
    while (item) {
        cJSON *next = item->next;
        int64_t v;
        if (cf_json_is_int(item, &v) && v > 0 && !(how == INTS_ZERO && strstr(item->string, "_id"))) {
            char text[32];
            snprintf(text, sizeof text, "%lld", (long long)v);
            cJSON *with = how == INTS_AS_STRINGS ? cJSON_CreateString(text)
                          : how == INTS_HUGE     ? cJSON_CreateNumber((double)v * 1000003.0)
                          : how == INTS_NEGATIVE ? cJSON_CreateNumber((double)-v)
                                                 : cJSON_CreateNumber(0);
            char key[256];
            snprintf(key, sizeof key, "%s", item->string);
            cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, with);
        }
        item = next;
    }
}

static void expect_open_fails(const task_case *tc, const char *dir, const char *what, const char *file)
{
    cf_pipeline *p = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_open(tc->task, dir, NULL, &p, &err);
    cr_expect_neq(s, CF_OK, "%s with %s: %s opened (%s)", tc->dir, what, tc->task, dir);
    if (s == CF_OK) {
        cf_pipeline_free(p);
        return;
    }
    cr_expect(strstr(err.message, file), "%s with %s: the message should name %s: %s", tc->dir, what, file,
              err.message);
}

static void break_case(const task_case *tc)
{
    char tmp[64], path[8400], *bytes = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/model.safetensors", tc->dir);
    cf_error err = {0};
    cr_assert_eq(cf_read_file(path, (size_t)1 << 30, &bytes, &size, &err), CF_OK, "%s", err.message);
    const size_t cuts[] = {0, 7, 3000, size > 100 ? size - 100 : size / 2};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        link_case(tc->dir, "model.safetensors", tmp);
        write_file(tmp, "model.safetensors", bytes, cuts[i] < size ? cuts[i] : size / 2);
        char what[64];
        snprintf(what, sizeof what, "model.safetensors cut to %zu bytes", cuts[i]);
        expect_open_fails(tc, tmp, what, "model.safetensors");
        nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    free(bytes);

    snprintf(path, sizeof path, "%s/config.json", tc->dir);
    const char *names[] = {"integers as strings", "integers a million times larger", "negative integers",
                           "zero integers"};
    for (int how = INTS_AS_STRINGS; how <= INTS_ZERO; how++) {
        cJSON *cfg = cf_test_read_json(path);
        cr_assert(cfg);
        damage_ints(cfg, (int_damage)how);
        char *text = cJSON_Print(cfg);
        link_case(tc->dir, "config.json", tmp);
        write_file(tmp, "config.json", text, strlen(text));
        expect_open_fails(tc, tmp, names[how], "config.json");
        nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
        free(text);
        cJSON_Delete(cfg);
    }
    link_case(tc->dir, "config.json", tmp);
    write_file(tmp, "config.json", "[1, 2, 3]", 9);
    expect_open_fails(tc, tmp, "a config.json that is an array", "config.json");
    nftw(tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The first case of the family with a model file and a recorded call. */
static void first_call(const char *dir, const cJSON *entry, int index, void *ctx)
{
    task_case *tc = ctx;
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(entry, "call"), "task"));
    char model[4200];
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    if (index == 0 && !tc->dir[0] && task && cf_file_exists(model)) {
        snprintf(tc->dir, sizeof tc->dir, "%s", dir);
        snprintf(tc->task, sizeof tc->task, "%s", task);
    }
}

Test(hostile_inputs, broken_model_folders_fail_naming_the_file)
{
    char **fams;
    size_t n = families(&fams), broken = 0;
    for (size_t i = 0; i < n; i++) {
        task_case tc = {0};
        cf_test_each_call(fams[i], first_call, &tc);
        if (!tc.dir[0])
            continue;
        break_case(&tc);
        broken++;
    }
    cf_test_free_list(fams, n);
    cr_assert_gt(broken, 0, "no fixture case with a model was found under %s", cf_test_fixtures());
}
