/* mainq.c -- jobs handed to Redis's main thread.
 *
 * A sync execution stays on the main thread, under the Redis lock, also
 * across an `await` of a model or script run: when the engine's worker ends
 * the run, redisAI queues the outcome here (host API run_on_main) and the
 * rest of the coroutine runs on this thread, not on the loop thread.  That
 * is one thread hand-off each way, as for AI.MODELEXECUTE, where the loop
 * thread would add two more.  RedisModule_EventLoopAddOneShot
 * (Redis 7.0) wakes the main event loop through the server's module pipe and
 * runs the job there. */
#include "host.h"

static volatile int stopping;

static void run_on_main(void *job) {
    PoolJob *j = job;
    j->run(j); /* owns and frees the job */
}

int MainQ_Call(void (*fn)(void *arg), void *arg) {
    if (stopping || !RedisModule_EventLoopAddOneShot) return REDISMODULE_ERR;
    return RedisModule_EventLoopAddOneShot(fn, arg);
}

int MainQ_Submit(PoolJob *job) { return MainQ_Call(run_on_main, job); }

/* Jobs still queued are dropped: the process is exiting. */
void MainQ_Stop(void) { stopping = 1; }
