/* Downloading models from the Hugging Face Hub into the cache layout Python uses, so
 * Python and cformer share one cache:
 *   <cache>/models--org--name/blobs/<etag>                  file contents (LFS etag = sha256)
 *   <cache>/models--org--name/snapshots/<commit>/<file>     relative symlink -> ../../blobs/<etag>
 *   <cache>/models--org--name/refs/<revision>               the commit the revision pointed at
 * Files are listed from <endpoint>/api/models/<id>/revision/<rev> and fetched from
 * <endpoint>/<id>/resolve/<rev>/<file>. A download goes to blobs/<etag>.incomplete (resumed with
 * a Range request), is checked (size; sha256 for LFS files) and renamed into place; the snapshot
 * symlink is made only after that, and refs/<rev> only once every file is in, so a failed pull
 * never leaves a half file visible under snapshots/.
 *
 * Environment: HF_ENDPOINT, HF_TOKEN (else $HF_TOKEN_PATH, else $HF_HOME/token, else
 * ~/.cache/huggingface/token; sent only to the endpoint's origin), HF_HUB_OFFLINE=1 (never touch
 * the network), HF_HUB_DISABLE_PROGRESS_BARS, and the cache variables of io/model_dir.h. */
#ifndef CF_IO_HUB_H
#define CF_IO_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct cf_hub_options {
    const char *endpoint;   /* NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *cache_dir;  /* NULL: the HF cache of io/model_dir.h */
    const char *token;      /* NULL: from the environment / token file; "" sends none */
    bool quiet;             /* no progress bar or summary on stderr */
    bool all_files;         /* every file of the repo, not only those cformer reads */
    int parallel;           /* concurrent file downloads (default 4) */
    int max_retries;        /* retries per request on 5xx/429/timeouts/dropped connections (default 5) */
    long retry_base_ms;     /* first backoff; doubles per retry (default 500) */
    long stall_timeout_s;   /* a transfer that moves no byte for this long is retried (default 30) */
    long connect_timeout_s; /* default 15 */
} cf_hub_options;

/* Options as above with every default filled in. */
cf_hub_options cf_hub_options_default(void);

/* Is HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a true value? */
bool cf_hub_offline(void);

/* Download "org/name[@revision]" (revision default "main") and write the snapshot folder
 * (<cache>/models--org--name/snapshots/<commit>) to out_dir. Files already in blobs/ are not
 * fetched again. Offline: succeeds only when the revision is already complete in the cache. */
cf_status cf_hub_pull(const char *id, const cf_hub_options *opt, char *out_dir, size_t out_size, cf_error *err);

/* For `cformer run --pull` and CFORMER_AUTO_PULL=1: resolve a folder or Hub id like
 * cf_model_resolve; when the id is missing from the cache and `allow_pull` (or
 * CFORMER_AUTO_PULL=1), download it first. out_dir gets the folder. */
cf_status cf_hub_ensure_model(const char *path_or_id, bool allow_pull, char *out_dir, size_t out_size,
                              cf_error *err);

/* ---- the cache: listing and removal ---- */

typedef struct cf_hub_cached_repo {
    char id[512];          /* "org/name" */
    char path[4096];       /* <cache>/models--org--name */
    uint64_t size_bytes;   /* sum of the blobs on disk */
    int n_snapshots;
    int n_files;           /* files in the newest snapshot */
    char refs[512];        /* "main=abc1234, v1=..." (commits shortened to 7) */
    int64_t modified;      /* newest mtime in the repo folder, seconds since the epoch */
    bool incomplete;       /* holds *.incomplete downloads */
} cf_hub_cached_repo;

/* Every models--* folder of the cache, sorted by id. *out is malloc'ed (free()); may be empty. */
cf_status cf_hub_cache_list(const char *cache_dir, cf_hub_cached_repo **out, size_t *n, cf_error *err);

/* Remove "org/name" entirely, or with "@revision" only that revision's snapshot and ref and the
 * blobs no other snapshot links to. *freed gets the bytes released. */
cf_status cf_hub_cache_remove(const char *cache_dir, const char *id, uint64_t *freed, cf_error *err);

#endif
