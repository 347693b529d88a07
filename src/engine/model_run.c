/* model_run.c -- executing models: on a worker (queued) or on the caller. */
#include <limits.h>
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
    /* A run with no inputs and no outputs (C API) is the backend's to
     * refuse, with its own words, as in RedisAI. */
    int empty = m->ninputs == 0 && m->noutputs == 0;
    if (!empty && m->ninputs != model->ninputs && model->ninputs > 0) {
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

static long long output_samples(RAI_ModelRunCtx *m) {
    RAI_Tensor *t = m->noutputs ? m->outputs[0] : NULL;
    return t && t->ndims > 0 ? t->dims[0] : 0;
}

static int timed_out(RAI_OnFinishCtx *f) {
    return f->timeout_ms > 0 && RedisModule_Milliseconds() - f->enqueued_ms > f->timeout_ms;
}

/* Rows along dim 0 shared by every input, or 0 when the run cannot batch. */
static size_t batch_rows(RAI_ModelRunCtx *m) {
    if (m->ninputs == 0 || m->inputs[0]->ndims == 0) return 0;
    long long rows = m->inputs[0]->dims[0];
    for (size_t i = 0; i < m->ninputs; i++)
        if (m->inputs[i]->ndims == 0 || m->inputs[i]->dims[0] != rows) return 0;
    return (size_t)rows;
}

/* Two runs batch together when every input matches in all but dim 0. */
static int runs_compatible(RAI_Job *a, RAI_Job *b) {
    RAI_ModelRunCtx *x = ((RAI_OnFinishCtx *)a)->mctx, *y = ((RAI_OnFinishCtx *)b)->mctx;
    if (x->ninputs != y->ninputs || x->noutputs != y->noutputs) return 0;
    for (size_t i = 0; i < x->ninputs; i++) {
        RAI_Tensor *s = x->inputs[i], *t = y->inputs[i];
        if (s->dtype != t->dtype || s->ndims != t->ndims) return 0;
        for (int d = 1; d < s->ndims; d++)
            if (s->dims[d] != t->dims[d]) return 0;
    }
    return 1;
}

static void run_single(RAI_OnFinishCtx *f) {
    RAI_ModelRunCtx *m = f->mctx;
    long long start = now_us();
    int ok = run_one(m, &f->err) == REDISMODULE_OK;
    RAI_StatsAddRun(m->model->stats, ok, now_us() - start, ok ? output_samples(m) : 0);
}

/* Runs n contexts of one model as one backend call: inputs are concatenated
 * along dim 0 (a copy the batch needs) and each context gets its own rows of
 * every output back (a copy each). */
static int run_concatenated(RAI_ModelRunCtx **ms, size_t n, RAI_Error *err) {
    RAI_ModelRunCtx *first = ms[0];
    RAI_ModelRunCtx *batch = RAI_ModelRunCtxCreate(first->model);
    RAI_Tensor **parts = RedisModule_Alloc(sizeof(*parts) * n);
    long long *rows = RedisModule_Alloc(sizeof(*rows) * n), total = 0;
    int ok = 1;
    for (size_t r = 0; r < n; r++) {
        rows[r] = (long long)batch_rows(ms[r]);
        total += rows[r];
        ok = ok && rows[r] > 0 && ms[r]->model == first->model && ms[r]->ninputs == first->ninputs &&
             ms[r]->noutputs == first->noutputs;
    }
    for (size_t i = 0; ok && i < first->ninputs; i++) {
        for (size_t r = 0; r < n; r++) parts[r] = ms[r]->inputs[i];
        RAI_Tensor *joined = RAI_TensorCreateByConcatenatingTensors(parts, (long long)n);
        ok = joined != NULL;
        if (joined) RAI_ModelRunCtxAddInput(batch, NULL, joined);
        RAI_TensorFree(joined);
    }
    if (!ok) RAI_SetError(err, RAI_EMODELRUN, "ERR could not batch the inputs");
    for (size_t o = 0; o < first->noutputs; o++) RAI_ModelRunCtxAddOutput(batch, NULL);
    ok = ok && run_one(batch, err) == REDISMODULE_OK;
    for (size_t o = 0; ok && o < batch->noutputs; o++) {
        RAI_Tensor *out = batch->outputs[o];
        if (!out) continue; /* not a tensor: skipped for every run */
        if (out->ndims == 0 || out->dims[0] != total) {
            RAI_SetError(err, RAI_EMODELRUN,
                         batch->model->backend == RAI_BACKEND_TF
                             ? "ERR Tensorflow batching error: model did not generate the expected batch size"
                             : "ERR Model did not generate the expected batch size");
            ok = 0;
        }
    }
    long long offset = 0;
    for (size_t r = 0; ok && r < n; r++) {
        for (size_t o = 0; ok && o < ms[r]->noutputs; o++) {
            RAI_TensorFree(ms[r]->outputs[o]);
            ms[r]->outputs[o] = NULL;
            if (!batch->outputs[o]) continue;
            ms[r]->outputs[o] = RAI_TensorCreateBySlicingTensor(batch->outputs[o], offset, rows[r]);
            if (!ms[r]->outputs[o]) RAI_SetError(err, RAI_EMODELRUN, "ERR could not split the batch outputs"), ok = 0;
        }
        offset += rows[r];
    }
    RedisModule_Free(rows);
    RedisModule_Free(parts);
    RAI_ModelRunCtxFree(batch);
    return ok ? REDISMODULE_OK : REDISMODULE_ERR;
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
    return n == 1 ? run_one(mctxs[0], err) : run_concatenated(mctxs, (size_t)n, err);
}

/* Queued requests gathered by the worker: one run, counted per request. */
static void run_batch(RAI_OnFinishCtx **runs, size_t n) {
    RAI_ModelRunCtx *ms[n];
    for (size_t r = 0; r < n; r++) ms[r] = runs[r]->mctx;
    RAI_Error err = {0};
    long long start = now_us();
    int ok = run_concatenated(ms, n, &err) == REDISMODULE_OK;
    long long duration = now_us() - start;
    for (size_t r = 0; r < n; r++) {
        if (!ok) RAI_CloneError(&runs[r]->err, &err);
        RAI_StatsAddRun(ms[r]->model->stats, ok, duration, ok ? (long long)batch_rows(ms[r]) : 0);
    }
    RAI_ClearError(&err);
}

static void execute_jobs(RAI_Job **jobs, size_t n) {
    RAI_OnFinishCtx *runs[n];
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        RAI_OnFinishCtx *f = (RAI_OnFinishCtx *)jobs[i];
        if (timed_out(f)) f->timed_out = 1;
        else runs[live++] = f;
    }
    if (live == 1) run_single(runs[0]);
    else if (live > 1) run_batch(runs, live);
    /* Callbacks last, with no engine lock held: consumers may take the GIL. */
    for (size_t i = 0; i < n; i++) {
        RAI_OnFinishCtx *f = (RAI_OnFinishCtx *)jobs[i];
        f->on_finish(f, f->private_data);
    }
}

RAI_OnFinishCtx *RAI_ModelRunQueue(RAI_ModelRunCtx *mctx, long long timeout_ms,
                                   RAI_OnFinishCB on_finish, void *private_data) {
    RAI_OnFinishCtx *f = RedisModule_Calloc(1, sizeof(*f));
    f->job.execute = execute_jobs;
    RAI_ModelOpts *opts = &mctx->model->opts;
    size_t rows = batch_rows(mctx);
    if (opts->batchsize > 0 && rows > 0) {
        f->job.batch_group = mctx->model;
        f->job.batch_rows = rows;
        f->job.batch_size = opts->batchsize;
        /* A model from an RDB may ask for more rows than a batch holds
         * (MODELSTORE refuses it): its batches would wait for ever. */
        f->job.min_batch_size = opts->minbatchsize < opts->batchsize ? opts->minbatchsize : opts->batchsize;
        f->job.compatible = runs_compatible;
        if (opts->minbatchtimeout > 0) { /* saturated: a huge timeout must not wrap to the past */
            long long now = RedisModule_Milliseconds();
            f->job.min_batch_deadline_ms =
                opts->minbatchtimeout < (size_t)(LLONG_MAX - now) ? now + (long long)opts->minbatchtimeout : LLONG_MAX;
        }
    }
    f->mctx = mctx;
    f->on_finish = on_finish;
    f->private_data = private_data;
    f->timeout_ms = timeout_ms;
    f->enqueued_ms = RedisModule_Milliseconds();
    if (timeout_ms > 0 && timeout_ms < LLONG_MAX - f->enqueued_ms - 1) /* timed_out() holds from then on */
        f->job.expire_ms = f->enqueued_ms + timeout_ms + 1;
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
