#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>

cf_status cf_arena_init(cf_arena *a, size_t size, cf_error *err)
{
    *a = (cf_arena){0};
    size_t rounded = (size + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
    if (rounded == 0)
        rounded = CF_ARENA_ALIGN;
    a->base = aligned_alloc(CF_ARENA_ALIGN, rounded);
    if (!a->base)
        return cf_fail(err, CF_ERR_NOMEM, "cannot allocate an activation arena of %zu bytes", rounded);
    a->size = rounded;
    return CF_OK;
}

void cf_arena_init_measuring(cf_arena *a)
{
    *a = (cf_arena){0};
    a->measuring = true;
    a->size = SIZE_MAX;
}

void cf_arena_free(cf_arena *a)
{
    free(a->base);
    *a = (cf_arena){0};
}

void *cf_arena_alloc(cf_arena *a, size_t bytes)
{
    size_t start = (a->used + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
    if (bytes > a->size || start > a->size - bytes)
        return NULL;
    a->used = start + bytes;
    if (a->used > a->high_water)
        a->high_water = a->used;
    if (a->measuring)
        return (void *)(uintptr_t)CF_ARENA_ALIGN; /* marker: sizes only */
    return a->base + start;
}

float *cf_arena_floats(cf_arena *a, size_t count)
{
    if (count > SIZE_MAX / sizeof(float))
        return NULL;
    return cf_arena_alloc(a, count * sizeof(float));
}
