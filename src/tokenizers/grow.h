/* Growing an array by doubling, for the push functions of the tokenizer layer. */
#ifndef CF_TOKENIZERS_GROW_H
#define CF_TOKENIZERS_GROW_H

#include <stdlib.h>

/* The array v (n items of item_size bytes used, *cap allocated) with room for one more item:
 * v itself while there is room, else v reallocated to twice *cap (first_cap when empty) with
 * *cap updated. NULL when out of memory, with v and *cap untouched. */
static inline void *cf_grow_for_one(void *v, size_t n, size_t *cap, size_t item_size, size_t first_cap)
{
    if (n < *cap)
        return v;
    size_t new_cap = *cap ? *cap * 2 : first_cap;
    void *p = realloc(v, new_cap * item_size);
    if (p)
        *cap = new_cap;
    return p;
}

#endif
