/* loopq.c -- jobs the main thread hands straight to the loop thread.
 *
 * A flow whose first step is an `async def` runs on the loop thread from
 * its start (only the coroutine is made before the first await), so
 * RG.TRIGGER queues it here instead of on the pool: one thread wake-up
 * fewer.  The main thread never waits for the GIL, so the queue lives in C
 * and an eventfd, watched by the loop (loop.add_reader), wakes the loop; its
 * callback, LoopQ_Drain, runs every queued job with the GIL held. */
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "host.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static PoolJob *head, *tail;
static int efd = -1;
static int wake_pending; /* a write is on its way: no need for another */
static int stopping;

int LoopQ_Start(void) {
    if (efd >= 0) return REDISMODULE_OK; /* a load that failed after this */
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return efd < 0 ? REDISMODULE_ERR : REDISMODULE_OK;
}

int LoopQ_Fd(void) { return efd; }

int LoopQ_Submit(PoolJob *job) {
    pthread_mutex_lock(&mu);
    if (stopping || efd < 0) {
        pthread_mutex_unlock(&mu);
        return REDISMODULE_ERR;
    }
    job->next = NULL;
    if (tail) tail->next = job;
    else head = job;
    tail = job;
    int wake = !wake_pending;
    wake_pending = 1;
    pthread_mutex_unlock(&mu);
    if (wake) {
        uint64_t one = 1;
        /* Only EAGAIN can fail here (counter at its maximum), and then the
         * eventfd is readable anyway. */
        ssize_t rc = write(efd, &one, sizeof(one));
        (void)rc;
    }
    return REDISMODULE_OK;
}

/* Loop thread, GIL held.  The eventfd is read before the queue is taken, so
 * a job queued after the take always comes with a fresh wake-up. */
void LoopQ_Drain(void) {
    uint64_t n;
    while (read(efd, &n, sizeof(n)) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&mu);
    PoolJob *job = head;
    head = tail = NULL;
    wake_pending = 0;
    pthread_mutex_unlock(&mu);
    while (job) {
        PoolJob *next = job->next;
        job->next = NULL;
        job->run(job); /* owns and frees the job */
        job = next;
    }
}

void LoopQ_Stop(void) {
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_mutex_unlock(&mu);
    /* Jobs still queued are dropped: the process is exiting. */
}
