/* A bounded FIFO of jobs and the worker threads that run them. A job is embedded in the
 * caller's own struct; `execute` runs on a worker and must finish the job (reply, resume).
 * A worker may gather more queued jobs to run with the one it holds (dynamic batching). */
#ifndef CF_SERVER_QUEUE_H
#define CF_SERVER_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef struct cf_job {
    struct cf_job *next;
    void (*execute)(struct cf_job *job);
} cf_job;

typedef struct cf_job_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;   /* a job arrived: wakes one idle worker */
    pthread_cond_t arrived; /* a job arrived or the queue closed: wakes every gathering worker */
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

/* What a gather does with a queued job. */
typedef enum cf_pick {
    CF_PICK_SKIP,      /* leave it queued, look further */
    CF_PICK_TAKE,      /* take it, look further */
    CF_PICK_TAKE_LAST, /* take it, the batch is full */
    CF_PICK_STOP       /* leave it, the batch is full */
} cf_pick;
typedef cf_pick (*cf_job_pick_fn)(const cf_job *job, void *ctx);

/* Take queued jobs that `pick` accepts (oldest first) into out[0..max), waiting for more to
 * arrive until `deadline` (CLOCK_MONOTONIC seconds; in the past = no wait), the batch is full
 * or the queue closes. Returns how many were taken. */
size_t cf_job_queue_gather(cf_job_queue *q, cf_job_pick_fn pick, void *ctx, double deadline, cf_job **out,
                           size_t max);

/* Refuse new jobs, run the queued ones, join the workers. */
void cf_job_queue_stop(cf_job_queue *q);

#endif
