/* run_info.h -- a queued run: what the C API calls the finish context.
 * Exactly one of mctx / sctx / dag is set.  The job is executed on a worker
 * of the run's device; `on_finish` is then called there, once, with no
 * engine lock held. */
#ifndef ENGINE_RUN_INFO_H
#define ENGINE_RUN_INFO_H

#include "../include/redisai.h"
#include "error.h"
#include "run_queue.h"

struct RAI_OnFinishCtx {
    RAI_Job job;
    RAI_ModelRunCtx *mctx;
    RAI_ScriptRunCtx *sctx;
    RAI_DAGRunCtx *dag;
    RAI_Error err;
    RAI_OnFinishCB on_finish;
    void *private_data;
    long long enqueued_ms, timeout_ms; /* TIMEOUT of commands, 0 = none */
    int timed_out;
};

/* Frees the finish context and whichever run it still holds. */
void RAI_OnFinishCtxFree(RAI_OnFinishCtx *finish);

#endif
