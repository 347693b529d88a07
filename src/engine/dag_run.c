/* dag_run.c -- executing a DAG on the workers of its devices' queues.
 * The DAG is one job that holds its own place (next_op): a worker runs ops
 * until the next one belongs to another device, then pushes the job to that
 * device's queue and returns.  Only one worker touches a DAG at a time; the
 * queue's lock orders the hand-over.  No tensor data is copied here: names
 * are bound to shared (ref-counted, immutable) tensors. */
#include <strings.h>
#include <time.h>

#include "dag.h"
#include "model_run.h"
#include "script_run.h"

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int run_model(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op) {
    RAI_ModelRunCtx *m = RAI_ModelRunCtxCreate(op->model);
    for (size_t i = 0; i < op->ninputs; i++) RAI_ModelRunCtxAddInput(m, NULL, RAI_DAGLookup(dag, op->inputs[i]));
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
    for (size_t i = 0; ok && i < op->noutputs; i++) RAI_DAGBind(dag, op->outputs[i], m->outputs[i]);
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
    for (size_t i = 0; i < op->ninputs; i++) RAI_ScriptRunCtxAddTensorInput(s, RAI_DAGLookup(dag, op->inputs[i]));
    /* The context takes its KEYS/ARGS strings over: give it copies, so no
     * Redis object is shared with another thread. */
    for (size_t i = 0; i < op->nkeys; i++) RAI_ScriptRunCtxAddKeyInput(s, copy_string(op->keys[i]));
    for (size_t i = 0; i < op->nargs; i++) RAI_ScriptRunCtxAddArgInput(s, copy_string(op->args[i]));
    for (size_t i = 0; i < op->noutputs; i++) RAI_ScriptRunCtxAddOutput(s);
    int ok = RAI_ScriptRunOp(s, &op->err) == REDISMODULE_OK;
    for (size_t i = 0; ok && i < op->noutputs; i++) RAI_DAGBind(dag, op->outputs[i], s->outputs[i]);
    RAI_ScriptRunCtxFree(s);
    return ok;
}

static int run_op(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op) {
    switch (op->type) {
    case RAI_DAGOP_TENSORSET:
        RAI_DAGBind(dag, op->outputs[0], op->tensor);
        return 1;
    case RAI_DAGOP_TENSORGET:
        op->tensor = RAI_TensorGetShallowCopy(RAI_DAGLookup(dag, op->inputs[0]));
        return 1;
    case RAI_DAGOP_MODEL:
        return run_model(dag, op);
    case RAI_DAGOP_SCRIPT:
        return run_script(dag, op);
    }
    return 0;
}

static int timed_out(RAI_OnFinishCtx *f) {
    return f->timeout_ms > 0 && RedisModule_Milliseconds() - f->enqueued_ms > f->timeout_ms;
}

/* Pushes the job to `device`'s queue; on failure the op gets the error. */
static int move_to(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op, const char *device) {
    dag->queue_device = device;
    if (RAI_QueuePush(device, &dag->finish->job) == REDISMODULE_OK) return 1;
    RAI_SetError(&op->err, RAI_EDAGRUN, "ERR Could not initialize queue on requested device");
    return 0;
}

/* DAG jobs never batch, so n is 1. */
static void execute_dag(RAI_Job **jobs, size_t n) {
    (void)n;
    RAI_OnFinishCtx *f = (RAI_OnFinishCtx *)jobs[0];
    RAI_DAGRunCtx *dag = f->dag;
    /* TIMEOUT counts from the command, at every dequeue (as in RedisAI). */
    if (timed_out(f)) {
        f->timed_out = 1;
        f->on_finish(f, f->private_data);
        return;
    }
    while (dag->next_op < dag->nops) {
        RAI_DAGRunOp *op = dag->ops[dag->next_op];
        const char *device = RAI_DAGOpDevice(op);
        int ok;
        if (device && strcasecmp(device, dag->queue_device) != 0) {
            if (move_to(dag, op, device)) return; /* the job belongs to that queue now */
            ok = 0;
        } else {
            ok = run_op(dag, op);
        }
        if (!ok) {
            op->state = RAI_DAGOP_FAILED;
            RAI_CloneError(&f->err, &op->err);
            break;
        }
        op->state = RAI_DAGOP_DONE;
        dag->next_op++;
    }
    /* Last, with no engine lock held: the consumer may free the DAG here. */
    f->on_finish(f, f->private_data);
}

int RAI_DAGRunQueue(RAI_DAGRunCtx *dag, long long timeout_ms, RAI_OnFinishCB on_finish,
                    void *private_data, RAI_Error *err) {
    if (dag->finish) {
        RAI_SetError(err, RAI_EDAGRUN, "ERR DAG was already run");
        return REDISMODULE_ERR;
    }
    const char *device = "CPU";
    for (size_t i = 0; i < dag->nops; i++) {
        const char *d = RAI_DAGOpDevice(dag->ops[i]);
        if (d) {
            device = d;
            break;
        }
    }
    RAI_OnFinishCtx *f = RedisModule_Calloc(1, sizeof(*f));
    f->job.execute = execute_dag;
    f->dag = dag;
    f->on_finish = on_finish;
    f->private_data = private_data;
    f->timeout_ms = timeout_ms;
    f->enqueued_ms = RedisModule_Milliseconds();
    dag->finish = f;
    dag->queue_device = device;
    if (RAI_QueuePush(device, &f->job) != REDISMODULE_OK) {
        dag->finish = NULL;
        RedisModule_Free(f);
        RAI_SetError(err, RAI_EDAGRUN, "ERR Could not initialize queue on requested device");
        return REDISMODULE_ERR;
    }
    return REDISMODULE_OK;
}
