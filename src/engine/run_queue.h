/* run_queue.h -- one FIFO queue per device, served by THREADS_PER_QUEUE
 * worker threads.  Jobs are pushed from Redis's main thread (or any thread,
 * through the C API) and executed on a worker.  No queue lock is held while
 * a job executes or calls back into a consumer. */
#ifndef ENGINE_RUN_QUEUE_H
#define ENGINE_RUN_QUEUE_H

typedef struct RAI_Job RAI_Job;
struct RAI_Job {
    RAI_Job *next;
    void (*execute)(RAI_Job *job); /* runs on a worker, owns the job from then on */
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
