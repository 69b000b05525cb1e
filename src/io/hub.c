#include "io/hub.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "io/hub_cache.h"
#include "io/hub_http.h"
#include "io/hub_progress.h"
#include "io/model_dir.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define API_MAX_BYTES (64u << 20)
#define INDEX_MAX_BYTES (64u << 20)
#define TOKEN_MAX 4096

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static bool env_true(const char *name)
{
    const char *v = env(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

bool cf_hub_offline(void) { return env_true("HF_HUB_OFFLINE") || env_true("TRANSFORMERS_OFFLINE"); }

cf_hub_options cf_hub_options_default(void)
{
    return (cf_hub_options){
        .parallel = 4, .max_retries = 5, .retry_base_ms = 500, .stall_timeout_s = 30, .connect_timeout_s = 15};
}

/* Zero fields take their defaults; the endpoint comes from HF_ENDPOINT. */
static cf_hub_options complete_options(const cf_hub_options *in)
{
    cf_hub_options d = cf_hub_options_default(), o = in ? *in : d;
    if (o.parallel <= 0)
        o.parallel = d.parallel;
    if (o.parallel > 16)
        o.parallel = 16;
    if (o.max_retries < 0)
        o.max_retries = 0;
    if (o.retry_base_ms <= 0)
        o.retry_base_ms = d.retry_base_ms;
    if (o.stall_timeout_s <= 0)
        o.stall_timeout_s = d.stall_timeout_s;
    if (o.connect_timeout_s <= 0)
        o.connect_timeout_s = d.connect_timeout_s;
    if (!o.endpoint)
        o.endpoint = env("HF_ENDPOINT") ? env("HF_ENDPOINT") : DEFAULT_ENDPOINT;
    return o;
}

/* ---- the token: HF_TOKEN, else the token file huggingface-cli login writes ---- */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t\r\n");
    memmove(s, s + lead, n - lead + 1);
}

static void find_token(const cf_hub_options *opt, char *token, size_t size)
{
    token[0] = '\0';
    if (opt->token) {
        snprintf(token, size, "%s", opt->token);
        return;
    }
    const char *v = env("HF_TOKEN") ? env("HF_TOKEN") : env("HUGGING_FACE_HUB_TOKEN");
    if (v) {
        snprintf(token, size, "%s", v);
        trim(token);
        return;
    }
    char path[CF_PATH_MAX];
    if (env("HF_TOKEN_PATH"))
        snprintf(path, sizeof path, "%s", env("HF_TOKEN_PATH"));
    else if (env("HF_HOME"))
        snprintf(path, sizeof path, "%s/token", env("HF_HOME"));
    else if (env("XDG_CACHE_HOME"))
        snprintf(path, sizeof path, "%s/huggingface/token", env("XDG_CACHE_HOME"));
    else if (env("HOME"))
        snprintf(path, sizeof path, "%s/.cache/huggingface/token", env("HOME"));
    else
        return;
    char *text = NULL;
    size_t len = 0;
    if (cf_file_exists(path) && cf_read_file(path, TOKEN_MAX, &text, &len, NULL) == CF_OK) {
        snprintf(token, size, "%s", text);
        trim(token);
    }
    free(text);
}

/* ---- which files a pipeline reads ---- */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Top-level configs, tokenizer files and safetensors weights; not other frameworks' weights. */
static bool wanted_file(const char *name)
{
    if (strchr(name, '/'))
        return false;
    if (!strcmp(name, "model.safetensors") || !strcmp(name, "model.safetensors.index.json"))
        return true;
    if (has_suffix(name, ".index.json"))
        return false; /* pytorch_model.bin.index.json, tf_model.h5.index.json, ... */
    return has_suffix(name, ".json") || has_suffix(name, ".txt") || has_suffix(name, ".model") ||
           has_suffix(name, ".spm") || has_suffix(name, ".tiktoken");
}

/* ---- a pull ---- */

typedef struct hub_file {
    char name[1024];
    cf_http_meta meta;  /* from the HEAD of its resolve URL */
    bool fetch;         /* first file with this etag that is not in blobs/ yet */
} hub_file;

typedef enum { PHASE_HEAD, PHASE_DOWNLOAD } phase;

typedef struct pull_job {
    cf_hub_options opt;
    char token[TOKEN_MAX];
    char repo[512];       /* "org/name" */
    char revision[300];
    char commit[128];
    char repo_dir[CF_PATH_MAX];
    char lock_dir[CF_PATH_MAX];
    hub_file *files;
    size_t n_files;
    phase phase;
    atomic_size_t next;
    atomic_int cancel;
    pthread_mutex_t err_lock;
    cf_error first_error;
    bool failed;
    cf_hub_progress progress;
} pull_job;

static void record_failure(pull_job *job, const cf_error *e)
{
    pthread_mutex_lock(&job->err_lock);
    if (!job->failed) {
        job->failed = true;
        job->first_error = *e;
    }
    pthread_mutex_unlock(&job->err_lock);
    atomic_store(&job->cancel, 1);
}

/* <endpoint>/<repo>/resolve/<commit>/<file>, each path part escaped. */
static cf_status resolve_url(const pull_job *job, const char *file, char *url, size_t size, cf_error *err)
{
    char escaped[3 * 1024 + 1], part[1024];
    size_t k = 0;
    for (const char *p = file;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        snprintf(part, sizeof part, "%.*s", (int)n, p);
        CF_TRY(cf_http_escape(part, escaped + k, sizeof escaped - k, err));
        k += strlen(escaped + k);
        if (!slash)
            break;
        if (k + 1 >= sizeof escaped)
            return cf_fail(err, CF_ERR_INVALID_ARG, "file name too long: %s", file);
        escaped[k++] = '/';
        escaped[k] = '\0';
        p = slash + 1;
    }
    if (snprintf(url, size, "%s/%s/resolve/%s/%s", job->opt.endpoint, job->repo, job->commit, escaped) >= (int)size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "URL too long for %s", file);
    return CF_OK;
}

static bool is_sha256_hex(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static cf_status file_sha256(const char *path, char hex[65], cf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    static _Thread_local unsigned char chunk[1 << 16];
    size_t n;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = EVP_DigestUpdate(ctx, chunk, n);
    ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, digest, &len) && len == 32;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok)
        return cf_fail(err, CF_ERR_IO, "%s: cannot compute its sha256", path);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    return CF_OK;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* HEAD the file: its etag (the blob name), size and where its bytes are. */
static cf_status head_file(pull_job *job, cf_http_client *c, hub_file *f, cf_error *err)
{
    char url[8192];
    CF_TRY(resolve_url(job, f->name, url, sizeof url, err));
    CF_TRY(cf_http_head(c, url, &f->meta, err));
    if (!cf_hub_safe_token(f->meta.etag))
        return cf_fail(err, CF_ERR_FORMAT, "%s: the server sent no usable ETag for %s ('%s')", url, f->name,
                       f->meta.etag);
    if (f->meta.commit[0] && strcmp(f->meta.commit, job->commit))
        return cf_fail(err, CF_ERR_FORMAT, "%s: the server says commit %s, the listing said %s", url, f->meta.commit,
                       job->commit);
    if (!f->meta.location[0] || f->meta.status < 300 || f->meta.status >= 400)
        snprintf(f->meta.location, sizeof f->meta.location, "%s", url);
    return CF_OK;
}

/* blobs/<etag>.incomplete -> checked -> blobs/<etag>. Caller holds the etag's lock. */
static cf_status fetch_blob(pull_job *job, cf_http_client *c, const hub_file *f, const char *blob, cf_error *err)
{
    char partial[CF_PATH_MAX + 16];
    snprintf(partial, sizeof partial, "%s.incomplete", blob);
    int64_t want = f->meta.size;
    if (want < 0 || file_size(partial) != want) /* a finished .incomplete needs no request */
        CF_TRY(cf_http_download(c, f->meta.location, partial, err));
    else
        cf_hub_progress_bytes(&job->progress, want);
    int64_t got = file_size(partial);
    if (want >= 0 && got != want) {
        unlink(partial);
        return cf_fail(err, CF_ERR_FORMAT, "%s: downloaded %lld bytes, the server announced %lld; deleted it",
                       f->name, (long long)got, (long long)want);
    }
    if (is_sha256_hex(f->meta.etag)) { /* an LFS file: its etag is the sha256 of its bytes */
        char sha[65];
        CF_TRY(file_sha256(partial, sha, err));
        if (strcasecmp(sha, f->meta.etag)) {
            unlink(partial);
            return cf_fail(err, CF_ERR_FORMAT,
                           "%s: sha256 of the download is %s, the Hub says %s: the file is corrupt and was "
                           "deleted; run the pull again",
                           f->name, sha, f->meta.etag);
        }
    }
    int fd = open(partial, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (rename(partial, blob) != 0)
        return cf_fail(err, CF_ERR_IO, "cannot move %s to %s: %s", partial, blob, strerror(errno));
    return CF_OK;
}

/* One download at a time per blob, across threads and processes. */
static cf_status download_file(pull_job *job, cf_http_client *c, const hub_file *f, cf_error *err)
{
    char blob[CF_PATH_MAX], lock_path[CF_PATH_MAX];
    snprintf(blob, sizeof blob, "%s/blobs/%s", job->repo_dir, f->meta.etag);
    snprintf(lock_path, sizeof lock_path, "%s/%s.lock", job->lock_dir, f->meta.etag);
    int lock = open(lock_path, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock < 0)
        return cf_fail(err, CF_ERR_IO, "cannot create lock file %s: %s", lock_path, strerror(errno));
    cf_status s = CF_OK;
    if (flock(lock, LOCK_EX) != 0)
        s = cf_fail(err, CF_ERR_IO, "cannot lock %s: %s", lock_path, strerror(errno));
    else if (cf_file_exists(blob)) /* another process finished it meanwhile */
        cf_hub_progress_bytes(&job->progress, f->meta.size > 0 ? f->meta.size : 0);
    else
        s = fetch_blob(job, c, f, blob, err);
    close(lock);
    if (s == CF_OK)
        cf_hub_progress_file_done(&job->progress);
    return s;
}

static void *worker(void *arg)
{
    pull_job *job = arg;
    cf_error err = {0};
    cf_http_client *c = NULL;
    if (cf_http_client_new(&job->opt, job->token, &job->cancel, cf_hub_progress_bytes, &job->progress, &c, &err) !=
        CF_OK) {
        record_failure(job, &err);
        return NULL;
    }
    for (;;) {
        size_t i = atomic_fetch_add(&job->next, 1);
        if (i >= job->n_files || atomic_load(&job->cancel))
            break;
        hub_file *f = &job->files[i];
        cf_status s = CF_OK;
        if (job->phase == PHASE_HEAD)
            s = head_file(job, c, f, &err);
        else if (f->fetch)
            s = download_file(job, c, f, &err);
        if (s != CF_OK) {
            record_failure(job, &err);
            break;
        }
    }
    cf_http_client_free(c);
    return NULL;
}

static cf_status run_phase(pull_job *job, phase ph, cf_error *err)
{
    job->phase = ph;
    atomic_store(&job->next, 0);
    size_t n_threads = (size_t)job->opt.parallel < job->n_files ? (size_t)job->opt.parallel : job->n_files;
    pthread_t threads[16];
    size_t started = 0;
    for (; started < n_threads; started++)
        if (pthread_create(&threads[started], NULL, worker, job) != 0)
            break;
    if (started == 0 && n_threads > 0)
        worker(job);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (job->failed) {
        *err = job->first_error;
        return err->status;
    }
    return CF_OK;
}

/* Which files need fetching: not in blobs/ yet, first of their etag; and the progress totals. */
static void plan_downloads(pull_job *job)
{
    for (size_t i = 0; i < job->n_files; i++) {
        hub_file *f = &job->files[i];
        char blob[CF_PATH_MAX];
        snprintf(blob, sizeof blob, "%s/blobs/%s", job->repo_dir, f->meta.etag);
        f->fetch = !cf_file_exists(blob);
        for (size_t j = 0; j < i && f->fetch; j++)
            f->fetch = strcmp(job->files[j].meta.etag, f->meta.etag) != 0;
        if (f->fetch)
            cf_hub_progress_add_file(&job->progress, f->meta.size);
    }
}

/* HEAD, download and link a list of files. */
static cf_status fetch_files(pull_job *job, cf_error *err)
{
    if (job->n_files == 0)
        return CF_OK;
    CF_TRY(run_phase(job, PHASE_HEAD, err));
    plan_downloads(job);
    CF_TRY(run_phase(job, PHASE_DOWNLOAD, err));
    for (size_t i = 0; i < job->n_files; i++)
        CF_TRY(cf_hub_link_snapshot(job->repo_dir, job->commit, job->files[i].name, job->files[i].meta.etag, err));
    return CF_OK;
}

static cf_status add_file(hub_file **files, size_t *n, const char *name, cf_error *err)
{
    if (!cf_hub_safe_filename(name))
        return cf_fail(err, CF_ERR_FORMAT, "the Hub listed an unsafe file name '%s'; refusing it", name);
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*files)[i].name, name))
            return CF_OK;
    hub_file *grown = realloc(*files, (*n + 1) * sizeof **files);
    if (!grown)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for the file list");
    *files = grown;
    memset(&grown[*n], 0, sizeof grown[*n]);
    snprintf(grown[*n].name, sizeof grown[*n].name, "%s", name);
    (*n)++;
    return CF_OK;
}

/* GET the revision's listing: its commit and the files to fetch. */
static cf_status list_repo(pull_job *job, cf_http_client *c, hub_file **files, size_t *n, bool *sharded,
                           cf_error *err)
{
    char rev[1024], url[8192];
    CF_TRY(cf_http_escape(job->revision, rev, sizeof rev, err));
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", job->opt.endpoint, job->repo, rev);
    cf_buf body = {0};
    cf_http_meta meta;
    cf_status s = cf_http_get(c, url, API_MAX_BYTES, &body, &meta, err);
    if (s == CF_ERR_NOT_FOUND) {
        cf_buf_free(&body);
        if (!strcmp(meta.error_code, "RevisionNotFound"))
            return cf_error_prefix(err, "'%s' has no revision '%s': ", job->repo, job->revision);
        return cf_error_prefix(err, "model '%s' not found on %s (private or gated models need HF_TOKEN): ", job->repo,
                               job->opt.endpoint);
    }
    CF_TRY(s);
    cJSON *root = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
    cf_buf_free(&body);
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(root, "sha");
    const cJSON *siblings = cJSON_GetObjectItemCaseSensitive(root, "siblings");
    if (!cJSON_IsString(sha) || !cf_hub_safe_token(sha->valuestring) || !cJSON_IsArray(siblings)) {
        cJSON_Delete(root);
        return cf_fail(err, CF_ERR_FORMAT, "%s: not a Hub model listing (needs a \"sha\" commit and \"siblings\")",
                       url);
    }
    snprintf(job->commit, sizeof job->commit, "%s", sha->valuestring);
    bool has_single = false, has_index = false;
    const cJSON *item;
    s = CF_OK;
    cJSON_ArrayForEach(item, siblings)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "rfilename");
        if (!cJSON_IsString(name)) {
            s = cf_fail(err, CF_ERR_FORMAT, "%s: a sibling has no \"rfilename\" string", url);
            break;
        }
        has_single |= !strcmp(name->valuestring, "model.safetensors");
        has_index |= !strcmp(name->valuestring, "model.safetensors.index.json");
        if (job->opt.all_files || wanted_file(name->valuestring))
            if ((s = add_file(files, n, name->valuestring, err)) != CF_OK)
                break;
    }
    cJSON_Delete(root);
    CF_TRY(s);
    *sharded = !job->opt.all_files && !has_single && has_index;
    if (!job->opt.all_files && !has_single && !has_index)
        return cf_fail(err, CF_ERR_UNSUPPORTED,
                       "'%s' has no model.safetensors (nor a sharded model.safetensors.index.json): cformer reads "
                       "safetensors weights only. `cformer pull --all` downloads every file anyway",
                       job->repo);
    return CF_OK;
}

/* The shard files named in the weight_map of the downloaded model.safetensors.index.json. */
static cf_status list_shards(pull_job *job, hub_file **files, size_t *n, cf_error *err)
{
    char path[CF_PATH_MAX];
    snprintf(path, sizeof path, "%s/snapshots/%s/model.safetensors.index.json", job->repo_dir, job->commit);
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(path, INDEX_MAX_BYTES, &text, &len, err));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    cf_status s = CF_OK;
    if (!cJSON_IsObject(map))
        s = cf_fail(err, CF_ERR_FORMAT, "%s: no \"weight_map\" object", path);
    const cJSON *item;
    if (s == CF_OK)
        cJSON_ArrayForEach(item, map)
        {
            if (!cJSON_IsString(item)) {
                s = cf_fail(err, CF_ERR_FORMAT, "%s: weight_map[\"%s\"] is not a file name", path, item->string);
                break;
            }
            if ((s = add_file(files, n, item->valuestring, err)) != CF_OK)
                break;
        }
    cJSON_Delete(root);
    return s;
}

static cf_status prepare_job(pull_job *job, const char *id, const cf_hub_options *opt, cf_error *err)
{
    if (!cf_model_id_valid(id))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "'%s' is not a Hub model id: use org/name or name, optionally @revision "
                       "(letters, digits, '.', '_' and '-')",
                       id);
    job->opt = complete_options(opt);
    const char *at = strchr(id, '@');
    snprintf(job->repo, sizeof job->repo, "%.*s", (int)(at ? (size_t)(at - id) : strlen(id)), id);
    snprintf(job->revision, sizeof job->revision, "%s", at ? at + 1 : "main");
    char cache[CF_PATH_MAX];
    if (job->opt.cache_dir)
        snprintf(cache, sizeof cache, "%s", job->opt.cache_dir);
    else
        CF_TRY(cf_hf_cache_dir(cache, sizeof cache, err));
    CF_TRY(cf_hf_repo_dir(cache, id, job->repo_dir, sizeof job->repo_dir, err));
    const char *folder = strrchr(job->repo_dir, '/');
    snprintf(job->lock_dir, sizeof job->lock_dir, "%s/.locks/%s", cache, folder ? folder + 1 : job->repo_dir);
    find_token(&job->opt, job->token, sizeof job->token);
    return CF_OK;
}

/* Offline: the revision must already be complete in the cache. */
static cf_status pull_offline(const pull_job *job, const char *id, char *out_dir, size_t out_size, cf_error *err)
{
    char resolved[CF_PATH_MAX];
    if (job->opt.cache_dir) {
        char ref[CF_PATH_MAX + 300];
        snprintf(ref, sizeof ref, "%s/refs/%s", job->repo_dir, job->revision);
        char *commit = NULL;
        size_t len = 0;
        if (cf_read_file(ref, 256, &commit, &len, NULL) != CF_OK)
            return cf_fail(err, CF_ERR_NOT_FOUND, "HF_HUB_OFFLINE is set and '%s' is not in the cache (%s)", id, ref);
        trim(commit);
        snprintf(resolved, sizeof resolved, "%s/snapshots/%s", job->repo_dir, commit);
        free(commit);
    } else if (cf_model_resolve(id, resolved, sizeof resolved, err) != CF_OK) {
        return cf_error_prefix(err, "HF_HUB_OFFLINE is set, so nothing is downloaded: ");
    }
    if (!cf_dir_exists(resolved))
        return cf_fail(err, CF_ERR_NOT_FOUND, "HF_HUB_OFFLINE is set and %s is missing", resolved);
    if (strlen(resolved) >= out_size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s", resolved);
    memcpy(out_dir, resolved, strlen(resolved) + 1);
    return CF_OK;
}

static cf_status pull_online(pull_job *job, char *out_dir, size_t out_size, cf_error *err)
{
    cf_http_client *c = NULL;
    CF_TRY(cf_http_client_new(&job->opt, job->token, &job->cancel, NULL, NULL, &c, err));
    bool sharded = false;
    cf_status s = list_repo(job, c, &job->files, &job->n_files, &sharded, err);
    cf_http_client_free(c);
    CF_TRY(s);
    char dir[CF_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/blobs", job->repo_dir);
    CF_TRY(cf_hub_mkdirs(dir, err));
    CF_TRY(cf_hub_mkdirs(job->lock_dir, err));
    CF_TRY(fetch_files(job, err));
    if (sharded) { /* the index is in: now its shards */
        free(job->files);
        job->files = NULL;
        job->n_files = 0;
        CF_TRY(list_shards(job, &job->files, &job->n_files, err));
        CF_TRY(fetch_files(job, err));
    }
    CF_TRY(cf_hub_write_ref(job->repo_dir, job->revision, job->commit, err));
    if (snprintf(out_dir, out_size, "%s/snapshots/%s", job->repo_dir, job->commit) >= (int)out_size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s/snapshots/%s", job->repo_dir, job->commit);
    return CF_OK;
}

cf_status cf_hub_pull(const char *id, const cf_hub_options *opt, char *out_dir, size_t out_size, cf_error *err)
{
    pull_job *job = calloc(1, sizeof *job);
    if (!job)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&job->err_lock, NULL);
    cf_status s = prepare_job(job, id ? id : "", opt, err);
    if (s == CF_OK && cf_hub_offline()) {
        s = pull_offline(job, id, out_dir, out_size, err);
    } else if (s == CF_OK) {
        char label[600];
        snprintf(label, sizeof label, "%s", job->repo);
        cf_hub_progress_init(&job->progress, cf_hub_progress_wanted(job->opt.quiet), label);
        s = pull_online(job, out_dir, out_size, err);
        cf_hub_progress_finish(&job->progress);
        cf_hub_progress_destroy(&job->progress);
        if (s != CF_OK)
            cf_error_prefix(err, "pull %s: ", id);
    }
    pthread_mutex_destroy(&job->err_lock);
    memset(job->token, 0, sizeof job->token);
    free(job->files);
    free(job);
    return s;
}

cf_status cf_hub_ensure_model(const char *path_or_id, bool allow_pull, char *out_dir, size_t out_size,
                              cf_error *err)
{
    cf_status s = cf_model_resolve(path_or_id, out_dir, out_size, err);
    if (s != CF_ERR_NOT_FOUND || !cf_model_id_valid(path_or_id))
        return s;
    if (!allow_pull && !env_true("CFORMER_AUTO_PULL"))
        return s;
    cf_log_info("%s is not in the cache; downloading it", path_or_id);
    return cf_hub_pull(path_or_id, NULL, out_dir, out_size, err);
}
