/* pool.c -- the execution pool: C threads that wait on a condition variable
 * (without the GIL) and run jobs in FIFO order.  The main thread hands a job
 * over with one mutex/condvar round trip and never touches Python for it. */
#include <Python.h>
#include <stdlib.h>

#include "host.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static PoolJob *head, *tail;
static int stopping;
static int idle; /* threads waiting: signal only when someone can take it */

static void *pool_main(void *arg) {
    (void)arg;
    /* Keep one Python thread state for the thread's whole life: otherwise
     * each job's PyGILState_Ensure/Release pair creates and destroys one. */
    PyGILState_Ensure();
    PyEval_SaveThread();
    for (;;) {
        pthread_mutex_lock(&mu);
        while (!head && !stopping) {
            idle++;
            pthread_cond_wait(&cv, &mu);
            idle--;
        }
        if (stopping) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        PoolJob *job = head;
        head = job->next;
        if (!head) tail = NULL;
        pthread_mutex_unlock(&mu);
        job->next = NULL;
        job->run(job);
    }
}

int Pool_Start(int nthreads) {
    for (int i = 0; i < nthreads; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, pool_main, NULL);
        pthread_attr_destroy(&attr);
        if (rc != 0) return REDISMODULE_ERR;
    }
    return REDISMODULE_OK;
}

int Pool_Submit(PoolJob *job) {
    pthread_mutex_lock(&mu);
    if (stopping) {
        pthread_mutex_unlock(&mu);
        return REDISMODULE_ERR;
    }
    job->next = NULL;
    if (tail) tail->next = job;
    else head = job;
    tail = job;
    if (idle) pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return REDISMODULE_OK;
}

void Pool_Stop(void) {
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    /* Jobs still queued are dropped: the process is exiting. */
}
