/* model_execute.c -- AI.MODELEXECUTE: parse on the main thread, block the
 * client, run on the device's worker, then store the outputs and reply on
 * the main thread. */
#include <stdio.h>

#include "command_args.h"
#include "execute_call.h"
#include "model_commands.h"
#include "model_run.h"
#include "run_queue.h"
#include "tensor_type.h"

#define ERR_ARGS "ERR wrong number of arguments for 'AI.MODELEXECUTE' command"

/* Reports the key positions: inputs after INPUTS n, outputs after OUTPUTS m. */
static int report_keys(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    RedisModule_KeyAtPos(ctx, 1);
    for (int i = 2; i + 1 < argc; i++) {
        if (!RAI_ArgIs(argv[i], "INPUTS") && !RAI_ArgIs(argv[i], "OUTPUTS")) continue;
        long long n;
        if (RedisModule_StringToLongLong(argv[i + 1], &n) != REDISMODULE_OK) continue;
        for (long long k = 0; k < n && i + 2 + k < argc; k++) RedisModule_KeyAtPos(ctx, (int)(i + 2 + k));
        i += 1 + (int)n;
    }
    return REDISMODULE_OK;
}

static int reply_err(RedisModuleCtx *ctx, RAI_ModelRunCtx *m, const char *msg) {
    RAI_ModelRunCtxFree(m);
    return RedisModule_ReplyWithError(ctx, msg);
}

int RAI_ModelExecuteCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RedisModule_IsKeysPositionRequest(ctx)) return report_keys(ctx, argv, argc);
    if (argc < 8) return RedisModule_ReplyWithError(ctx, ERR_ARGS);
    if (RAI_CannotBlock(ctx)) return RedisModule_ReplyWithError(ctx, RAI_ERR_CANNOT_BLOCK);
    RAI_Error err = {0};
    RAI_Model *model;
    if (RAI_GetModelFromKeyspace(ctx, argv[1], &model, REDISMODULE_READ, &err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    RAI_ModelRunCtx *m = RAI_ModelRunCtxCreate(model);
    long long nin, nout, timeout = 0;
    if (!RAI_ArgIs(argv[2], "INPUTS")) return reply_err(ctx, m, "ERR INPUTS not specified");
    if (RedisModule_StringToLongLong(argv[3], &nin) != REDISMODULE_OK)
        return reply_err(ctx, m, "ERR Invalid argument for input_count");
    if (nin <= 0) return reply_err(ctx, m, "ERR Input count must be a positive integer");
    if ((size_t)nin != model->ninputs && model->ninputs > 0)
        return reply_err(ctx, m, "Number of keys given as INPUTS here does not match model definition");
    int i = 4;
    for (long long k = 0; k < nin; k++, i++)
        if (i >= argc || RAI_ArgIs(argv[i], "OUTPUTS"))
            return reply_err(ctx, m, "ERR number of input keys to AI.MODELEXECUTE command does not match the number of given arguments");
    if (i >= argc || !RAI_ArgIs(argv[i], "OUTPUTS")) return reply_err(ctx, m, "ERR OUTPUTS not specified");
    if (i + 1 >= argc || RedisModule_StringToLongLong(argv[i + 1], &nout) != REDISMODULE_OK || nout <= 0)
        return reply_err(ctx, m, "ERR Output count must be a positive integer");
    if ((size_t)nout != model->noutputs && model->noutputs > 0)
        return reply_err(ctx, m, "Number of keys given as OUTPUTS here does not match model definition");
    i += 2;
    int first_output = i;
    if (argc - i < nout)
        return reply_err(ctx, m, "ERR number of output keys to AI.MODELEXECUTE command does not match the number of given arguments");
    i += (int)nout;
    for (; i < argc; i++) {
        if (!RAI_ArgIs(argv[i], "TIMEOUT")) {
            char msg[256];
            snprintf(msg, sizeof(msg), "Invalid argument: %s", RedisModule_StringPtrLen(argv[i], NULL));
            return reply_err(ctx, m, msg);
        }
        if (++i >= argc) return reply_err(ctx, m, "ERR No value provided for TIMEOUT");
        if (RedisModule_StringToLongLong(argv[i], &timeout) != REDISMODULE_OK || timeout <= 0)
            return reply_err(ctx, m, "ERR Invalid value for TIMEOUT");
    }
    /* The whole command is parsed: only now are the inputs looked up. */
    for (long long k = 0; k < nin; k++) {
        RAI_Tensor *t;
        if (RAI_TensorGetFromKeyspace(ctx, argv[4 + k], &t, &err) != REDISMODULE_OK) {
            RAI_ModelRunCtxFree(m);
            RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
            RAI_ClearError(&err);
            return REDISMODULE_OK;
        }
        RAI_ModelRunCtxAddInput(m, NULL, t);
    }
    for (long long k = 0; k < nout; k++) RAI_ModelRunCtxAddOutput(m, NULL);
    ExecuteCall *call = RAI_ExecuteCallBlock(ctx, argv + first_output, (size_t)nout);
    RAI_QueueDeferWakeups(1);
    RAI_OnFinishCtx *queued = RAI_ModelRunQueue(m, timeout, RAI_ExecuteCallFinished, call);
    RAI_QueueDeferWakeups(0);
    if (!queued) {
        RAI_ExecuteCallAbort(ctx, call);
        return reply_err(ctx, m, "ERR Could not initialize queue on requested device");
    }
    return REDISMODULE_OK;
}
