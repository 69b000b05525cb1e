/* Model lookup: Hub id validation, cache location from the environment, refs -> snapshots. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "io/model_dir.h"

Test(model_dir, id_validation)
{
    static const char *const good[] = {"gpt2", "openai/whisper-base.en", "Helsinki-NLP/opus-mt-fr-en",
                                       "org/name@main", "org/name@v1.0", "org/name@refs/pr/1",
                                       "distilbert-base-uncased-finetuned-sst-2-english",
                                       "org/name@0123456789abcdef0123456789abcdef01234567"};
    static const char *const bad[] = {"", "..", "../etc", "org/..", "org/../x", "/abs/path", "org//name", "org/",
                                      "/name", "a/b/c", "org/na me", "org/na;me", "org/name@", "org/name@../x",
                                      "org/name@refs//x", "org/name@a/../b", "~/x", "org\\name", "org/name@@x",
                                      "org/name@x@y", ".", "org/.", "a\nb"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        cr_expect(cf_model_id_valid(good[i]), "'%s' should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_not(cf_model_id_valid(bad[i]), "'%s' should be rejected", bad[i]);
    cr_expect_not(cf_model_id_valid(NULL));
}

/* ---------------------------------------------------------------- fake cache ---- */

static char g_root[256];

static void run(const char *fmt, const char *arg)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, arg);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void mkdirs(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    char *p = path + strlen(g_root) + 1;
    for (; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    mkdir(path, 0755);
}

static void write_file(const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_root, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

#define COMMIT_MAIN "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define COMMIT_V1 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define COMMIT_PR "cccccccccccccccccccccccccccccccccccccccc"
#define COMMIT_LOOSE "dddddddddddddddddddddddddddddddddddddddd"

static void fake_cache(void)
{
    snprintf(g_root, sizeof g_root, "/tmp/cf_hub_test_XXXXXX");
    cr_assert_not_null(mkdtemp(g_root));
    mkdirs("hub/models--org--name/refs/refs/pr");
    mkdirs("hub/models--org--name/snapshots/" COMMIT_MAIN);
    mkdirs("hub/models--org--name/snapshots/" COMMIT_V1);
    mkdirs("hub/models--org--name/snapshots/" COMMIT_PR);
    mkdirs("hub/models--org--name/snapshots/" COMMIT_LOOSE);
    write_file("hub/models--org--name/refs/main", COMMIT_MAIN "\n");
    write_file("hub/models--org--name/refs/v1", COMMIT_V1);
    write_file("hub/models--org--name/refs/refs/pr/1", COMMIT_PR);
    mkdirs("hub/models--gpt2/refs");
    mkdirs("hub/models--gpt2/snapshots/" COMMIT_MAIN);
    write_file("hub/models--gpt2/refs/main", COMMIT_MAIN);
    mkdirs("hub/models--broken--ref/refs");
    write_file("hub/models--broken--ref/refs/main", "../../etc\n");
    mkdirs("hub/models--gone--snapshot/refs");
    write_file("hub/models--gone--snapshot/refs/main", COMMIT_V1);
    mkdirs("local_model");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HF_HOME");
    char hub[512];
    snprintf(hub, sizeof hub, "%s/hub", g_root);
    setenv("HF_HUB_CACHE", hub, 1);
}

static void remove_cache(void) { run("rm -rf '%s'", g_root); }

static void expect_resolves(const char *id, const char *rel)
{
    char out[CF_PATH_MAX], want[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(cf_model_resolve(id, out, sizeof out, &err), CF_OK, "%s: %s", id, err.message);
    snprintf(want, sizeof want, "%s/%s", g_root, rel);
    cr_assert_str_eq(out, want, "%s", id);
}

Test(model_dir, cache_dir_follows_environment, .init = fake_cache, .fini = remove_cache)
{
    char out[CF_PATH_MAX], want[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(cf_hf_cache_dir(out, sizeof out, &err), CF_OK);
    snprintf(want, sizeof want, "%s/hub", g_root);
    cr_assert_str_eq(out, want);

    unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", "/srv/hf", 1);
    cr_assert_eq(cf_hf_cache_dir(out, sizeof out, &err), CF_OK);
    cr_assert_str_eq(out, "/srv/hf/hub");

    unsetenv("HF_HOME");
    setenv("HOME", "/home/someone", 1);
    cr_assert_eq(cf_hf_cache_dir(out, sizeof out, &err), CF_OK);
    cr_assert_str_eq(out, "/home/someone/.cache/huggingface/hub");

    setenv("HF_HOME", "~/hf", 1);
    cr_assert_eq(cf_hf_cache_dir(out, sizeof out, &err), CF_OK);
    cr_assert_str_eq(out, "/home/someone/hf/hub");

    setenv("HF_HUB_CACHE", "", 1); /* empty counts as unset */
    cr_assert_eq(cf_hf_cache_dir(out, sizeof out, &err), CF_OK);
    cr_assert_str_eq(out, "/home/someone/hf/hub");
}

Test(model_dir, resolves_refs_to_snapshots, .init = fake_cache, .fini = remove_cache)
{
    expect_resolves("org/name", "hub/models--org--name/snapshots/" COMMIT_MAIN);
    expect_resolves("org/name@main", "hub/models--org--name/snapshots/" COMMIT_MAIN);
    expect_resolves("org/name@v1", "hub/models--org--name/snapshots/" COMMIT_V1);
    expect_resolves("org/name@refs/pr/1", "hub/models--org--name/snapshots/" COMMIT_PR);
    expect_resolves("org/name@" COMMIT_LOOSE, "hub/models--org--name/snapshots/" COMMIT_LOOSE);
    expect_resolves("gpt2", "hub/models--gpt2/snapshots/" COMMIT_MAIN);
}

Test(model_dir, directory_is_used_as_is, .init = fake_cache, .fini = remove_cache)
{
    char dir[512], out[CF_PATH_MAX];
    cf_error err = {0};
    snprintf(dir, sizeof dir, "%s/local_model", g_root);
    cr_assert_eq(cf_model_resolve(dir, out, sizeof out, &err), CF_OK, "%s", err.message);
    cr_assert_str_eq(out, dir);
}

Test(model_dir, missing_model_says_where_it_looked, .init = fake_cache, .fini = remove_cache)
{
    char out[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(cf_model_resolve("org/other", out, sizeof out, &err), CF_ERR_NOT_FOUND);
    char looked[512];
    snprintf(looked, sizeof looked, "%s/hub/models--org--other/refs/main", g_root);
    cr_assert(strstr(err.message, looked), "%s", err.message);
    cr_assert(strstr(err.message, "cformer pull org/other"), "%s", err.message);

    cr_assert_eq(cf_model_resolve("org/name@v2", out, sizeof out, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "refs/v2"), "%s", err.message);

    cr_assert_eq(cf_model_resolve("gone/snapshot", out, sizeof out, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "snapshots/" COMMIT_V1) && strstr(err.message, "missing"), "%s", err.message);

    cr_assert_eq(cf_model_resolve("broken/ref", out, sizeof out, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "does not hold a commit hash"), "%s", err.message);
}

Test(model_dir, bad_ids_and_paths_are_rejected, .init = fake_cache, .fini = remove_cache)
{
    char out[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(cf_model_resolve("org/na;me", out, sizeof out, &err), CF_ERR_INVALID_ARG);
    cr_assert(strstr(err.message, "'org/na;me'") && strstr(err.message, "Hub model id"), "%s", err.message);
    cr_assert_eq(cf_model_resolve("org/name@../../x", out, sizeof out, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_model_resolve("", out, sizeof out, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_model_resolve("/no/such/folder", out, sizeof out, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "/no/such/folder"), "%s", err.message);
    cr_assert_eq(cf_model_resolve("./missing", out, sizeof out, &err), CF_ERR_NOT_FOUND);
    char small[8];
    cr_assert_neq(cf_model_resolve("org/name", small, sizeof small, &err), CF_OK, "a too small buffer is an error");
}
