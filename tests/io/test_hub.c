/* The Hub client against the mock Hub (tests/mockhub/mockhub.py) on 127.0.0.1: a clean pull
 * lands in the HF cache layout Python reads, and every injected fault (dropped connections,
 * 503s, wrong sha256, stalls, short bodies) either heals by retry/resume or fails cleanly with
 * nothing half-written under snapshots/. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "io/hub.h"
#include "io/hub_cache.h"
#include "io/model_dir.h"
#include "mockhub/mockhub_launch.h"
#include "common/testutil.h"

#define REPO "test-org/tiny-model"

/* ---- a model folder to serve: the smallest fixture model, found by walking ---- */

static int64_t size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void smallest_fixture_model(char *out, size_t size)
{
    out[0] = '\0';
    int64_t best = -1;
    DIR *d = opendir(cf_test_fixtures());
    cr_assert(d, "cannot open fixtures folder %s", cf_test_fixtures());
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **cases = NULL;
        size_t n = cf_test_cases(e->d_name, "model.safetensors", &cases);
        for (size_t i = 0; i < n; i++) {
            char weights[4200], config[4200];
            snprintf(weights, sizeof weights, "%s/model.safetensors", cases[i]);
            snprintf(config, sizeof config, "%s/config.json", cases[i]);
            int64_t s = size_of(weights);
            if (cf_file_exists(config) && (best < 0 || s < best || (s == best && strcmp(cases[i], out) < 0))) {
                best = s;
                snprintf(out, size, "%s", cases[i]);
            }
        }
        cf_test_free_list(cases, n);
    }
    closedir(d);
    cr_assert(out[0], "no fixture folder with config.json + model.safetensors under %s", cf_test_fixtures());
}

/* ---- per-test scratch: a cache folder and the mock ---- */

static char g_cache[256];
static char g_model[4096];
static char g_repo_arg[4200];
static mockhub g_hub;

static void setup(void)
{
    snprintf(g_cache, sizeof g_cache, "/tmp/cf_hubcache_XXXXXX");
    cr_assert(mkdtemp(g_cache));
    smallest_fixture_model(g_model, sizeof g_model);
    snprintf(g_repo_arg, sizeof g_repo_arg, REPO "=%s", g_model);
    unsetenv("HF_TOKEN");
    unsetenv("HUGGING_FACE_HUB_TOKEN");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("TRANSFORMERS_OFFLINE");
    setenv("HF_HOME", g_cache, 1); /* no token file from the real home */
    setenv("HF_HUB_CACHE", g_cache, 1);
    setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1", 1);
}

static void teardown(void)
{
    mockhub_stop(&g_hub);
    mockhub_rmtree(g_cache);
}

TestSuite(hub, .init = setup, .fini = teardown, .timeout = 60);

/* Start the mock on the fixture repo plus `extra` arguments (NULL-terminated). */
static void start_hub(const char *const *extra)
{
    const char *args[40] = {"--repo", g_repo_arg};
    int n = 2;
    for (int i = 0; extra && extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    cr_assert(mockhub_start(&g_hub, args), "the mock Hub did not start (python3 tests/mockhub/mockhub.py)");
}

static cf_hub_options fast_options(void)
{
    cf_hub_options o = cf_hub_options_default();
    o.endpoint = g_hub.endpoint;
    o.quiet = true;
    o.retry_base_ms = 20;
    o.stall_timeout_s = 2;
    return o;
}

static cf_status pull(const char *id, const cf_hub_options *o, char *dir, cf_error *err)
{
    return cf_hub_pull(id, o, dir, CF_PATH_MAX, err);
}

static bool same_bytes(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    bool ok = cf_read_file(a, 1u << 30, &x, &nx, NULL) == CF_OK && cf_read_file(b, 1u << 30, &y, &ny, NULL) == CF_OK &&
              nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return ok;
}

/* Every file the pull should take from the model folder is in the snapshot, byte for byte. */
static void assert_snapshot_matches_model(const char *snapshot)
{
    const char *names[] = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                           "vocab.txt", "vocab.json", "merges.txt", "special_tokens_map.json"};
    int checked = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char src[4200], dst[4200];
        snprintf(src, sizeof src, "%s/%s", g_model, names[i]);
        snprintf(dst, sizeof dst, "%s/%s", snapshot, names[i]);
        if (!cf_file_exists(src))
            continue;
        cr_assert(same_bytes(src, dst), "%s differs from %s", dst, src);
        struct stat st;
        cr_assert(lstat(dst, &st) == 0 && S_ISLNK(st.st_mode), "%s is not a symlink into blobs/", dst);
        checked++;
    }
    cr_assert(checked >= 2, "expected at least config.json and model.safetensors");
}

static void repo_path(char *out, size_t size, const char *sub)
{
    snprintf(out, size, "%s/models--test-org--tiny-model/%s", g_cache, sub);
}

/* No *.incomplete remains linked and nothing under snapshots/ dangles. */
static void assert_python_layout(const char *revision)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 %s/tests/mockhub/check_cache.py %s " REPO " %s config.json model.safetensors",
             mockhub_source_dir(), g_cache, revision);
    cr_assert(system(cmd) == 0, "the cache breaks huggingface_hub's layout rules: %s", cmd);
}

/* Entries of dir ending in suffix whose names are `name_len` long (0: any length). */
static int count_entries(const char *dir, const char *suffix, size_t name_len)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name), m = strlen(suffix);
        if (e->d_name[0] != '.' && len >= m && !strcmp(e->d_name + len - m, suffix) && (!name_len || len == name_len))
            n++;
    }
    closedir(d);
    return n;
}

static char *sha_of_model(void)
{
    /* The sha256 of model.safetensors is its blob name: find it among blobs of 64 hex chars. */
    static char name[128];
    char blobs[4200];
    repo_path(blobs, sizeof blobs, "blobs");
    DIR *d = opendir(blobs);
    name[0] = '\0';
    if (!d)
        return name;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strlen(e->d_name) == 64)
            snprintf(name, sizeof name, "%s", e->d_name);
    closedir(d);
    return name;
}

Test(hub, clean_pull_matches_the_source_and_python_layout)
{
    start_hub(NULL);
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
    assert_python_layout("main");

    /* The folder cformer's own resolver finds is the one the pull reported. */
    char resolved[CF_PATH_MAX];
    cr_assert_eq(cf_model_resolve(REPO, resolved, sizeof resolved, &err), CF_OK, "%s", err.message);
    cr_assert_str_eq(resolved, dir);

    /* The LFS blob is named by its sha256, the link is relative. */
    char link[4200], target[4200];
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    ssize_t n = readlink(link, target, sizeof target - 1);
    cr_assert(n > 0);
    target[n] = '\0';
    cr_assert(!strncmp(target, "../../blobs/", 12), "link target %s", target);
    cr_assert_eq(strlen(target + 12), 64u, "LFS blob name %s is not a sha256", target + 12);

    /* Only what cformer reads: no expected/inputs fixtures beyond *.json, no folders. */
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"\"GET\"", "/api/models/", NULL}), 1);
}

Test(hub, second_pull_downloads_nothing)
{
    start_hub(NULL);
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    int gets = mockhub_count(&g_hub, (const char *[]){"\"GET\"", NULL});
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"\"GET\"", NULL}), gets + 1,
                 "the second pull should only fetch the listing");
}

Test(hub, dropped_connections_resume_with_range)
{
    start_hub((const char *[]){"--fault", "drop:model.safetensors:2", "--fault", "truncate:config.json:1", NULL});
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
    cr_assert_geq(mockhub_count(&g_hub, (const char *[]){"\"cdn\"", "\"status\": 206", "bytes=", NULL}), 2,
                  "retries after a dropped connection should resume with a Range request");
    assert_python_layout("main");
}

Test(hub, server_errors_are_retried)
{
    start_hub((const char *[]){"--fault", "503:*:3", "--fault", "api:api:2", NULL});
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
    cr_assert_geq(mockhub_count(&g_hub, (const char *[]){"\"status\": 503", NULL}), 5);
}

Test(hub, persistent_server_errors_fail_after_retries)
{
    start_hub((const char *[]){"--fault", "503:model.safetensors:-1", NULL});
    cf_hub_options o = fast_options();
    o.max_retries = 2;
    char dir[CF_PATH_MAX], refs[4200];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_ERR_IO);
    cr_assert(strstr(err.message, "503"), "message: %s", err.message);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"\"status\": 503", NULL}), 3, "1 try + 2 retries");
    repo_path(refs, sizeof refs, "refs/main");
    cr_assert(!cf_file_exists(refs), "refs/main must wait for a complete snapshot");
}

Test(hub, wrong_sha256_is_refused_and_the_cache_stays_consistent)
{
    start_hub((const char *[]){"--fault", "badsha:model.safetensors:-1", NULL});
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX], path[4200];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_ERR_FORMAT, "%s", err.message);
    cr_assert(strstr(err.message, "sha256"), "message: %s", err.message);
    repo_path(path, sizeof path, "blobs");
    /* Other files cancelled mid-way may keep their .incomplete for a resume; the LFS one must go. */
    cr_assert_eq(count_entries(path, ".incomplete", 64 + strlen(".incomplete")), 0,
                 "the corrupt download must be deleted");
    cr_assert_str_eq(sha_of_model(), "", "no blob for the corrupt file");
    repo_path(path, sizeof path, "refs/main");
    cr_assert(!cf_file_exists(path));
    char resolved[CF_PATH_MAX];
    cr_assert_neq(cf_model_resolve(REPO, resolved, sizeof resolved, &err), CF_OK);

    /* Same cache, healthy server: the pull completes. */
    mockhub_stop(&g_hub);
    start_hub(NULL);
    o = fast_options();
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
    assert_python_layout("main");
}

Test(hub, stalled_transfers_time_out_and_retry)
{
    start_hub((const char *[]){"--fault", "slow:model.safetensors:1:4", "--fault", "slow:config.json:1:0.3", NULL});
    cf_hub_options o = fast_options();
    o.stall_timeout_s = 1;
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
    cr_assert_geq(mockhub_count(&g_hub, (const char *[]){"\"cdn\"", "\"GET\"", NULL}), 2,
                  "the stalled transfer should have been retried");
}

Test(hub, partial_file_from_an_earlier_run_is_resumed)
{
    start_hub(NULL);
    /* Learn the blob name with a first pull, then turn the blob back into half a download. */
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX], blob[4200], partial[4300], weights[4200];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    snprintf(blob, sizeof blob, "%s/models--test-org--tiny-model/blobs/%s", g_cache, sha_of_model());
    snprintf(partial, sizeof partial, "%s.incomplete", blob);
    snprintf(weights, sizeof weights, "%s/model.safetensors", g_model);
    int64_t half = size_of(weights) / 2;
    cr_assert_eq(rename(blob, partial), 0);
    cr_assert_eq(truncate(partial, half), 0);
    char link[4200];
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    unlink(link);

    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
    char range[64];
    snprintf(range, sizeof range, "bytes=%lld-", (long long)half);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"\"cdn\"", range, NULL}), 1, "expected a Range resume");
}

Test(hub, offline_never_touches_the_network)
{
    start_hub(NULL);
    setenv("HF_HUB_OFFLINE", "1", 1);
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "HF_HUB_OFFLINE"), "message: %s", err.message);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"method", NULL}), 0);

    unsetenv("HF_HUB_OFFLINE");
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    int before = mockhub_count(&g_hub, (const char *[]){"method", NULL});
    setenv("HF_HUB_OFFLINE", "1", 1);
    char again[CF_PATH_MAX];
    cr_assert_eq(pull(REPO, &o, again, &err), CF_OK, "%s", err.message);
    cr_assert_str_eq(again, dir);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"method", NULL}), before);
}

Test(hub, token_goes_to_the_endpoint_only)
{
    start_hub((const char *[]){"--require-token", "hf_secret", NULL});
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "HF_TOKEN"), "message: %s", err.message);

    setenv("HF_TOKEN", "hf_secret", 1);
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    cr_assert_geq(mockhub_count(&g_hub, (const char *[]){"\"main\"", "Bearer hf_secret", NULL}), 2);
    cr_assert_geq(mockhub_count(&g_hub, (const char *[]){"\"cdn\"", "\"GET\"", NULL}), 1);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"\"cdn\"", "Bearer", NULL}), 0,
                 "the token must not be sent to another host");
}

Test(hub, token_file_is_read)
{
    start_hub((const char *[]){"--require-token", "hf_fromfile", NULL});
    char token_path[4200];
    snprintf(token_path, sizeof token_path, "%s/token", g_cache); /* HF_HOME/token */
    FILE *f = fopen(token_path, "w");
    cr_assert(f);
    fputs("hf_fromfile\n", f);
    fclose(f);
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
}

Test(hub, unknown_repo_and_revision_are_clear_errors)
{
    start_hub(NULL);
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull("test-org/no-such-model", &o, dir, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "not found"), "message: %s", err.message);
    cr_assert_eq(pull(REPO "@no-such-branch", &o, dir, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "no revision 'no-such-branch'"), "message: %s", err.message);
    cr_assert_eq(pull("../etc", &o, dir, &err), CF_ERR_INVALID_ARG);
}

Test(hub, revision_by_name_writes_its_ref)
{
    start_hub((const char *[]){"--revision", "v1.0", NULL});
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX], ref[4200];
    cf_error err = {0};
    cr_assert_eq(pull(REPO "@v1.0", &o, dir, &err), CF_OK, "%s", err.message);
    repo_path(ref, sizeof ref, "refs/v1.0");
    cr_assert(cf_file_exists(ref));
    assert_python_layout("v1.0");
    char resolved[CF_PATH_MAX];
    cr_assert_eq(cf_model_resolve(REPO "@v1.0", resolved, sizeof resolved, &err), CF_OK, "%s", err.message);
    cr_assert_str_eq(resolved, dir);
}

/* ---- a synthetic repo: sharded weights, other frameworks' files, a sub-folder ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void make_sharded_repo(char *dir, size_t size, bool with_weights)
{
    snprintf(dir, size, "%s/src_repo", g_cache);
    mkdir(dir, 0755);
    write_file(dir, "config.json", "{\"model_type\": \"bert\"}");
    write_file(dir, "tokenizer.json", "{}");
    write_file(dir, "pytorch_model.bin", "not a safetensors file");
    write_file(dir, "pytorch_model.bin.index.json", "{\"weight_map\": {}}");
    write_file(dir, "onnx/model.json", "{}");
    if (with_weights) {
        write_file(dir, "model.safetensors.index.json",
                   "{\"metadata\": {}, \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", "
                   "\"b\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00001-of-00002.safetensors\"}}");
        write_file(dir, "model-00001-of-00002.safetensors", "shard one bytes");
        write_file(dir, "model-00002-of-00002.safetensors", "shard two bytes");
    }
}

Test(hub, sharded_weights_and_only_needed_files)
{
    char src[4200], arg[4300];
    make_sharded_repo(src, sizeof src, true);
    snprintf(arg, sizeof arg, "test-org/sharded=%s", src);
    cr_assert(mockhub_start(&g_hub, (const char *[]){"--repo", arg, "--fault", "drop:*00002*:1", NULL}));
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX], path[4400];
    cf_error err = {0};
    cr_assert_eq(pull("test-org/sharded", &o, dir, &err), CF_OK, "%s", err.message);
    const char *present[] = {"config.json", "tokenizer.json", "model.safetensors.index.json",
                             "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    for (size_t i = 0; i < 5; i++) {
        char a[4400];
        snprintf(path, sizeof path, "%s/%s", dir, present[i]);
        snprintf(a, sizeof a, "%s/%s", src, present[i]);
        cr_assert(same_bytes(path, a), "%s missing or different", path);
    }
    const char *absent[] = {"pytorch_model.bin", "pytorch_model.bin.index.json", "onnx"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, absent[i]);
        cr_assert(!cf_file_exists(path) && !cf_dir_exists(path), "%s should not be downloaded", path);
    }

    /* --all takes everything, sub-folders included (links two levels deeper). */
    o.all_files = true;
    cr_assert_eq(pull("test-org/sharded", &o, dir, &err), CF_OK, "%s", err.message);
    snprintf(path, sizeof path, "%s/onnx/model.json", dir);
    cr_assert(cf_file_exists(path), "%s should follow its symlink to blobs/", path);
}

Test(hub, repo_without_safetensors_is_unsupported_unless_all)
{
    char src[4200], arg[4300];
    make_sharded_repo(src, sizeof src, false);
    snprintf(arg, sizeof arg, "test-org/bin-only=%s", src);
    cr_assert(mockhub_start(&g_hub, (const char *[]){"--repo", arg, NULL}));
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull("test-org/bin-only", &o, dir, &err), CF_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "safetensors"), "message: %s", err.message);
    o.all_files = true;
    cr_assert_eq(pull("test-org/bin-only", &o, dir, &err), CF_OK, "%s", err.message);
}

Test(hub, list_and_remove)
{
    start_hub(NULL);
    cf_hub_options o = fast_options();
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    cf_hub_cached_repo *repos = NULL;
    size_t n = 0;
    cr_assert_eq(cf_hub_cache_list(g_cache, &repos, &n, &err), CF_OK, "%s", err.message);
    cr_assert_eq(n, 1u);
    cr_assert_str_eq(repos[0].id, REPO);
    char weights[4200];
    snprintf(weights, sizeof weights, "%s/model.safetensors", g_model);
    cr_assert_geq(repos[0].size_bytes, (uint64_t)size_of(weights));
    cr_assert_eq(repos[0].n_snapshots, 1);
    cr_assert(strstr(repos[0].refs, "main="), "refs: %s", repos[0].refs);
    free(repos);

    uint64_t freed = 0;
    cr_assert_eq(cf_hub_cache_remove(g_cache, "test-org/other", &freed, &err), CF_ERR_NOT_FOUND);
    cr_assert_eq(cf_hub_cache_remove(g_cache, REPO "@no-such-rev", &freed, &err), CF_ERR_NOT_FOUND);
    cr_assert_eq(cf_hub_cache_remove(g_cache, REPO "@main", &freed, &err), CF_OK, "%s", err.message);
    cr_assert_geq(freed, (uint64_t)size_of(weights));
    cr_assert_eq(cf_hub_cache_list(g_cache, &repos, &n, &err), CF_OK, "%s", err.message);
    cr_assert_eq(n, 0u, "removing the only revision removes the model");
    free(repos);

    cr_assert_eq(pull(REPO, &o, dir, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_hub_cache_remove(g_cache, REPO, &freed, &err), CF_OK, "%s", err.message);
    cr_assert(!cf_dir_exists(dir));
}

Test(hub, ensure_model_pulls_only_when_allowed)
{
    start_hub(NULL);
    setenv("HF_ENDPOINT", g_hub.endpoint, 1);
    unsetenv("CFORMER_AUTO_PULL");
    char dir[CF_PATH_MAX];
    cf_error err = {0};
    cr_assert_eq(cf_hub_ensure_model(REPO, false, dir, sizeof dir, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "cformer pull"), "message: %s", err.message);
    cr_assert_eq(mockhub_count(&g_hub, (const char *[]){"method", NULL}), 0);
    setenv("CFORMER_AUTO_PULL", "1", 1);
    cr_assert_eq(cf_hub_ensure_model(REPO, false, dir, sizeof dir, &err), CF_OK, "%s", err.message);
    assert_snapshot_matches_model(dir);
}

Test(hub, names_from_the_server_are_checked)
{
    cr_assert(cf_hub_safe_filename("config.json"));
    cr_assert(cf_hub_safe_filename("onnx/model.onnx"));
    const char *bad[] = {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a\\b", "a\nb", "a/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!cf_hub_safe_filename(bad[i]), "'%s' must be refused", bad[i]);
    cr_assert(cf_hub_safe_token("0123abcdef"));
    cr_assert(!cf_hub_safe_token("../x"));
    cr_assert(!cf_hub_safe_token(".."));
    cr_assert(!cf_hub_safe_token("a/b"));
}
