/* script_execute.c -- AI.SCRIPTEXECUTE and the deprecated AI.SCRIPTRUN:
 * parse on the main thread (input tensors are looked up there), block the
 * client, run on the script device's worker, then store the outputs,
 * replicate them and reply on the main thread. */
#include <stdio.h>
#include <string.h>

#include "../common/user_acl.h"
#include "command_args.h"
#include "execute_call.h"
#include "run_queue.h"
#include "script_args.h"
#include "script_commands.h"
#include "script_run.h"
#include "tensor_type.h"

/* What the parsers produce. */
typedef struct {
    RAI_ScriptRunCtx *sctx;
    size_t noutputs;
    RedisModuleString **output_keys; /* borrowed from argv until queued */
    long long timeout;
} ParsedRun;

/* Blocks the client and queues the run; takes over p->sctx. */
static int queue_run(RedisModuleCtx *ctx, ParsedRun *p) {
    for (size_t k = 0; k < p->noutputs; k++) RAI_ScriptRunCtxAddOutput(p->sctx);
    ExecuteCall *call = RAI_ExecuteCallBlock(ctx, p->output_keys, p->noutputs);
    RAI_QueueDeferWakeups(1);
    RAI_OnFinishCtx *queued = RAI_ScriptRunQueue(p->sctx, p->timeout, RAI_ExecuteCallFinished, call);
    RAI_QueueDeferWakeups(0);
    if (!queued) {
        RAI_ExecuteCallAbort(ctx, call);
        RAI_ScriptRunCtxFree(p->sctx);
        return RedisModule_ReplyWithError(ctx, "ERR Could not initialize queue on requested device");
    }
    return REDISMODULE_OK;
}

static int reply_parse_error(RedisModuleCtx *ctx, ParsedRun *p, RAI_Error *err) {
    RAI_ScriptRunCtxFree(p->sctx);
    RedisModule_Free(p->output_keys);
    RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(err));
    RAI_ClearError(err);
    return REDISMODULE_OK;
}

/* Looks up the script and makes the run context for argv[1] / argv[2]. */
static int start_parse(RedisModuleCtx *ctx, RedisModuleString **argv, ParsedRun *p, RAI_Error *err) {
    RAI_Script *script;
    if (RAI_GetScriptFromKeyspace(ctx, argv[1], &script, REDISMODULE_READ, err) != REDISMODULE_OK) return 0;
    size_t fnlen;
    const char *fn = RedisModule_StringPtrLen(argv[2], &fnlen);
    if (fnlen == 0) return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR function name not specified"), 0;
    /* The backend takes a C string: "f\0x" would run f. */
    if (strlen(fn) != fnlen) return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR function name contains a NUL byte"), 0;
    p->sctx = RAI_ScriptRunCtxCreate(script, fn);
    p->sctx->db = RedisModule_GetSelectedDb(ctx);
    p->sctx->user = RMACL_CallerUserName(ctx);
    return 1;
}

static int add_input(RedisModuleCtx *ctx, ParsedRun *p, RedisModuleString *name, RAI_Error *err) {
    RAI_Tensor *t;
    if (RAI_TensorGetFromKeyspace(ctx, name, &t, err) != REDISMODULE_OK) return 0;
    return RAI_ScriptRunCtxAddTensorInput(p->sctx, t);
}

static int parse_timeout(RedisModuleString **argv, int argc, int *i, const char *missing,
                         long long *timeout, RAI_Error *err) {
    if (*i + 1 >= argc) return RAI_SetError(err, RAI_ESCRIPTRUN, missing), 0;
    if (RedisModule_StringToLongLong(argv[*i + 1], timeout) != REDISMODULE_OK || *timeout <= 0)
        return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR Invalid value for TIMEOUT"), 0;
    *i += 2;
    return 1;
}

/* ---- AI.SCRIPTEXECUTE key fn [KEYS n ..] [INPUTS n ..] [ARGS n ..] [OUTPUTS n ..] [TIMEOUT ms] ---- */

typedef struct {
    RedisModuleCtx *ctx;
    ParsedRun *p;
} ExecuteParse;

static int on_scope(void *priv, RAI_ScriptScope scope, RedisModuleString **names, long long n,
                    RAI_Error *err) {
    ExecuteParse *e = priv;
    ParsedRun *p = e->p;
    for (long long k = 0; k < n; k++) {
        /* The run context owns its KEYS and ARGS: held (shared) arguments. */
        if (scope == RAI_SCOPE_KEYS) RAI_ScriptRunCtxAddKeyInput(p->sctx, RedisModule_HoldString(NULL, names[k]));
        else if (scope == RAI_SCOPE_ARGS) RAI_ScriptRunCtxAddArgInput(p->sctx, RedisModule_HoldString(NULL, names[k]));
        else if (scope == RAI_SCOPE_INPUTS && !add_input(e->ctx, p, names[k], err)) return 0;
    }
    if (scope == RAI_SCOPE_OUTPUTS) {
        p->noutputs = (size_t)n;
        p->output_keys = RedisModule_Alloc(sizeof(RedisModuleString *) * (n ? n : 1));
        for (long long k = 0; k < n; k++) p->output_keys[k] = names[k];
    }
    return 1;
}

static int on_timeout(void *priv, RedisModuleString **argv, int argc, int *i, RAI_Error *err) {
    ExecuteParse *e = priv;
    return parse_timeout(argv, argc, i, "ERR No value provided for TIMEOUT in AI.SCRIPTEXECUTE", &e->p->timeout, err);
}

static int parse_execute(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, ParsedRun *p, RAI_Error *err) {
    if (!start_parse(ctx, argv, p, err)) return 0;
    ExecuteParse e = {ctx, p};
    RAI_ScriptScopeHandler h = {on_scope, on_timeout, &e};
    return RAI_ScriptParseScopes(argv, argc, &h, err);
}

/* Key positions: the script, then the names in KEYS, INPUTS and OUTPUTS. */
static int report_execute_keys(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    RedisModule_KeyAtPos(ctx, 1);
    for (int i = 3; i + 1 < argc; i++) {
        int scope = RAI_ScriptScopeOf(argv[i]);
        long long n;
        if (scope < 0 || RedisModule_StringToLongLong(argv[i + 1], &n) != REDISMODULE_OK || n < 0) continue;
        for (long long k = 0; k < n && i + 2 + k < argc; k++)
            if (scope != RAI_SCOPE_ARGS) RedisModule_KeyAtPos(ctx, (int)(i + 2 + k));
        i += 1 + (int)(n < argc ? n : argc);
    }
    return REDISMODULE_OK;
}

int RAI_ScriptExecuteCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RedisModule_IsKeysPositionRequest(ctx)) return report_execute_keys(ctx, argv, argc);
    if (argc < 3) return RedisModule_WrongArity(ctx);
    if (RAI_CannotBlock(ctx)) return RedisModule_ReplyWithError(ctx, RAI_ERR_CANNOT_BLOCK);
    RAI_Error err = {0};
    ParsedRun p = {0};
    if (!parse_execute(ctx, argv, argc, &p, &err)) return reply_parse_error(ctx, &p, &err);
    int rc = queue_run(ctx, &p);
    RedisModule_Free(p.output_keys);
    return rc;
}

/* ---- deprecated AI.SCRIPTRUN key fn [TIMEOUT t] INPUTS name... [$ name...] OUTPUTS name... ----
 * Inputs go to the function by position.  "$" (which grouped the inputs
 * after it into a list) is accepted and skipped: the backend passes all
 * inputs as one list to a function that takes a single List[Tensor]. */

static int is_run_keyword(RedisModuleString *arg) {
    return RAI_ArgIs(arg, "INPUTS") || RAI_ArgIs(arg, "OUTPUTS") || RAI_ArgIs(arg, "TIMEOUT");
}

static int parse_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, ParsedRun *p, RAI_Error *err) {
    if (!start_parse(ctx, argv, p, err)) return 0;
    int inputs = 0, outputs = 0;
    for (int i = 3; i < argc;) {
        if (RAI_ArgIs(argv[i], "TIMEOUT")) {
            if (!parse_timeout(argv, argc, &i, "ERR No value provided for TIMEOUT", &p->timeout, err)) return 0;
        } else if (RAI_ArgIs(argv[i], "INPUTS") && !inputs) {
            inputs = 1;
            for (i++; i < argc && !is_run_keyword(argv[i]); i++)
                if (!RAI_ArgIs(argv[i], "$") && !add_input(ctx, p, argv[i], err)) return 0;
        } else if (RAI_ArgIs(argv[i], "OUTPUTS") && !outputs) {
            outputs = 1;
            int first = ++i;
            while (i < argc && !is_run_keyword(argv[i])) i++;
            p->noutputs = (size_t)(i - first);
            p->output_keys = RedisModule_Alloc(sizeof(RedisModuleString *) * (p->noutputs ? p->noutputs : 1));
            for (int k = first; k < i; k++) p->output_keys[k - first] = argv[k];
        } else {
            RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR Invalid argument: %s", RedisModule_StringPtrLen(argv[i], NULL));
            return 0;
        }
    }
    if (!inputs) return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR INPUTS not specified"), 0;
    if (!outputs) return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR OUTPUTS not specified"), 0;
    return 1;
}

static int report_run_keys(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    RedisModule_KeyAtPos(ctx, 1);
    int in_names = 0;
    for (int i = 3; i < argc; i++) {
        if (RAI_ArgIs(argv[i], "TIMEOUT")) in_names = 0, i++;
        else if (RAI_ArgIs(argv[i], "INPUTS") || RAI_ArgIs(argv[i], "OUTPUTS")) in_names = 1;
        else if (in_names && !RAI_ArgIs(argv[i], "$")) RedisModule_KeyAtPos(ctx, i);
    }
    return REDISMODULE_OK;
}

int RAI_ScriptRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RedisModule_IsKeysPositionRequest(ctx)) return report_run_keys(ctx, argv, argc);
    if (argc < 4) return RedisModule_WrongArity(ctx);
    if (RAI_CannotBlock(ctx)) return RedisModule_ReplyWithError(ctx, RAI_ERR_CANNOT_BLOCK);
    RAI_Error err = {0};
    ParsedRun p = {0};
    if (!parse_run(ctx, argv, argc, &p, &err)) return reply_parse_error(ctx, &p, &err);
    int rc = queue_run(ctx, &p);
    RedisModule_Free(p.output_keys);
    return rc;
}
