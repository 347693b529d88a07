/* dag_execute.c -- AI.DAGEXECUTE, AI.DAGEXECUTE_RO and the deprecated
 * AI.DAGRUN / AI.DAGRUN_RO: parse on the main thread, block the client, run
 * the DAG on the workers (dag_run.c), then on the main thread store and
 * replicate the PERSIST tensors and reply with one entry per op. */
#include <stdio.h>

#include "../common/user_acl.h"
#include "command_args.h"
#include "dag_commands.h"
#include "dag_parse.h"
#include "run_queue.h"
#include "tensor_commands.h"
#include "tensor_type.h"

typedef struct {
    RedisModuleBlockedClient *bc;
    RAI_DAGCommand cmd;
} DagCall;

static void dag_call_free(RedisModuleCtx *ctx, void *privdata) {
    (void)ctx;
    DagCall *call = privdata;
    RAI_DAGCommandClear(&call->cmd);
    RedisModule_Free(call);
}

/* Worker thread: hand the call back to the main thread. */
static void on_dag_finished(RAI_OnFinishCtx *finish, void *private_data) {
    (void)finish;
    DagCall *call = private_data;
    RedisModule_UnblockClient(call->bc, call);
}

/* Stores every PERSIST tensor, or none: all keys are checked first (another
 * client may have written one since the command was parsed). */
static int persist(RedisModuleCtx *ctx, RAI_DAGCommand *cmd, RAI_Error *err) {
    for (size_t i = 0; i < cmd->npersist; i++) {
        RedisModuleKey *key = RedisModule_OpenKey(ctx, cmd->persist[i], REDISMODULE_READ);
        int type = RedisModule_KeyType(key);
        int ok = type == REDISMODULE_KEYTYPE_EMPTY ||
                 (type == REDISMODULE_KEYTYPE_MODULE && RedisModule_ModuleTypeGetType(key) == RAI_TensorType);
        RedisModule_CloseKey(key);
        if (!ok) {
            RAI_SetError(err, RAI_ETENSORSET, REDISMODULE_ERRORMSG_WRONGTYPE);
            return 0;
        }
    }
    for (size_t i = 0; i < cmd->npersist; i++) {
        RAI_Tensor *t = RAI_DAGLookup(cmd->dag, RedisModule_StringPtrLen(cmd->persist[i], NULL));
        /* The key shares the DAG's tensor (one more reference, no copy). */
        if (RAI_TensorStore(ctx, cmd->persist[i], RAI_TensorGetShallowCopy(t), err) != REDISMODULE_OK) {
            RAI_TensorFree(t);
            return 0;
        }
        RAI_TensorReplicate(ctx, cmd->persist[i], t);
        RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_MODULE, "ai.tensorset", cmd->persist[i]);
    }
    return 1;
}

static void reply_op(RedisModuleCtx *ctx, RAI_DAGRunOp *op) {
    if (op->state == RAI_DAGOP_PENDING) {
        RedisModule_ReplyWithSimpleString(ctx, "NA");
    } else if (op->state == RAI_DAGOP_FAILED) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&op->err));
    } else if (op->type == RAI_DAGOP_TENSORGET) {
        RAI_TensorReply(ctx, op->fmt, op->tensor);
    } else {
        RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
}

/* Main thread. */
static int reply_dag(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    DagCall *call = RedisModule_GetBlockedClientPrivateData(ctx);
    RAI_DAGRunCtx *dag = call->cmd.dag;
    RAI_OnFinishCtx *finish = dag->finish;
    if (finish->timed_out) return RedisModule_ReplyWithSimpleString(ctx, "TIMEDOUT");
    RAI_Error err = {0};
    /* Only a DAG that ran to the end writes to the keyspace. */
    if (finish->err.code == RAI_OK && !persist(ctx, &call->cmd, &err)) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    RedisModule_ReplyWithArray(ctx, (long)dag->nops);
    for (size_t i = 0; i < dag->nops; i++) reply_op(ctx, dag->ops[i]);
    return REDISMODULE_OK;
}

static int reply_error(RedisModuleCtx *ctx, RAI_Error *err) {
    RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(err));
    RAI_ClearError(err);
    return REDISMODULE_OK;
}

static int dag_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int flags) {
    if (RedisModule_IsKeysPositionRequest(ctx)) {
        RAI_DAGReportKeys(ctx, argv, argc);
        return REDISMODULE_OK;
    }
    if (flags & RAI_DAG_DEPRECATED) {
        if (argc < 4) return RedisModule_WrongArity(ctx);
    } else if (argc < 6) {
        char msg[96];
        snprintf(msg, sizeof(msg), "ERR missing arguments for '%s' command",
                 flags & RAI_DAG_RO ? "AI.DAGEXECUTE_RO" : "AI.DAGEXECUTE");
        return RedisModule_ReplyWithError(ctx, msg);
    }
    if (RAI_CannotBlock(ctx)) return RedisModule_ReplyWithError(ctx, RAI_ERR_CANNOT_BLOCK);
    RAI_Error err = {0};
    DagCall *call = RedisModule_Calloc(1, sizeof(*call));
    if (RAI_DAGParseCommand(ctx, argv, argc, flags, &call->cmd, &err) != REDISMODULE_OK) {
        RedisModule_Free(call);
        return reply_error(ctx, &err);
    }
    call->cmd.dag->db = RedisModule_GetSelectedDb(ctx);
    call->cmd.dag->user = RMACL_CallerUserName(ctx);
    call->bc = RedisModule_BlockClient(ctx, reply_dag, NULL, dag_call_free, 0);
    RAI_QueueDeferWakeups(1);
    int queued = RAI_DAGRunQueue(call->cmd.dag, call->cmd.timeout_ms, on_dag_finished, call, &err);
    RAI_QueueDeferWakeups(0);
    if (queued != REDISMODULE_OK) {
        RedisModule_AbortBlock(call->bc);
        dag_call_free(ctx, call);
        return reply_error(ctx, &err);
    }
    return REDISMODULE_OK;
}

int RAI_DAGExecuteCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return dag_command(ctx, argv, argc, 0);
}

int RAI_DAGExecuteROCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return dag_command(ctx, argv, argc, RAI_DAG_RO);
}

int RAI_DAGRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return dag_command(ctx, argv, argc, RAI_DAG_DEPRECATED);
}

int RAI_DAGRunROCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return dag_command(ctx, argv, argc, RAI_DAG_RO | RAI_DAG_DEPRECATED);
}
