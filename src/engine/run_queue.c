/* run_queue.c -- per-device FIFO queues and their worker threads. */
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "../common/rm_api.h"
#include "config.h"
#include "run_queue.h"

typedef struct RAI_Queue {
    char *device;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    RAI_Job *head, *tail;
    int stopping;
    struct RAI_Queue *next;
} RAI_Queue;

static RAI_Queue *queues; /* list; created on the main thread, never freed */
static pthread_mutex_t queues_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int on_worker;

int RAI_OnWorkerThread(void) { return on_worker; }

static void *worker_main(void *arg) {
    RAI_Queue *q = arg;
    on_worker = 1;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->head && !q->stopping) pthread_cond_wait(&q->ready, &q->lock);
        if (q->stopping) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        RAI_Job *job = q->head;
        q->head = job->next;
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&q->lock);
        job->next = NULL;
        job->execute(job); /* without the queue lock: it may take the GIL, etc. */
    }
}

static RAI_Queue *find_queue(const char *device) {
    for (RAI_Queue *q = queues; q; q = q->next)
        if (strcasecmp(q->device, device) == 0) return q;
    return NULL;
}

static RAI_Queue *queue_get_or_create(const char *device) {
    pthread_mutex_lock(&queues_lock);
    RAI_Queue *q = find_queue(device);
    if (q) {
        pthread_mutex_unlock(&queues_lock);
        return q;
    }
    q = RedisModule_Calloc(1, sizeof(*q));
    q->device = RedisModule_Strdup(device);
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    for (long long i = 0; i < RAI_config.threads_per_queue; i++) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, worker_main, q) != 0) {
            /* A queue without workers would hang its clients. */
            if (i == 0) {
                pthread_mutex_unlock(&queues_lock);
                RedisModule_Free(q->device);
                RedisModule_Free(q);
                return NULL;
            }
            break;
        }
        pthread_detach(tid);
    }
    q->next = queues;
    queues = q;
    pthread_mutex_unlock(&queues_lock);
    return q;
}

int RAI_QueueEnsure(const char *device) {
    return queue_get_or_create(device) ? REDISMODULE_OK : REDISMODULE_ERR;
}

int RAI_QueuePush(const char *device, RAI_Job *job) {
    RAI_Queue *q = queue_get_or_create(device);
    if (!q) return REDISMODULE_ERR;
    job->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->next = job;
    else q->head = job;
    q->tail = job;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
    return REDISMODULE_OK;
}

void RAI_QueuesShutdown(void) {
    pthread_mutex_lock(&queues_lock);
    for (RAI_Queue *q = queues; q; q = q->next) {
        pthread_mutex_lock(&q->lock);
        q->stopping = 1;
        pthread_cond_broadcast(&q->ready);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&queues_lock);
}
