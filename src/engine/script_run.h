/* script_run.h -- script run contexts: one call of one function of a
 * script with its tensors, KEYS and ARGS, and the outputs it returned.
 *
 * Three ways to execute a context:
 * - RAI_ScriptRun: synchronous on the calling thread, not counted in AI.INFO
 *   (the C API's RedisAI_ScriptRun);
 * - RAI_ScriptRunOp: synchronous on the calling thread, counted in AI.INFO
 *   (a SCRIPTEXECUTE op that a worker executes, e.g. inside a DAG);
 * - RAI_ScriptRunQueue / RAI_ScriptRunAsync: queued on the script's device
 *   (AI.SCRIPTEXECUTE, AI.SCRIPTRUN, RedisAI_ScriptRunAsync). */
#ifndef ENGINE_SCRIPT_RUN_H
#define ENGINE_SCRIPT_RUN_H

#include "../include/redisai.h"
#include "error.h"
#include "run_info.h"
#include "script.h"
#include "tensor.h"

struct RAI_ScriptRunCtx {
    RAI_Script *script; /* own reference */
    char *fnname;
    size_t ninputs, cap_inputs;
    RAI_Tensor **inputs; /* own references */
    size_t nkeys, cap_keys;
    RedisModuleString **keys; /* owned */
    size_t nargs, cap_args;
    RedisModuleString **args; /* owned */
    size_t noutputs;
    RAI_Tensor **outputs; /* filled by the run; NULL slots before */
    int db; /* where redis.execute and redisAI.model_execute look: the command's database (0: C API) */
    /* The ACL user of the command's client, whose rights redis.execute and
     * redisAI.model_execute have (owned; NULL: full rights, the C API). */
    RedisModuleString *user;
};

RAI_ScriptRunCtx *RAI_ScriptRunCtxCreate(RAI_Script *script, const char *fnname);
/* Each returns 1 (the C API's convention); the context takes a reference. */
int RAI_ScriptRunCtxAddTensorInput(RAI_ScriptRunCtx *sctx, RAI_Tensor *t);
int RAI_ScriptRunCtxAddTensorInputList(RAI_ScriptRunCtx *sctx, RAI_Tensor **ts, size_t count);
int RAI_ScriptRunCtxAddInput(RAI_ScriptRunCtx *sctx, RAI_Tensor *t, RAI_Error *err);
int RAI_ScriptRunCtxAddInputList(RAI_ScriptRunCtx *sctx, RAI_Tensor **ts, size_t len, RAI_Error *err);
/* KEYS / ARGS strings; the context takes ownership of `s` (returns 1). */
int RAI_ScriptRunCtxAddKeyInput(RAI_ScriptRunCtx *sctx, RedisModuleString *s);
int RAI_ScriptRunCtxAddArgInput(RAI_ScriptRunCtx *sctx, RedisModuleString *s);
int RAI_ScriptRunCtxAddOutput(RAI_ScriptRunCtx *sctx);
size_t RAI_ScriptRunCtxNumInputs(RAI_ScriptRunCtx *sctx);
size_t RAI_ScriptRunCtxNumOutputs(RAI_ScriptRunCtx *sctx);
/* Borrowed: the context owns it. */
RAI_Tensor *RAI_ScriptRunCtxOutputTensor(RAI_ScriptRunCtx *sctx, size_t index);
void RAI_ScriptRunCtxFree(RAI_ScriptRunCtx *sctx);

/* Runs on the calling thread; no AI.INFO counting (C API). */
int RAI_ScriptRun(RAI_ScriptRunCtx *sctx, RAI_Error *err);
/* Runs on the calling thread and counts the run in the script's AI.INFO
 * entry: what a worker calls for one SCRIPTEXECUTE op. */
int RAI_ScriptRunOp(RAI_ScriptRunCtx *sctx, RAI_Error *err);
/* Queues one run on the script's device; `on_finish` is called on a worker,
 * once, with no engine lock held.  TIMEOUT in ms (0 = none). */
RAI_OnFinishCtx *RAI_ScriptRunQueue(RAI_ScriptRunCtx *sctx, long long timeout_ms,
                                    RAI_OnFinishCB on_finish, void *private_data);
int RAI_ScriptRunAsync(RAI_ScriptRunCtx *sctx, RAI_OnFinishCB on_finish, void *private_data);
/* In the callback: returns the context (the caller owns it again), copies
 * the run's error into `err` and frees the finish context. */
RAI_ScriptRunCtx *RAI_GetAsScriptRunCtx(RAI_OnFinishCtx *finish, RAI_Error *err);

#endif
