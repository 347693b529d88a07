/* run_queue.h -- one FIFO queue per device, served by THREADS_PER_QUEUE
 * worker threads.  Jobs are pushed from Redis's main thread (or any thread,
 * through the C API) and executed on a worker.  No queue lock is held while
 * a job executes or calls back into a consumer. */
#ifndef ENGINE_RUN_QUEUE_H
#define ENGINE_RUN_QUEUE_H

#include <stddef.h>

#include "../common/rm_api.h"

typedef struct RAI_Job RAI_Job;
struct RAI_Job {
    RAI_Job *next;
    /* Runs on a worker and owns the jobs from then on; n > 1 for a batch. */
    void (*execute)(RAI_Job **jobs, size_t n);
    /* Auto-batching (batch_size 0 = run alone).  Jobs with the same group
     * whose `compatible` says yes are gathered, oldest first, until their
     * rows reach batch_size.  With min_batch_size the batch waits for that
     * many rows or until min_batch_deadline_ms passes (0 = indefinitely);
     * the jobs queued behind it run meanwhile. */
    const void *batch_group;
    size_t batch_rows, batch_size, min_batch_size;
    long long min_batch_deadline_ms;
    int (*compatible)(RAI_Job *a, RAI_Job *b);
    /* A batch waiting for its rows is taken alone from this time on (0 =
     * never), so that its TIMEOUT can drop it: the first millisecond at
     * which it has waited longer than that. */
    long long expire_ms;
};

/* At module load, on the main thread: checks that this Redis has the
 * event loop's sleep events, which deferred wake-ups need (Redis >= 7.0).
 * The engine listens to them only while commands queue runs. */
void RAI_QueuesInit(RedisModuleCtx *ctx);
/* Creates the queue of `device` (and its workers) if it does not exist. */
int RAI_QueueEnsure(const char *device);
/* Appends a job; REDISMODULE_ERR if the queue cannot be created. */
int RAI_QueuePush(const char *device, RAI_Job *job);
/* Main thread, around the queueing of a blocked client's run (1 before, 0
 * after): the pushes in between, when made while the event loop handles
 * the events of a pass, wake their workers once, when the pass ends, not
 * one futex call each.  The command returns to the event loop at once, so
 * a lone run starts as early as before; under load a worker finds the runs
 * of the whole pass queued together (larger batches, fewer wake-ups).  Only
 * for callers that return to the event loop without waiting for the run:
 * the C API entries wake at once. */
void RAI_QueueDeferWakeups(int defer);
/* True on an engine worker thread. */
int RAI_OnWorkerThread(void);
/* INFO: adds each worker's CPU time (seconds) as
 * queue_<device>_bthread_n<i>_used_cpu_total (a ':' in the device becomes
 * '_'). */
void RAI_QueuesInfo(RedisModuleInfoCtx *ctx);
/* The number of worker threads of all queues. */
long long RAI_QueuesWorkers(void);
/* Stops the workers at shutdown without waiting for running jobs. */
void RAI_QueuesShutdown(void);

#endif
