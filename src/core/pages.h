/* Memory for large read-mostly buffers (packed weights): on transparent huge pages where the
 * kernel allows them, since a decoding step streams every weight once and 4 KB pages would cost
 * a TLB miss per page. */
#ifndef CF_CORE_PAGES_H
#define CF_CORE_PAGES_H

#include <stddef.h>

/* 64-byte aligned; buffers of 4 MB and more are 2 MB aligned and advised as huge pages.
 * Release with free(). NULL when out of memory. */
void *cf_alloc_large(size_t bytes);

#endif
