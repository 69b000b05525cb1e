/* Arena: one block sized at load; a forward pass takes slices and resets at the end,
 * so inference does no malloc. A measuring arena (no block) only counts what would be
 * taken, which is how a model sizes its real arena. */
#ifndef CF_CORE_ARENA_H
#define CF_CORE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define CF_ARENA_ALIGN 64

typedef struct cf_arena {
    char *base;        /* NULL for a measuring arena */
    size_t size;       /* capacity in bytes */
    size_t used;       /* bytes taken so far */
    size_t high_water; /* most ever taken */
    bool measuring;
} cf_arena;

cf_status cf_arena_init(cf_arena *a, size_t size, cf_error *err);
void cf_arena_init_measuring(cf_arena *a);
void cf_arena_free(cf_arena *a);

/* 64-byte aligned slice, or NULL when the arena is full (never NULL while measuring:
 * it then returns a non-dereferenceable marker). */
void *cf_arena_alloc(cf_arena *a, size_t bytes);
float *cf_arena_floats(cf_arena *a, size_t count);

/* Mark/rewind: scratch memory for a block of work. */
static inline size_t cf_arena_mark(const cf_arena *a) { return a->used; }
static inline void cf_arena_rewind(cf_arena *a, size_t mark) { a->used = mark; }
static inline void cf_arena_reset(cf_arena *a) { a->used = 0; }

#endif
