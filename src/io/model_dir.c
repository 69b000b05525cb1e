#include "io/model_dir.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* An environment variable, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* dst = value with a leading "~/" expanded to $HOME, then "/" suffix (suffix may be ""). */
static cf_status expand_path(char *dst, size_t size, const char *value, const char *suffix, cf_error *err)
{
    const char *home = env("HOME");
    int n;
    if ((value[0] == '~' && (value[1] == '/' || value[1] == '\0')) && home)
        n = snprintf(dst, size, "%s%s%s%s", home, value + 1, *suffix ? "/" : "", suffix);
    else
        n = snprintf(dst, size, "%s%s%s", value, *suffix ? "/" : "", suffix);
    if (n < 0 || (size_t)n >= size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "Hugging Face cache path is too long: %s/%s", value, suffix);
    return CF_OK;
}

cf_status cf_hf_cache_dir(char *out, size_t size, cf_error *err)
{
    /* The order huggingface_hub uses. */
    const char *v;
    if ((v = env("HF_HUB_CACHE")) || (v = env("HUGGINGFACE_HUB_CACHE")))
        return expand_path(out, size, v, "", err);
    if ((v = env("HF_HOME")))
        return expand_path(out, size, v, "hub", err);
    if ((v = env("XDG_CACHE_HOME")))
        return expand_path(out, size, v, "huggingface/hub", err);
    if ((v = env("HOME")))
        return expand_path(out, size, v, ".cache/huggingface/hub", err);
    return cf_fail(err, CF_ERR_NOT_FOUND,
                   "cannot locate the Hugging Face cache: none of HF_HUB_CACHE, HF_HOME or HOME is set");
}

static bool name_char(char c) { return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-'; }

/* One path part of an id or revision: non-empty, not "." or "..", only name characters. */
static bool valid_part(const char *s, size_t len)
{
    if (len == 0 || len > 96 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

/* Split "org/name@rev" into the repo part's length and the revision (NULL when absent). */
static void split_id(const char *id, size_t *repo_len, const char **rev)
{
    const char *at = strchr(id, '@');
    *repo_len = at ? (size_t)(at - id) : strlen(id);
    *rev = at ? at + 1 : NULL;
}

static bool valid_repo(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);
    if (!slash)
        return valid_part(s, len);
    size_t org = (size_t)(slash - s);
    return valid_part(s, org) && valid_part(slash + 1, len - org - 1);
}

/* A revision: a branch, tag or commit; branches may hold '/' ("refs/pr/1"), each part valid. */
static bool valid_revision(const char *rev)
{
    if (!*rev || strlen(rev) > 256)
        return false;
    const char *p = rev;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (!valid_part(p, len))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

bool cf_model_id_valid(const char *id)
{
    if (!id || !*id || strlen(id) > 512)
        return false;
    size_t repo_len;
    const char *rev;
    split_id(id, &repo_len, &rev);
    if (!valid_repo(id, repo_len))
        return false;
    return !rev || valid_revision(rev);
}

static bool is_commit_hash(const char *s)
{
    size_t n = strlen(s);
    if (n != 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Things a user means as a path rather than a Hub id. */
static bool looks_like_path(const char *s)
{
    return s[0] == '/' || s[0] == '.' || s[0] == '~' || strstr(s, "//") || strchr(s, '\\') ||
           (strchr(s, '/') && strchr(strchr(s, '/') + 1, '/') && !strchr(s, '@'));
}

/* Read refs/<rev>: one commit hash. */
static cf_status read_ref(const char *ref_path, char *commit, size_t size, cf_error *err)
{
    char *text = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(ref_path, 4096, &text, &len, err));
    while (len > 0 && isspace((unsigned char)text[len - 1]))
        text[--len] = '\0';
    bool ok = len > 0 && len < size && valid_part(text, len);
    if (ok)
        memcpy(commit, text, len + 1);
    free(text);
    if (!ok)
        return cf_fail(err, CF_ERR_FORMAT, "%s: does not hold a commit hash", ref_path);
    return CF_OK;
}

/* models--org--name inside the cache. */
static cf_status repo_folder(const char *cache, const char *id, size_t repo_len, char *out, size_t size,
                             cf_error *err)
{
    char folder[600] = "models--";
    size_t k = strlen(folder);
    for (size_t i = 0; i < repo_len && k + 3 < sizeof folder; i++) {
        if (id[i] == '/') {
            folder[k++] = '-';
            folder[k++] = '-';
        } else {
            folder[k++] = id[i];
        }
    }
    folder[k] = '\0';
    return cf_path_join(out, size, cache, folder, err);
}

static cf_status resolve_hub_id(const char *id, char *out_dir, size_t size, cf_error *err)
{
    size_t repo_len;
    const char *rev;
    split_id(id, &repo_len, &rev);
    if (!rev)
        rev = "main";
    char cache[CF_PATH_MAX], repo[CF_PATH_MAX], ref[CF_PATH_MAX], snapshot[CF_PATH_MAX], commit[128];
    CF_TRY(cf_hf_cache_dir(cache, sizeof cache, err));
    CF_TRY(repo_folder(cache, id, repo_len, repo, sizeof repo, err));
    if (snprintf(ref, sizeof ref, "%s/refs/%s", repo, rev) >= (int)sizeof ref)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s/refs/%s", repo, rev);
    if (cf_file_exists(ref)) {
        CF_TRY(read_ref(ref, commit, sizeof commit, err));
    } else if (is_commit_hash(rev)) {
        snprintf(commit, sizeof commit, "%s", rev);
    } else {
        return cf_fail(err, CF_ERR_NOT_FOUND,
                       "model '%s' is not in the Hugging Face cache: looked for %s (cache: %s, from HF_HUB_CACHE / "
                       "HF_HOME / ~/.cache/huggingface/hub). Download it with `cformer pull %s`, or pass a model folder",
                       id, ref, cache, id);
    }
    if (snprintf(snapshot, sizeof snapshot, "%s/snapshots/%s", repo, commit) >= (int)sizeof snapshot)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s/snapshots/%s", repo, commit);
    if (!cf_dir_exists(snapshot))
        return cf_fail(err, CF_ERR_NOT_FOUND,
                       "model '%s': revision '%s' is commit %s, but %s is missing. Download it with `cformer pull %s`",
                       id, rev, commit, snapshot, id);
    if (strlen(snapshot) >= size)
        return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s", snapshot);
    memcpy(out_dir, snapshot, strlen(snapshot) + 1);
    return CF_OK;
}

cf_status cf_model_resolve(const char *path_or_id, char *out_dir, size_t size, cf_error *err)
{
    if (!path_or_id || !*path_or_id)
        return cf_fail(err, CF_ERR_INVALID_ARG, "no model given: pass a model folder or a Hub id like org/name");
    if (cf_dir_exists(path_or_id)) {
        if (strlen(path_or_id) >= size)
            return cf_fail(err, CF_ERR_INVALID_ARG, "path too long: %s", path_or_id);
        memcpy(out_dir, path_or_id, strlen(path_or_id) + 1);
        return CF_OK;
    }
    if (looks_like_path(path_or_id))
        return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no such model folder", path_or_id);
    if (!cf_model_id_valid(path_or_id))
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "'%s' is neither a folder nor a valid Hub model id (name or org/name, optionally @revision; "
                       "letters, digits, '.', '_' and '-' only, no '..')",
                       path_or_id);
    return resolve_hub_id(path_or_id, out_dir, size, err);
}

/* ---- Hub cache layout helpers (used by the downloader in io/hub*.c) ---- */

cf_status cf_hf_repo_dir(const char *cache, const char *id, char *out, size_t size, cf_error *err)
{
    size_t repo_len;
    const char *rev;
    split_id(id, &repo_len, &rev);
    return repo_folder(cache, id, repo_len, out, size, err);
}
