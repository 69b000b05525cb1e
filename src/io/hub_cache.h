/* The on-disk side of the Hub cache (layout in io/hub.h): directories, snapshot symlinks,
 * refs, and checks on the names a Hub server sends before they become paths. */
#ifndef CF_IO_HUB_CACHE_H
#define CF_IO_HUB_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

/* mkdir -p */
cf_status cf_hub_mkdirs(const char *path, cf_error *err);

/* A repo file name from the server is a relative path: non-empty parts of printable ASCII
 * other than '\\', no "." or ".." part, no leading '/'. */
bool cf_hub_safe_filename(const char *name);
/* An etag or commit usable as one path part: [A-Za-z0-9._-], 1..128 chars, not "." or "..". */
bool cf_hub_safe_token(const char *s);

/* snapshots/<commit>/<file> -> relative symlink to blobs/<etag>, replaced atomically. */
cf_status cf_hub_link_snapshot(const char *repo_dir, const char *commit, const char *file, const char *etag,
                               cf_error *err);

/* refs/<revision> := commit, written atomically (nothing for a revision that is the commit). */
cf_status cf_hub_write_ref(const char *repo_dir, const char *revision, const char *commit, cf_error *err);

/* Write `data` to path through path.tmp + rename. */
cf_status cf_hub_write_atomic(const char *path, const char *data, size_t len, cf_error *err);

#endif
