#include "io/hub_cache.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "io/hub.h"
#include "io/model_dir.h"

cf_status cf_hub_mkdirs(const char *path, cf_error *err)
{
    char tmp[CF_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s", path);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return cf_fail(err, CF_ERR_IO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = c;
        if (!c)
            break;
    }
    if (!cf_dir_exists(path))
        return cf_fail(err, CF_ERR_IO, "%s exists but is not a directory", path);
    return CF_OK;
}

static bool safe_part(const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '\\')
            return false;
    return true;
}

bool cf_hub_safe_filename(const char *name)
{
    if (!name || !*name || name[0] == '/' || strlen(name) > 1024)
        return false;
    for (const char *p = name;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (!safe_part(p, n))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

bool cf_hub_safe_token(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128 || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* A temporary name next to path, unique per process and thread. */
static cf_status temp_name(const char *path, char *out, size_t size, cf_error *err)
{
    static _Atomic unsigned long counter;
    if (snprintf(out, size, "%s.tmp.%ld.%lu", path, (long)getpid(), ++counter) >= (int)size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s", path);
    return CF_OK;
}

static cf_status parent_dirs(const char *path, cf_error *err)
{
    char dir[CF_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return CF_OK;
    *slash = '\0';
    return cf_hub_mkdirs(dir, err);
}

cf_status cf_hub_write_atomic(const char *path, const char *data, size_t len, cf_error *err)
{
    char tmp[CF_PATH_MAX];
    CF_TRY(parent_dirs(path, err));
    CF_TRY(temp_name(path, tmp, sizeof tmp, err));
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cf_fail(err, CF_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    return CF_OK;
}

cf_status cf_hub_link_snapshot(const char *repo_dir, const char *commit, const char *file, const char *etag,
                               cf_error *err)
{
    char link_path[CF_PATH_MAX], target[CF_PATH_MAX] = "", tmp[CF_PATH_MAX];
    if (snprintf(link_path, sizeof link_path, "%s/snapshots/%s/%s", repo_dir, commit, file) >= (int)sizeof link_path)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s/snapshots/%s/%s", repo_dir, commit, file);
    /* From snapshots/<commit>/<dirs...>/ back up to the repo folder. */
    size_t depth = 2;
    for (const char *p = file; *p; p++)
        depth += *p == '/';
    for (size_t i = 0; i < depth; i++)
        strcat(target, "../");
    if (strlen(target) + strlen(etag) + 8 >= sizeof target)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long for %s", file);
    strcat(target, "blobs/");
    strcat(target, etag);
    CF_TRY(parent_dirs(link_path, err));
    CF_TRY(temp_name(link_path, tmp, sizeof tmp, err));
    if (symlink(target, tmp) != 0)
        return cf_fail(err, CF_ERR_IO, "cannot create symlink %s: %s", tmp, strerror(errno));
    if (rename(tmp, link_path) != 0) {
        int e = errno;
        unlink(tmp);
        return cf_fail(err, CF_ERR_IO, "cannot place symlink %s: %s", link_path, strerror(e));
    }
    return CF_OK;
}

cf_status cf_hub_write_ref(const char *repo_dir, const char *revision, const char *commit, cf_error *err)
{
    if (!strcmp(revision, commit))
        return CF_OK;
    char path[CF_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/refs/%s", repo_dir, revision) >= (int)sizeof path)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s/refs/%s", repo_dir, revision);
    return cf_hub_write_atomic(path, commit, strlen(commit), err);
}

/* ---- listing ---- */

typedef struct walk_totals {
    uint64_t bytes;
    int files;
    int64_t newest;
    bool incomplete;
} walk_totals;

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Sizes of regular files (not following symlinks) and count of entries under dir. */
static void walk(const char *dir, walk_totals *t)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[CF_PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (st.st_mtime > t->newest)
            t->newest = st.st_mtime;
        if (S_ISDIR(st.st_mode)) {
            walk(path, t);
            continue;
        }
        t->files++;
        if (S_ISREG(st.st_mode))
            t->bytes += (uint64_t)st.st_size;
        if (ends_with(e->d_name, ".incomplete"))
            t->incomplete = true;
    }
    closedir(d);
}

/* The newest snapshot folder's name (by mtime) and the snapshot count. */
static int newest_snapshot(const char *repo, char *name, size_t size)
{
    char dir[CF_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/snapshots", repo);
    DIR *d = opendir(dir);
    int n = 0;
    int64_t best = -1;
    name[0] = '\0';
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[CF_PATH_MAX];
        struct stat st;
        if (e->d_name[0] == '.' || snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        n++;
        if (st.st_mtime > best) {
            best = st.st_mtime;
            snprintf(name, size, "%s", e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* "main=abc1234, v1=def5678" from refs/ (one level of sub-folders, as in refs/pr/1). */
static void describe_refs(const char *dir, const char *prefix, char *out, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[CF_PATH_MAX], name[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(name, sizeof name, "%s%s", prefix, e->d_name);
        if (cf_dir_exists(path)) {
            if (!*prefix) {
                char sub[600];
                snprintf(sub, sizeof sub, "%s/", e->d_name);
                describe_refs(path, sub, out, size);
            }
            continue;
        }
        char *text = NULL;
        size_t len = 0;
        if (cf_read_file(path, 256, &text, &len, NULL) != CF_OK)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s=%.7s", used ? ", " : "", name, text);
        free(text);
    }
    closedir(d);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const cf_hub_cached_repo *)a)->id, ((const cf_hub_cached_repo *)b)->id);
}

/* "models--org--name" -> "org/name" */
static void folder_to_id(const char *folder, char *id, size_t size)
{
    const char *p = folder + strlen("models--");
    size_t k = 0;
    while (*p && k + 1 < size) {
        if (p[0] == '-' && p[1] == '-') {
            id[k++] = '/';
            p += 2;
        } else {
            id[k++] = *p++;
        }
    }
    id[k] = '\0';
}

static void describe_repo(const char *cache, const char *folder, cf_hub_cached_repo *r)
{
    memset(r, 0, sizeof *r);
    folder_to_id(folder, r->id, sizeof r->id);
    snprintf(r->path, sizeof r->path, "%s/%s", cache, folder);
    char sub[CF_PATH_MAX], newest[256];
    walk_totals blobs = {0}, repo = {0}, snap = {0};
    snprintf(sub, sizeof sub, "%s/blobs", r->path);
    walk(sub, &blobs);
    walk(r->path, &repo);
    r->size_bytes = blobs.bytes;
    r->incomplete = blobs.incomplete;
    r->modified = repo.newest;
    r->n_snapshots = newest_snapshot(r->path, newest, sizeof newest);
    if (newest[0]) {
        snprintf(sub, sizeof sub, "%s/snapshots/%s", r->path, newest);
        walk(sub, &snap);
        r->n_files = snap.files;
    }
    snprintf(sub, sizeof sub, "%s/refs", r->path);
    describe_refs(sub, "", r->refs, sizeof r->refs);
}

cf_status cf_hub_cache_list(const char *cache_dir, cf_hub_cached_repo **out, size_t *n, cf_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(cache_dir);
    if (!d) {
        if (errno == ENOENT)
            return CF_OK;
        return cf_fail(err, CF_ERR_IO, "cannot read the Hugging Face cache %s: %s", cache_dir, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    cf_status s = CF_OK;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "models--", 8) != 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            cf_hub_cached_repo *grown = realloc(*out, cap * sizeof **out);
            if (!grown) {
                s = cf_fail(err, CF_ERR_NOMEM, "out of memory listing %s", cache_dir);
                break;
            }
            *out = grown;
        }
        describe_repo(cache_dir, e->d_name, &(*out)[(*n)++]);
    }
    closedir(d);
    if (s != CF_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
        return s;
    }
    if (*n)
        qsort(*out, *n, sizeof **out, by_id);
    return CF_OK;
}

/* ---- removal ---- */

/* rm -r path (symlinks removed, never followed); adds the regular files' bytes to *freed. */
static cf_status remove_tree(const char *path, uint64_t *freed, cf_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? CF_OK : cf_fail(err, CF_ERR_IO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return cf_fail(err, CF_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        struct dirent *e;
        cf_status s = CF_OK;
        while (s == CF_OK && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char child[CF_PATH_MAX];
            if (snprintf(child, sizeof child, "%s/%s", path, e->d_name) >= (int)sizeof child)
                s = cf_fail(err, CF_ERR_IO, "path too long under %s", path);
            else
                s = remove_tree(child, freed, err);
        }
        closedir(d);
        CF_TRY(s);
        if (rmdir(path) != 0)
            return cf_fail(err, CF_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        return CF_OK;
    }
    if (S_ISREG(st.st_mode))
        *freed += (uint64_t)st.st_size;
    if (unlink(path) != 0)
        return cf_fail(err, CF_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return CF_OK;
}

/* A growable list of blob names still linked from a snapshot. */
typedef struct name_set {
    char **names;
    size_t n, cap;
} name_set;

static bool name_set_add(name_set *s, const char *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **grown = realloc(s->names, cap * sizeof *grown);
        if (!grown)
            return false;
        s->names = grown;
        s->cap = cap;
    }
    return (s->names[s->n] = strdup(name)) && ++s->n;
}

static bool name_set_has(const name_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return true;
    return false;
}

static void name_set_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
}

/* The blob names the symlinks under dir point at. */
static bool collect_links(const char *dir, name_set *used)
{
    DIR *d = opendir(dir);
    if (!d)
        return true;
    struct dirent *e;
    bool ok = true;
    while (ok && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[CF_PATH_MAX], target[CF_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            ok = collect_links(path, used);
        } else if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                const char *base = strrchr(target, '/');
                ok = name_set_add(used, base ? base + 1 : target);
            }
        }
    }
    closedir(d);
    return ok;
}

/* Remove refs naming `commit`. */
static void remove_refs_to(const char *dir, const char *commit)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[CF_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (cf_dir_exists(path)) {
            remove_refs_to(path, commit);
            continue;
        }
        char *text = NULL;
        size_t len = 0;
        if (cf_read_file(path, 256, &text, &len, NULL) == CF_OK) {
            while (len && isspace((unsigned char)text[len - 1]))
                text[--len] = '\0';
            if (!strcmp(text, commit))
                unlink(path);
            free(text);
        }
    }
    closedir(d);
}

/* Delete blobs no snapshot links to any more. */
static cf_status collect_garbage(const char *repo, uint64_t *freed, cf_error *err)
{
    char snapshots[CF_PATH_MAX], blobs[CF_PATH_MAX];
    snprintf(snapshots, sizeof snapshots, "%s/snapshots", repo);
    snprintf(blobs, sizeof blobs, "%s/blobs", repo);
    name_set used = {0};
    if (!collect_links(snapshots, &used)) {
        name_set_free(&used);
        return cf_fail(err, CF_ERR_NOMEM, "out of memory scanning %s", snapshots);
    }
    DIR *d = opendir(blobs);
    cf_status s = CF_OK;
    if (d) {
        struct dirent *e;
        while (s == CF_OK && (e = readdir(d))) {
            if (e->d_name[0] == '.' || name_set_has(&used, e->d_name))
                continue;
            char path[CF_PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", blobs, e->d_name);
            s = remove_tree(path, freed, err);
        }
        closedir(d);
    }
    name_set_free(&used);
    return s;
}

static cf_status remove_revision(const char *repo, const char *id, const char *rev, uint64_t *freed, cf_error *err)
{
    char ref[CF_PATH_MAX], commit[256], snapshot[CF_PATH_MAX];
    snprintf(ref, sizeof ref, "%s/refs/%s", repo, rev);
    snprintf(commit, sizeof commit, "%s", rev);
    char *text = NULL;
    size_t len = 0;
    if (cf_file_exists(ref) && cf_read_file(ref, 256, &text, &len, err) == CF_OK) {
        while (len && isspace((unsigned char)text[len - 1]))
            text[--len] = '\0';
        snprintf(commit, sizeof commit, "%s", text);
        free(text);
    }
    if (!cf_hub_safe_token(commit))
        return cf_fail(err, CF_ERR_FORMAT, "%s does not hold a commit hash", ref);
    snprintf(snapshot, sizeof snapshot, "%s/snapshots/%s", repo, commit);
    if (!cf_dir_exists(snapshot))
        return cf_fail(err, CF_ERR_NOT_FOUND, "'%s' has no cached revision '%s' (looked for %s)", id, rev, snapshot);
    CF_TRY(remove_tree(snapshot, freed, err));
    char refs[CF_PATH_MAX];
    snprintf(refs, sizeof refs, "%s/refs", repo);
    remove_refs_to(refs, commit);
    return collect_garbage(repo, freed, err);
}

cf_status cf_hub_cache_remove(const char *cache_dir, const char *id, uint64_t *freed, cf_error *err)
{
    *freed = 0;
    if (!cf_model_id_valid(id))
        return cf_fail(err, CF_ERR_INVALID_ARG, "'%s' is not a Hub model id (org/name[@revision])", id);
    char repo[CF_PATH_MAX];
    CF_TRY(cf_hf_repo_dir(cache_dir, id, repo, sizeof repo, err));
    if (!cf_dir_exists(repo))
        return cf_fail(err, CF_ERR_NOT_FOUND, "'%s' is not in the cache (%s does not exist)", id, repo);
    const char *at = strchr(id, '@');
    if (!at)
        return remove_tree(repo, freed, err);
    CF_TRY(remove_revision(repo, id, at + 1, freed, err));
    char snapshots[CF_PATH_MAX];
    snprintf(snapshots, sizeof snapshots, "%s/snapshots", repo);
    char newest[256];
    if (newest_snapshot(repo, newest, sizeof newest) == 0) /* nothing left: drop the folder */
        return remove_tree(repo, freed, err);
    return CF_OK;
}
