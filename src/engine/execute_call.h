/* execute_call.h -- a client blocked on one queued model or script run
 * (AI.MODELEXECUTE, AI.SCRIPTEXECUTE and their deprecated forms): the keys
 * its outputs go to, the hand-back from the worker, and the reply. */
#ifndef ENGINE_EXECUTE_CALL_H
#define ENGINE_EXECUTE_CALL_H

#include "../common/rm_api.h"
#include "run_info.h"

typedef struct ExecuteCall ExecuteCall;

/* Blocks the client.  The n output key names are held by the call. */
ExecuteCall *RAI_ExecuteCallBlock(RedisModuleCtx *ctx, RedisModuleString *const *output_keys, size_t n);

/* The on-finish callback to queue the run with (private data: the call).
 * Worker thread: it only hands the call back to the main thread, which
 * stores the outputs (replicated as AI.TENSORSET) and replies. */
void RAI_ExecuteCallFinished(RAI_OnFinishCtx *run, void *call);

/* The run could not be queued: unblocks and frees the call (not the run). */
void RAI_ExecuteCallAbort(RedisModuleCtx *ctx, ExecuteCall *call);

#endif
