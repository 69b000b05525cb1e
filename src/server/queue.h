/* A bounded FIFO of jobs and the worker threads that run them. A job is embedded in the
 * caller's own struct; `execute` runs on a worker and must finish the job (reply, resume). */
#ifndef CF_SERVER_QUEUE_H
#define CF_SERVER_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

#include "core/error.h"

typedef struct cf_job {
    struct cf_job *next;
    void (*execute)(struct cf_job *job);
} cf_job;

typedef struct cf_job_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    cf_job *head, *tail;
    int depth, reserved, capacity;
    bool closed;
    pthread_t *threads;
    int n_threads;
} cf_job_queue;

cf_status cf_job_queue_start(cf_job_queue *q, int capacity, int workers, cf_error *err);
/* Claim a place: false when the queue is full or closed (the caller answers 429/503 itself).
 * A claimed place is filled with cf_job_queue_push, which then cannot fail. */
bool cf_job_queue_reserve(cf_job_queue *q);
void cf_job_queue_push(cf_job_queue *q, cf_job *job);
int cf_job_queue_depth(cf_job_queue *q);
/* Refuse new jobs, run the queued ones, join the workers. */
void cf_job_queue_stop(cf_job_queue *q);

#endif
