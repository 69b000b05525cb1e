#include "server/queue.h"

#include <stdlib.h>
#include <string.h>

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
    pthread_mutex_unlock(&q->lock);
}

int cf_job_queue_depth(cf_job_queue *q)
{
    pthread_mutex_lock(&q->lock);
    int d = q->depth;
    pthread_mutex_unlock(&q->lock);
    return d;
}

void cf_job_queue_stop(cf_job_queue *q)
{
    if (!q->threads)
        return;
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->n_threads; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    q->threads = NULL;
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
}
