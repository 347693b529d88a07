/* dag_run.c -- executing a DAG: ops start as soon as the ops they depend on
 * are done, each model or script op on its own device's queue (see dag.h).
 * The DAG's mutex guards the name table and the scheduling state; it is
 * never held while a backend runs, and it is the only lock taken with a
 * queue lock inside it (RAI_QueuePush).  No tensor data is copied here:
 * names are bound to shared (ref-counted, immutable) tensors. */
#include <string.h>
#include <time.h>

#include "dag.h"
#include "model_run.h"
#include "script_run.h"

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* ---- one op (model and script ops: on a worker, without the DAG lock) ---- */

static int run_model(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op) {
    RAI_ModelRunCtx *m = RAI_ModelRunCtxCreate(op->model);
    /* The context takes its own references: the op runs without the lock. */
    pthread_mutex_lock(&dag->lock);
    for (size_t i = 0; i < op->ninputs; i++) RAI_ModelRunCtxAddInput(m, NULL, RAI_DAGLookup(dag, op->inputs[i]));
    pthread_mutex_unlock(&dag->lock);
    for (size_t i = 0; i < op->noutputs; i++) RAI_ModelRunCtxAddOutput(m, NULL);
    long long start = now_us();
    int ok = RAI_ModelRun(&m, 1, &op->err) == REDISMODULE_OK;
    for (size_t i = 0; ok && i < op->noutputs; i++) {
        if (m->outputs[i]) continue;
        RAI_SetError(&op->err, RAI_EMODELRUN, "ERR model did not produce the requested output");
        ok = 0;
    }
    long long samples = ok && op->noutputs > 0 && m->outputs[0]->ndims > 0 ? m->outputs[0]->dims[0] : 0;
    RAI_StatsAddRun(op->model->stats, ok, now_us() - start, samples);
    pthread_mutex_lock(&dag->lock);
    for (size_t i = 0; ok && i < op->noutputs; i++) RAI_DAGBind(dag, op->outputs[i], m->outputs[i]);
    pthread_mutex_unlock(&dag->lock);
    RAI_ModelRunCtxFree(m);
    return ok;
}

static RedisModuleString *copy_string(RedisModuleString *s) {
    size_t len;
    const char *p = RedisModule_StringPtrLen(s, &len);
    return RedisModule_CreateString(NULL, p, len);
}

static int run_script(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op) {
    RAI_ScriptRunCtx *s = RAI_ScriptRunCtxCreate(op->script, op->fn);
    s->db = dag->db;
    if (dag->user) s->user = copy_string(dag->user);
    pthread_mutex_lock(&dag->lock);
    for (size_t i = 0; i < op->ninputs; i++) RAI_ScriptRunCtxAddTensorInput(s, RAI_DAGLookup(dag, op->inputs[i]));
    pthread_mutex_unlock(&dag->lock);
    /* The context takes its KEYS/ARGS strings over: give it copies, so no
     * Redis object is shared with another thread. */
    for (size_t i = 0; i < op->nkeys; i++) RAI_ScriptRunCtxAddKeyInput(s, copy_string(op->keys[i]));
    for (size_t i = 0; i < op->nargs; i++) RAI_ScriptRunCtxAddArgInput(s, copy_string(op->args[i]));
    for (size_t i = 0; i < op->noutputs; i++) RAI_ScriptRunCtxAddOutput(s);
    int ok = RAI_ScriptRunOp(s, &op->err) == REDISMODULE_OK;
    pthread_mutex_lock(&dag->lock);
    for (size_t i = 0; ok && i < op->noutputs; i++) RAI_DAGBind(dag, op->outputs[i], s->outputs[i]);
    pthread_mutex_unlock(&dag->lock);
    RAI_ScriptRunCtxFree(s);
    return ok;
}

/* With the lock held: TENSORSET and TENSORGET only touch the name table. */
static void run_tensor_op(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op) {
    if (op->type == RAI_DAGOP_TENSORSET) RAI_DAGBind(dag, op->outputs[0], op->tensor);
    else op->tensor = RAI_TensorGetShallowCopy(RAI_DAGLookup(dag, op->inputs[0]));
}

/* ---- dependencies and scheduling (all with the DAG lock held) ---- */

static int shares(char **a, size_t na, char **b, size_t nb) {
    for (size_t i = 0; i < na; i++)
        for (size_t k = 0; k < nb; k++)
            if (strcmp(a[i], b[k]) == 0) return 1;
    return 0;
}

/* Whether `later` must wait for `earlier` (which comes first in op order). */
static int depends(const RAI_DAGRunOp *later, const RAI_DAGRunOp *earlier) {
    return shares(later->inputs, later->ninputs, earlier->outputs, earlier->noutputs) ||  /* read after write */
           shares(later->outputs, later->noutputs, earlier->inputs, earlier->ninputs) ||  /* write after read */
           shares(later->outputs, later->noutputs, earlier->outputs, earlier->noutputs); /* write after write */
}

static void complete(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op, int ok) {
    op->state = ok ? RAI_DAGOP_DONE : RAI_DAGOP_FAILED;
    if (!ok) {
        if (op->index < dag->stop_at) dag->stop_at = op->index;
        return;
    }
    for (size_t i = op->index + 1; i < dag->nops; i++)
        if (depends(dag->ops[i], op)) dag->ops[i]->waiting--;
}

/* Starts every op before stop_at whose dependencies are done.  One forward
 * pass is enough: an op only depends on earlier ops, so one finished here
 * has already released the later ones when the loop reaches them. */
static void advance(RAI_DAGRunCtx *dag) {
    for (size_t i = 0; i < dag->stop_at; i++) {
        RAI_DAGRunOp *op = dag->ops[i];
        if (op->state != RAI_DAGOP_PENDING || op->waiting > 0) continue;
        const char *device = RAI_DAGOpDevice(op);
        if (!device) {
            run_tensor_op(dag, op);
            complete(dag, op, 1);
            continue;
        }
        op->state = RAI_DAGOP_QUEUED;
        dag->running++;
        if (RAI_QueuePush(device, &op->job) == REDISMODULE_OK) continue;
        dag->running--;
        RAI_SetError(&op->err, RAI_EDAGRUN, "ERR Could not initialize queue on requested device");
        complete(dag, op, 0);
    }
}

/* An op after the first failed one counts as not executed, even if it ran
 * in parallel: its result is dropped, as a run in op order gives. */
static void discard(RAI_DAGRunOp *op) {
    op->state = RAI_DAGOP_PENDING;
    RAI_ClearError(&op->err);
    if (op->type != RAI_DAGOP_TENSORGET) return;
    RAI_TensorFree(op->tensor);
    op->tensor = NULL;
}

/* Nothing is queued or running any more. */
static void finalize(RAI_DAGRunCtx *dag) {
    RAI_OnFinishCtx *f = dag->finish;
    size_t from = dag->nops;
    if (f->timed_out) {
        from = 0;
    } else if (dag->stop_at < dag->nops) {
        RAI_CloneError(&f->err, &dag->ops[dag->stop_at]->err);
        from = dag->stop_at + 1;
    }
    for (size_t i = from; i < dag->nops; i++) discard(dag->ops[i]);
}

/* TIMEOUT counts from the command, at every dequeue (as in RedisAI). */
static void check_timeout(RAI_DAGRunCtx *dag) {
    RAI_OnFinishCtx *f = dag->finish;
    if (f->timeout_ms <= 0 || RedisModule_Milliseconds() - f->enqueued_ms <= f->timeout_ms) return;
    f->timed_out = 1;
    dag->stop_at = 0;
}

/* ---- jobs (on workers) ---- */

/* A model or script op; op jobs never batch, so n is 1. */
static void execute_op(RAI_Job **jobs, size_t n) {
    (void)n;
    RAI_DAGRunOp *op = (RAI_DAGRunOp *)jobs[0];
    RAI_DAGRunCtx *dag = op->dag;
    RAI_OnFinishCtx *f = dag->finish;
    pthread_mutex_lock(&dag->lock);
    if (op->index < dag->stop_at) check_timeout(dag);
    int start = op->index < dag->stop_at; /* not after a failure or the TIMEOUT */
    pthread_mutex_unlock(&dag->lock);
    int ok = 0;
    if (start) ok = op->type == RAI_DAGOP_MODEL ? run_model(dag, op) : run_script(dag, op);
    pthread_mutex_lock(&dag->lock);
    dag->running--;
    if (start) complete(dag, op, ok);
    else op->state = RAI_DAGOP_PENDING;
    advance(dag);
    int done = dag->running == 0;
    if (done) finalize(dag);
    pthread_mutex_unlock(&dag->lock);
    /* Last, with no lock held: the consumer may free the DAG here. */
    if (done) f->on_finish(f, f->private_data);
}

/* A DAG that queued no op (its ops were all TENSORSET/TENSORGET, done when
 * it started) still calls back on a worker, after its TIMEOUT check. */
static void execute_finish(RAI_Job **jobs, size_t n) {
    (void)n;
    RAI_OnFinishCtx *f = (RAI_OnFinishCtx *)jobs[0];
    RAI_DAGRunCtx *dag = f->dag;
    pthread_mutex_lock(&dag->lock);
    check_timeout(dag);
    finalize(dag);
    pthread_mutex_unlock(&dag->lock);
    f->on_finish(f, f->private_data);
}

/* Creates every queue the DAG needs up front, so starting an op later
 * cannot fail half-way through a run. */
static int ensure_queues(RAI_DAGRunCtx *dag) {
    int any = 0;
    for (size_t i = 0; i < dag->nops; i++) {
        const char *device = RAI_DAGOpDevice(dag->ops[i]);
        if (!device) continue;
        any = 1;
        if (RAI_QueueEnsure(device) != REDISMODULE_OK) return REDISMODULE_ERR;
    }
    return any ? REDISMODULE_OK : RAI_QueueEnsure("CPU");
}

int RAI_DAGRunQueue(RAI_DAGRunCtx *dag, long long timeout_ms, RAI_OnFinishCB on_finish,
                    void *private_data, RAI_Error *err) {
    if (dag->finish) {
        RAI_SetError(err, RAI_EDAGRUN, "ERR DAG was already run");
        return REDISMODULE_ERR;
    }
    if (ensure_queues(dag) != REDISMODULE_OK) {
        RAI_SetError(err, RAI_EDAGRUN, "ERR Could not initialize queue on requested device");
        return REDISMODULE_ERR;
    }
    RAI_OnFinishCtx *f = RedisModule_Calloc(1, sizeof(*f));
    f->job.execute = execute_finish;
    f->dag = dag;
    f->on_finish = on_finish;
    f->private_data = private_data;
    f->timeout_ms = timeout_ms;
    f->enqueued_ms = RedisModule_Milliseconds();
    dag->finish = f;
    dag->stop_at = dag->nops;
    for (size_t i = 0; i < dag->nops; i++) {
        RAI_DAGRunOp *op = dag->ops[i];
        op->job.execute = execute_op;
        op->dag = dag;
        op->index = i;
        op->waiting = 0;
        for (size_t k = 0; k < i; k++) op->waiting += depends(op, dag->ops[k]);
    }
    pthread_mutex_lock(&dag->lock);
    advance(dag);
    int queued = dag->running > 0;
    pthread_mutex_unlock(&dag->lock);
    if (queued) return REDISMODULE_OK; /* the workers own the DAG now */
    if (RAI_QueuePush("CPU", &f->job) == REDISMODULE_OK) return REDISMODULE_OK;
    RAI_SetError(err, RAI_EDAGRUN, "ERR Could not initialize queue on requested device");
    return REDISMODULE_ERR;
}
