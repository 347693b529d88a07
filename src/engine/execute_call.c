/* execute_call.c -- see execute_call.h. */
#include "execute_call.h"

#include "model_run.h"
#include "script_run.h"
#include "tensor_type.h"

struct ExecuteCall {
    RedisModuleBlockedClient *bc;
    RAI_OnFinishCtx *run;
    size_t noutputs;
    RedisModuleString **output_keys; /* held */
};

static void execute_call_free(RedisModuleCtx *ctx, void *privdata) {
    (void)ctx;
    ExecuteCall *call = privdata;
    for (size_t i = 0; i < call->noutputs; i++) RedisModule_FreeString(NULL, call->output_keys[i]);
    RedisModule_Free(call->output_keys);
    if (call->run) RAI_OnFinishCtxFree(call->run);
    RedisModule_Free(call);
}

void RAI_ExecuteCallFinished(RAI_OnFinishCtx *run, void *private_data) {
    ExecuteCall *call = private_data;
    call->run = run;
    RedisModule_BlockedClientMeasureTimeEnd(call->bc);
    RedisModule_UnblockClient(call->bc, call);
}

static RAI_Tensor *output_of(RAI_OnFinishCtx *run, size_t i) {
    return run->mctx ? run->mctx->outputs[i] : RAI_ScriptRunCtxOutputTensor(run->sctx, i);
}

/* Main thread: write outputs (replicated as AI.TENSORSET), then reply. */
static int reply_execute(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    ExecuteCall *call = RedisModule_GetBlockedClientPrivateData(ctx);
    RAI_OnFinishCtx *run = call->run;
    if (run->timed_out) return RedisModule_ReplyWithSimpleString(ctx, "TIMEDOUT");
    if (run->err.code != RAI_OK) return RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&run->err));
    for (size_t i = 0; i < call->noutputs; i++) {
        RAI_Tensor *t = output_of(run, i);
        RAI_Error err = {0};
        if (!t) continue; /* a model output that is no tensor (the backend logged it) */
        /* The key shares the output's data (a reference, not a copy). */
        if (RAI_TensorStore(ctx, call->output_keys[i], RAI_TensorGetShallowCopy(t), &err) != REDISMODULE_OK) {
            RAI_TensorFree(t);
            RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
            RAI_ClearError(&err);
            return REDISMODULE_OK;
        }
        RAI_TensorReplicate(ctx, call->output_keys[i], t);
    }
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

ExecuteCall *RAI_ExecuteCallBlock(RedisModuleCtx *ctx, RedisModuleString *const *output_keys, size_t n) {
    ExecuteCall *call = RedisModule_Calloc(1, sizeof(*call));
    call->noutputs = n;
    call->output_keys = RedisModule_Alloc(sizeof(RedisModuleString *) * (n ? n : 1));
    for (size_t k = 0; k < n; k++) call->output_keys[k] = RedisModule_HoldString(NULL, output_keys[k]);
    call->bc = RedisModule_BlockClient(ctx, reply_execute, NULL, execute_call_free, 0);
    /* SLOWLOG and INFO commandstats count the wait and the run, until the
     * worker unblocks the client (Redis >= 6.2, which module.c requires). */
    RedisModule_BlockedClientMeasureTimeStart(call->bc);
    return call;
}

void RAI_ExecuteCallAbort(RedisModuleCtx *ctx, ExecuteCall *call) {
    RedisModule_AbortBlock(call->bc);
    execute_call_free(ctx, call);
}
