/* dag.c -- the DAG run context behind PyDAGRunner: loaded tensors, ops
 * (tensor set/get, model and script runs, ops parsed from a string) and the
 * queued run.
 *
 * Ownership: a DAG belongs to its runner until rx_dag_run, which consumes it
 * whatever the outcome -- freed here when the run cannot be queued, or in
 * the completion callback after the outputs were taken.  A model or script
 * op belongs to the caller until rx_dag_add_op, which consumes it too. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ext.h"

static int engine_error(rx_err *err, RAI_Error *e, const char *fallback) {
    const char *msg = e ? rai.GetError(e) : NULL;
    return rx_fail(err, RX_ERROR, "%s", msg && *msg ? msg : fallback);
}

RAI_DAGRunCtx *rx_dag_create(rx_err *err) {
    RAI_DAGRunCtx *d = rai.DAGRunCtxCreate ? rai.DAGRunCtxCreate() : NULL;
    if (!d) rx_fail(err, RX_ERROR, "DAG run is not supported in RedisAI version");
    return d;
}

void rx_dag_free(RAI_DAGRunCtx *d) {
    if (d && rai.DAGFree) rai.DAGFree(d);
}

int rx_dag_load(RAI_DAGRunCtx *d, const char *name, RAI_Tensor *t, rx_err *err) {
    /* The DAG takes its own reference to the tensor. */
    if (rai.DAGLoadTensor(d, name, t) != REDISMODULE_OK)
        return rx_fail(err, RX_ERROR, "tensor name already loaded in DAG: %s", name);
    return RX_OK;
}

int rx_dag_tensor_set(RAI_DAGRunCtx *d, const char *name, RAI_Tensor *t, rx_err *err) {
    if (rai.DAGAddTensorSet(d, name, t) != REDISMODULE_OK)
        return rx_fail(err, RX_ERROR, "could not add the tensor set op");
    return RX_OK;
}

int rx_dag_tensor_get(RAI_DAGRunCtx *d, const char *name, rx_err *err) {
    if (rai.DAGAddTensorGet(d, name) != REDISMODULE_OK)
        return rx_fail(err, RX_ERROR, "could not add the tensor get op");
    return RX_OK;
}

/* Looks the model or script up (Redis lock held) and makes its op, if the
 * flow's ACL user (`user`) may read its key. */
RAI_DAGRunOp *rx_dag_run_op(const char *key, size_t keylen, const char *fn, uintptr_t user, rx_err *err) {
    RAI_Error *e = NULL;
    if (rai.InitError(&e) != REDISMODULE_OK || !e) {
        rx_fail(err, RX_ERROR, "out of memory");
        return NULL;
    }
    RedisModuleString *name = rm.CreateString(NULL, key, keylen);
    RAI_DAGRunOp *op = NULL;
    RedisModuleCtx *ctx = rx_host->lock();
    const char *denied = ctx ? rx_host->deny_keys((void *)user, ctx, &name, 1, 0) : NULL;
    if (!ctx) {
        rx_fail(err, RX_ERROR, "could not take the Redis lock");
    } else if (denied) {
        rx_fail(err, RX_ERROR, "%s", denied);
    } else if (fn) {
        RAI_Script *s = NULL;
        if (rai.GetScriptFromKeyspace(ctx, name, &s, REDISMODULE_READ, e) != REDISMODULE_OK)
            engine_error(err, e, "ERR script key is empty");
        else if (!(op = rai.DAGCreateScriptRunOp(s, fn))) /* the op takes a script reference */
            rx_fail(err, RX_ERROR, "could not create the script op");
    } else {
        RAI_Model *m = NULL;
        if (rai.GetModelFromKeyspace(ctx, name, &m, REDISMODULE_READ, e) != REDISMODULE_OK)
            engine_error(err, e, "ERR model key is empty");
        else if (!(op = rai.DAGCreateModelRunOp(m))) /* the op takes a model reference */
            rx_fail(err, RX_ERROR, "could not create the model op");
    }
    rm.FreeString(NULL, name);
    if (ctx) rx_host->unlock();
    rai.FreeError(e);
    return op;
}

void rx_dag_op_free(RAI_DAGRunOp *op) {
    if (op && rai.DAGRunOpFree) rai.DAGRunOpFree(op);
}

int rx_dag_add_op(RAI_DAGRunCtx *d, RAI_DAGRunOp *op, const char *const *inputs, size_t nin,
                  const char *const *outputs, size_t nout, rx_err *err) {
    for (size_t i = 0; i < nin; i++)
        if (rai.DAGRunOpAddInput(op, inputs[i]) != REDISMODULE_OK) {
            rai.DAGRunOpFree(op);
            return rx_fail(err, RX_ERROR, "could not add the op input %s", inputs[i]);
        }
    for (size_t i = 0; i < nout; i++)
        if (rai.DAGRunOpAddOutput(op, outputs[i]) != REDISMODULE_OK) {
            rai.DAGRunOpFree(op);
            return rx_fail(err, RX_ERROR, "could not add the op output %s", outputs[i]);
        }
    RAI_Error *e = NULL;
    if (rai.InitError(&e) != REDISMODULE_OK || !e) {
        rai.DAGRunOpFree(op);
        return rx_fail(err, RX_ERROR, "out of memory");
    }
    int rc = RX_OK;
    if (rai.DAGAddRunOp(d, op, e) != REDISMODULE_OK) { /* on success the DAG owns the op */
        rc = engine_error(err, e, "ERR could not add the op to the DAG");
        rai.DAGRunOpFree(op);
    }
    rai.FreeError(e);
    return rc;
}

static int is_run_op(const char *word, size_t len) {
    static const char *const runs[] = {"AI.MODELEXECUTE", "AI.MODELRUN", "AI.SCRIPTEXECUTE", "AI.SCRIPTRUN"};
    for (size_t i = 0; i < sizeof(runs) / sizeof(*runs); i++)
        if (len == strlen(runs[i]) && !strncasecmp(word, runs[i], len)) return 1;
    return 0;
}

/* NULL if `user` may read the model and script keys the ops name (the word
 * after a run op's name; the engine splits the ops at spaces), else the
 * error.  Redis lock held. */
static const char *deny_op_keys(RedisModuleCtx *ctx, uintptr_t user, const char *ops) {
    const char *denied = NULL, *prev = NULL;
    size_t prev_len = 0;
    for (const char *p = ops; *p && !denied;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        size_t len = strcspn(p, " ");
        if (prev && is_run_op(prev, prev_len)) {
            RedisModuleString *key = rm.CreateString(NULL, p, len);
            denied = rx_host->deny_keys((void *)user, ctx, &key, 1, 0);
            rm.FreeString(NULL, key);
        }
        prev = p, prev_len = len;
        p += len;
    }
    return denied;
}

int rx_dag_ops_from_string(RAI_DAGRunCtx *d, const char *ops, uintptr_t user, rx_err *err) {
    RAI_Error *e = NULL;
    if (rai.InitError(&e) != REDISMODULE_OK || !e) return rx_fail(err, RX_ERROR, "out of memory");
    int rc = RX_OK;
    /* The engine looks models and scripts up in the keyspace: lock held. */
    RedisModuleCtx *ctx = rx_host->lock();
    const char *denied = ctx && user ? deny_op_keys(ctx, user, ops) : NULL;
    if (!ctx) {
        rc = rx_fail(err, RX_ERROR, "could not take the Redis lock");
    } else {
        if (denied) rc = rx_fail(err, RX_ERROR, "%s", denied);
        else if (rai.DAGAddOpsFromString(d, ops, e) != REDISMODULE_OK)
            rc = engine_error(err, e, "ERR could not parse the DAG ops");
        rx_host->unlock();
    }
    rai.FreeError(e);
    return rc;
}

/* What the completion callback needs: the DAG is not reachable from the
 * finish context through the shared API. */
typedef struct dag_run {
    rx_delivery *delivery;
    RAI_DAGRunCtx *dag;
} dag_run;

static RAI_Tensor *dag_output(void *f, size_t i) {
    return (RAI_Tensor *)rai.DAGOutputTensor(f, i); /* only read, then shallow-copied */
}

/* Engine worker thread, no engine lock held. */
static void dag_done(RAI_OnFinishCtx *f, void *private_data) {
    dag_run *run = private_data;
    rx_result *res = rx_delivery_result(run->delivery);
    if (rai.DAGRunError(f))
        engine_error(&res->err, (RAI_Error *)rai.DAGGetError(f), "ERR DAG run failed");
    else
        rx_result_collect(res, rai.DAGNumOutputs(f), dag_output, f);
    rai.DAGFree(run->dag); /* the outputs are ours now; frees `f` as well */
    rx_deliver(run->delivery);
    free(run);
}

int rx_dag_run(RAI_DAGRunCtx *d, void *handle, int on_main, rx_err *err) {
    dag_run *run = malloc(sizeof(*run));
    RAI_Error *e = NULL;
    if (run) run->delivery = rx_delivery_new(handle, on_main, err);
    if (!run || !run->delivery || rai.InitError(&e) != REDISMODULE_OK || !e) {
        if (run) free(run->delivery);
        free(run);
        rai.DAGFree(d);
        return rx_fail(err, RX_ERROR, "out of memory");
    }
    run->dag = d;
    int rc = RX_OK;
    if (rai.DAGRun(d, dag_done, run, e) != REDISMODULE_OK) {
        /* Not queued: no callback will come, the DAG is freed here. */
        rc = engine_error(err, e, "ERR could not run the DAG");
        rai.DAGFree(d);
        free(run->delivery);
        free(run);
    }
    rai.FreeError(e);
    return rc;
}
