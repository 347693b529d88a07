/* model_run.c -- executing models: on a worker (queued) or on the caller. */
#include <string.h>
#include <time.h>

#include "model_run.h"

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

RAI_ModelRunCtx *RAI_ModelRunCtxCreate(RAI_Model *model) {
    if (!model) return NULL;
    RAI_ModelRunCtx *m = RedisModule_Calloc(1, sizeof(*m));
    m->model = RAI_ModelGetShallowCopy(model);
    return m;
}

static void push(RAI_Tensor ***arr, size_t *n, size_t *cap, RAI_Tensor *t) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *arr = RedisModule_Realloc(*arr, *cap * sizeof(RAI_Tensor *));
    }
    (*arr)[(*n)++] = t;
}

/* Inputs match by position; the name is ignored, as in the original. */
int RAI_ModelRunCtxAddInput(RAI_ModelRunCtx *m, const char *name, RAI_Tensor *t) {
    (void)name;
    if (!m || !t) return 0;
    push(&m->inputs, &m->ninputs, &m->cap_inputs, RAI_TensorGetShallowCopy(t));
    return 1;
}

int RAI_ModelRunCtxAddOutput(RAI_ModelRunCtx *m, const char *name) {
    (void)name;
    if (!m) return 0;
    push(&m->outputs, &m->noutputs, &m->cap_outputs, NULL);
    return 1;
}

size_t RAI_ModelRunCtxNumOutputs(RAI_ModelRunCtx *m) { return m ? m->noutputs : 0; }

RAI_Tensor *RAI_ModelRunCtxOutputTensor(RAI_ModelRunCtx *m, size_t i) {
    return m && i < m->noutputs ? m->outputs[i] : NULL;
}

void RAI_ModelRunCtxFree(RAI_ModelRunCtx *m) {
    if (!m) return;
    for (size_t i = 0; i < m->ninputs; i++) RAI_TensorFree(m->inputs[i]);
    for (size_t i = 0; i < m->noutputs; i++) RAI_TensorFree(m->outputs[i]);
    RedisModule_Free(m->inputs);
    RedisModule_Free(m->outputs);
    RAI_ModelFree(m->model, NULL);
    RedisModule_Free(m);
}

/* One backend call for one context; outputs replace any previous ones. */
static int run_one(RAI_ModelRunCtx *m, RAI_Error *err) {
    RAI_Model *model = m->model;
    if (m->ninputs != model->ninputs && model->ninputs > 0) {
        RAI_SetError(err, RAI_EMODELRUN, "Number of keys given as INPUTS here does not match model definition");
        return REDISMODULE_ERR;
    }
    for (size_t i = 0; i < m->noutputs; i++) {
        RAI_TensorFree(m->outputs[i]);
        m->outputs[i] = NULL;
    }
    char msg[RAI_ERRLEN] = "";
    if (model->ops->model_run(model->handle, m->inputs, m->ninputs, m->outputs, m->noutputs, msg) != 0) {
        RAI_SetError(err, RAI_EMODELRUN, msg[0] ? msg : "ERR model run failed");
        return REDISMODULE_ERR;
    }
    return REDISMODULE_OK;
}

int RAI_ModelRun(RAI_ModelRunCtx **mctxs, long long n, RAI_Error *err) {
    if (n <= 0 || !mctxs) {
        RAI_SetError(err, RAI_EMODELRUN, "ERR Nothing to run");
        return REDISMODULE_ERR;
    }
    if (mctxs[0]->model->backend == RAI_BACKEND_ONNX && !RAI_OnWorkerThread()) {
        RAI_SetError(err, RAI_EMODELRUN,
                     "Cannot execute onnxruntime model synchronously, use async execution instead");
        return REDISMODULE_ERR;
    }
    for (long long i = 0; i < n; i++)
        if (run_one(mctxs[i], err) != REDISMODULE_OK) return REDISMODULE_ERR;
    return REDISMODULE_OK;
}

static long long output_samples(RAI_ModelRunCtx *m) {
    RAI_Tensor *t = m->noutputs ? m->outputs[0] : NULL;
    return t && t->ndims > 0 ? t->dims[0] : 0;
}

static void execute_job(RAI_Job *job) {
    RAI_OnFinishCtx *f = (RAI_OnFinishCtx *)job;
    RAI_ModelRunCtx *m = f->mctx;
    if (f->timeout_ms > 0 && RedisModule_Milliseconds() - f->enqueued_ms > f->timeout_ms) {
        f->timed_out = 1;
    } else {
        long long start = now_us();
        int ok = run_one(m, &f->err) == REDISMODULE_OK;
        RAI_StatsAddRun(m->model->stats, ok, now_us() - start, ok ? output_samples(m) : 0);
    }
    f->on_finish(f, f->private_data); /* no engine lock is held here */
}

RAI_OnFinishCtx *RAI_ModelRunQueue(RAI_ModelRunCtx *mctx, long long timeout_ms,
                                   RAI_OnFinishCB on_finish, void *private_data) {
    RAI_OnFinishCtx *f = RedisModule_Calloc(1, sizeof(*f));
    f->job.execute = execute_job;
    f->mctx = mctx;
    f->on_finish = on_finish;
    f->private_data = private_data;
    f->timeout_ms = timeout_ms;
    f->enqueued_ms = RedisModule_Milliseconds();
    if (RAI_QueuePush(mctx->model->devicestr, &f->job) != REDISMODULE_OK) {
        RedisModule_Free(f);
        return NULL;
    }
    return f;
}

int RAI_ModelRunAsync(RAI_ModelRunCtx *mctx, RAI_OnFinishCB on_finish, void *private_data) {
    if (!mctx || !on_finish) return REDISMODULE_ERR;
    return RAI_ModelRunQueue(mctx, 0, on_finish, private_data) ? REDISMODULE_OK : REDISMODULE_ERR;
}

RAI_ModelRunCtx *RAI_GetAsModelRunCtx(RAI_OnFinishCtx *f, RAI_Error *err) {
    if (!f || !f->mctx) {
        RAI_SetError(err, RAI_EFINISHCTX, "Finish ctx is not a model run ctx");
        return NULL;
    }
    RAI_ModelRunCtx *m = f->mctx;
    if (f->err.code != RAI_OK) RAI_CloneError(err, &f->err);
    else if (f->timed_out) RAI_SetError(err, RAI_EMODELRUN, "TIMEDOUT");
    f->mctx = NULL;
    RAI_OnFinishCtxFree(f);
    return m;
}

void RAI_OnFinishCtxFree(RAI_OnFinishCtx *f) {
    if (!f) return;
    RAI_ModelRunCtxFree(f->mctx);
    RAI_ClearError(&f->err);
    RedisModule_Free(f);
}
