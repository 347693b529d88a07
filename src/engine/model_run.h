/* model_run.h -- model run contexts and their execution, synchronous (C API)
 * or queued on the model's device (commands and RedisAI_ModelRunAsync). */
#ifndef ENGINE_MODEL_RUN_H
#define ENGINE_MODEL_RUN_H

#include "../include/redisai.h"
#include "error.h"
#include "model.h"
#include "run_info.h"
#include "tensor.h"

struct RAI_ModelRunCtx {
    RAI_Model *model; /* own reference */
    size_t ninputs, noutputs, cap_inputs, cap_outputs;
    RAI_Tensor **inputs;  /* own references */
    RAI_Tensor **outputs; /* filled by the run; NULL slots before */
};


RAI_ModelRunCtx *RAI_ModelRunCtxCreate(RAI_Model *model);
int RAI_ModelRunCtxAddInput(RAI_ModelRunCtx *mctx, const char *name, RAI_Tensor *t);
int RAI_ModelRunCtxAddOutput(RAI_ModelRunCtx *mctx, const char *name);
size_t RAI_ModelRunCtxNumOutputs(RAI_ModelRunCtx *mctx);
RAI_Tensor *RAI_ModelRunCtxOutputTensor(RAI_ModelRunCtx *mctx, size_t index);
void RAI_ModelRunCtxFree(RAI_ModelRunCtx *mctx);

/* Runs n contexts of one model as one batch on the calling thread. */
int RAI_ModelRun(RAI_ModelRunCtx **mctxs, long long n, RAI_Error *err);
/* Queues one run; `on_finish` is called on a worker, once. */
int RAI_ModelRunAsync(RAI_ModelRunCtx *mctx, RAI_OnFinishCB on_finish, void *private_data);
/* As RAI_ModelRunAsync, with a TIMEOUT (ms, 0 = none) for commands. */
RAI_OnFinishCtx *RAI_ModelRunQueue(RAI_ModelRunCtx *mctx, long long timeout_ms,
                                   RAI_OnFinishCB on_finish, void *private_data);
RAI_ModelRunCtx *RAI_GetAsModelRunCtx(RAI_OnFinishCtx *finish, RAI_Error *err);

#endif
