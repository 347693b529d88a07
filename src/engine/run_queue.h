/* run_queue.h -- one FIFO queue per device, served by THREADS_PER_QUEUE
 * worker threads.  Jobs are pushed from Redis's main thread (or any thread,
 * through the C API) and executed on a worker.  No queue lock is held while
 * a job executes or calls back into a consumer. */
#ifndef ENGINE_RUN_QUEUE_H
#define ENGINE_RUN_QUEUE_H

#include <stddef.h>

typedef struct RAI_Job RAI_Job;
struct RAI_Job {
    RAI_Job *next;
    /* Runs on a worker and owns the jobs from then on; n > 1 for a batch. */
    void (*execute)(RAI_Job **jobs, size_t n);
    /* Auto-batching (batch_size 0 = run alone).  Jobs with the same group
     * whose `compatible` says yes are gathered, oldest first, until their
     * rows reach batch_size.  With min_batch_size the worker waits (polling
     * every 1 ms) for that many rows or until min_batch_deadline_ms passes
     * (0 = wait indefinitely). */
    const void *batch_group;
    size_t batch_rows, batch_size, min_batch_size;
    long long min_batch_deadline_ms;
    int (*compatible)(RAI_Job *a, RAI_Job *b);
};

/* Creates the queue of `device` (and its workers) if it does not exist. */
int RAI_QueueEnsure(const char *device);
/* Appends a job; REDISMODULE_ERR if the queue cannot be created. */
int RAI_QueuePush(const char *device, RAI_Job *job);
/* True on an engine worker thread. */
int RAI_OnWorkerThread(void);
/* Stops the workers at shutdown without waiting for running jobs. */
void RAI_QueuesShutdown(void);

#endif
