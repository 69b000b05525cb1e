#include "kernels/scratch.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct scratch_set {
    float *buf[CF_SCRATCH_SLOTS];
    size_t cap[CF_SCRATCH_SLOTS];
} scratch_set;

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch_set *s = p;
    for (int i = 0; i < CF_SCRATCH_SLOTS; i++)
        free(s->buf[i]);
    free(s);
}

static void make_key(void) { pthread_key_create(&g_key, scratch_free); }

float *cf_scratch_f32(int slot, size_t n)
{
    pthread_once(&g_once, make_key);
    scratch_set *s = pthread_getspecific(g_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(g_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->cap[slot] < n) {
        size_t cap = n < 1024 ? 1024 : n + n / 2;
        float *b = aligned_alloc(64, (cap * sizeof(float) + 63) / 64 * 64);
        if (!b)
            return NULL;
        free(s->buf[slot]);
        s->buf[slot] = b;
        s->cap[slot] = cap;
    }
    return s->buf[slot];
}
