#include "server/queue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *worker_main(void *arg)
{
    cf_job_queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->head && !(q->closed && q->reserved == 0))
            pthread_cond_wait(&q->ready, &q->lock);
        cf_job *job = q->head;
        if (job) {
            q->head = job->next;
            if (!q->head)
                q->tail = NULL;
            q->depth--;
        }
        pthread_mutex_unlock(&q->lock);
        if (!job)
            return NULL; /* closed and drained */
        job->next = NULL;
        job->execute(job);
    }
}

cf_status cf_job_queue_start(cf_job_queue *q, int capacity, int workers, cf_error *err)
{
    memset(q, 0, sizeof *q);
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* gather deadlines are monotonic */
    pthread_cond_init(&q->arrived, &attr);
    pthread_condattr_destroy(&attr);
    q->threads = calloc((size_t)workers, sizeof *q->threads);
    if (!q->threads)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for %d worker threads", workers);
    for (; q->n_threads < workers; q->n_threads++)
        if (pthread_create(&q->threads[q->n_threads], NULL, worker_main, q) != 0) {
            cf_job_queue_stop(q);
            return cf_fail(err, CF_ERR_INTERNAL, "cannot start worker thread %d", q->n_threads + 1);
        }
    return CF_OK;
}

bool cf_job_queue_reserve(cf_job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool ok = !q->closed && q->depth + q->reserved < q->capacity;
    q->reserved += ok;
    pthread_mutex_unlock(&q->lock);
    return ok;
}

void cf_job_queue_push(cf_job_queue *q, cf_job *job)
{
    pthread_mutex_lock(&q->lock);
    q->reserved--;
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->depth++;
    pthread_cond_signal(&q->ready);
    pthread_cond_broadcast(&q->arrived);
    pthread_mutex_unlock(&q->lock);
}

int cf_job_queue_depth(cf_job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int d = q->depth;
    pthread_mutex_unlock(&q->lock);
    return d;
}

/* One pass over the queue; true when the batch is full. Called with the lock held. */
static bool gather_pass(cf_job_queue *q, cf_job_pick_fn pick, void *ctx, cf_job **out, size_t max, size_t *n)
{
    cf_job *prev = NULL, *job = q->head;
    while (job && *n < max) {
        cf_pick p = pick(job, ctx);
        if (p == CF_PICK_STOP)
            return true;
        if (p == CF_PICK_SKIP) {
            prev = job;
            job = job->next;
            continue;
        }
        cf_job *next = job->next;
        if (prev)
            prev->next = next;
        else
            q->head = next;
        if (q->tail == job)
            q->tail = prev;
        q->depth--;
        job->next = NULL;
        out[(*n)++] = job;
        job = next;
        if (p == CF_PICK_TAKE_LAST)
            return true;
    }
    return *n == max;
}

size_t cf_job_queue_gather(cf_job_queue *q, cf_job_pick_fn pick, void *ctx, double deadline, cf_job **out,
                           size_t max)
{
    size_t n = 0;
    struct timespec until = {(time_t)deadline, (long)((deadline - floor(deadline)) * 1e9)};
    bool timed_out = false;
    pthread_mutex_lock(&q->lock);
    while (!gather_pass(q, pick, ctx, out, max, &n) && !q->closed && !timed_out)
        timed_out = pthread_cond_timedwait(&q->arrived, &q->lock, &until) != 0; /* one more pass after */
    pthread_mutex_unlock(&q->lock);
    return n;
}

void cf_job_queue_stop(cf_job_queue *q)
{
    if (!q->threads)
        return;
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->ready);
    pthread_cond_broadcast(&q->arrived);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    q->threads = NULL;
    pthread_cond_destroy(&q->ready);
    pthread_cond_destroy(&q->arrived);
    pthread_mutex_destroy(&q->lock);
}
