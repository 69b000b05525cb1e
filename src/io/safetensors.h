/* safetensors: mmap one file or a sharded checkpoint (model.safetensors.index.json),
 * validate the header completely, look tensors up by name. Tensors are views into the
 * mapping and live as long as the cf_safetensors. */
#ifndef CF_IO_SAFETENSORS_H
#define CF_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

typedef struct cf_safetensors cf_safetensors;

/* Open a .safetensors file, or a model.safetensors.index.json (then every shard it names;
 * shard names must be plain file names next to the index). Tensor data whose file offset
 * is not a multiple of its element size is copied once to aligned memory. */
cf_status cf_st_open(const char *path, cf_safetensors **out, cf_error *err);
/* Open from memory (the bytes must outlive the handle); used by fuzzing and tests. */
cf_status cf_st_open_memory(const void *data, size_t size, const char *name, cf_safetensors **out, cf_error *err);
/* Open the weights of a model folder: model.safetensors or model.safetensors.index.json. */
cf_status cf_st_open_dir(const char *dir, cf_safetensors **out, cf_error *err);
void cf_st_close(cf_safetensors *st);

size_t cf_st_count(const cf_safetensors *st);
size_t cf_st_shard_count(const cf_safetensors *st); /* files behind the handle (1 unless sharded) */
const char *cf_st_name(const cf_safetensors *st, size_t i);          /* i-th tensor name, sorted */
const cf_tensor *cf_st_at(const cf_safetensors *st, size_t i);
const cf_tensor *cf_st_find(const cf_safetensors *st, const char *name); /* NULL if absent */
/* The "__metadata__" string map entry, or NULL. */
const char *cf_st_metadata(const cf_safetensors *st, const char *key);

/* Look up `name` and check its shape (ndim dims; -1 in shape means any); error names both. */
cf_status cf_st_get(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape,
                    const cf_tensor **out, cf_error *err);
/* Same, and convert to a freshly malloc'ed f32 array (caller frees). */
cf_status cf_st_get_f32(const cf_safetensors *st, const char *name, int ndim, const int64_t *shape,
                        float **out, cf_error *err);

/* Writer: collect named tensors, then write one file (header sorted by name, 8-byte aligned). */
typedef struct cf_st_writer cf_st_writer;
cf_st_writer *cf_st_writer_new(void);
cf_status cf_st_writer_add(cf_st_writer *w, const char *name, const cf_tensor *t, cf_error *err); /* copies */
cf_status cf_st_writer_set_metadata(cf_st_writer *w, const char *key, const char *value, cf_error *err);
cf_status cf_st_writer_save(cf_st_writer *w, const char *path, cf_error *err);
void cf_st_writer_free(cf_st_writer *w);

#endif
