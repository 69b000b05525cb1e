/* Locating a model: a directory is used as is; "org/name[@revision]" resolves in the
 * Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub;
 * like huggingface_hub also $HUGGINGFACE_HUB_CACHE and $XDG_CACHE_HOME/huggingface/hub):
 * models--org--name/refs/<revision> -> snapshots/<commit>/; a revision that is a commit
 * hash without a ref file resolves to snapshots/<revision>/. */
#ifndef CF_IO_MODEL_DIR_H
#define CF_IO_MODEL_DIR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define CF_PATH_MAX 4096

/* The HF hub cache directory per the environment rules above. */
cf_status cf_hf_cache_dir(char *out, size_t size, cf_error *err);

/* Validate a Hub model id: "name" or "org/name", optional "@revision"; no "..", no absolute
 * paths, only [A-Za-z0-9._-] in each part. */
bool cf_model_id_valid(const char *id);

/* Resolve a directory path or a Hub id to a local folder; the error says where it looked and
 * how to get the model (`cformer pull ID`). */
cf_status cf_model_resolve(const char *path_or_id, char *out_dir, size_t size, cf_error *err);

/* ---- Hub cache layout helpers (used by the downloader in io/hub*.c) ---- */

/* <cache>/models--org--name for "org/name[@rev]" (the revision is ignored). */
cf_status cf_hf_repo_dir(const char *cache, const char *id, char *out, size_t size, cf_error *err);

#endif
