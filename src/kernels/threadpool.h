/* The thread pool lives in core (tokenizers and media use it too); kept for includes. */
#ifndef CF_KERNELS_THREADPOOL_H
#define CF_KERNELS_THREADPOOL_H
#include "core/threadpool.h"
#endif
