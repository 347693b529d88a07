/* runners.c -- model and script run contexts behind PyGraphRunner and
 * PyTorchScriptRunner: creation from a key, inputs and outputs, and the
 * synchronous and queued runs.
 *
 * A run's outcome reaches Python as an rx_result: its outputs (each a new
 * shallow copy, so the PyTensor owns its reference and no data is copied) or
 * its error text.  Queued runs complete on an engine worker thread: the
 * callbacks here gather the outcome and free the run context without the
 * GIL, then hand the result to Python (rx_run_done, which takes the GIL):
 * on the worker, or, for a run that a sync flow awaits on Redis's main
 * thread, on the main thread (rx_deliver). */
#include <stdlib.h>
#include <string.h>

#include "ext.h"

/* ---- results ---------------------------------------------------------- */

static int result_fail(rx_result *res, RAI_Error *e, const char *fallback) {
    const char *msg = e ? rai.GetError(e) : NULL;
    return rx_fail(&res->err, RX_ERROR, "%s", msg && *msg ? msg : fallback);
}

int rx_result_collect(rx_result *res, size_t n, rx_output_fn get, void *src) {
    res->n = 0;
    res->tensors = calloc(n ? n : 1, sizeof(*res->tensors));
    res->dtypes = calloc(n ? n : 1, sizeof(*res->dtypes));
    if (!res->tensors || !res->dtypes) return rx_fail(&res->err, RX_ERROR, "out of memory");
    for (size_t i = 0; i < n; i++) {
        RAI_Tensor *t = get(src, i);
        if (!t) return rx_fail(&res->err, RX_ERROR, "ERR the run produced no tensor for output %zu", i);
        /* Shallow copy: one new reference per PyTensor, the data is shared. */
        res->tensors[i] = rai.TensorGetShallowCopy(t);
        res->dtypes[i] = rx_probe_dtype(t, NULL, NULL);
        res->n = i + 1;
    }
    return RX_OK;
}

void rx_result_clear(rx_result *res) {
    if (!res) return;
    for (size_t i = 0; res->tensors && i < res->n; i++)
        if (res->tensors[i]) rai.TensorFree(res->tensors[i]); /* those Python did not take */
    free(res->tensors);
    free(res->dtypes);
    res->tensors = NULL;
    res->dtypes = NULL;
    res->n = 0;
}

/* ---- delivery of a queued run's outcome --------------------------------- */

struct rx_delivery {
    void *handle; /* what rx_run_done gets: the Python side's handle */
    int on_main;
    rx_result res;
};

rx_delivery *rx_delivery_new(void *handle, int on_main, rx_err *err) {
    rx_delivery *d = calloc(1, sizeof(*d));
    if (!d) {
        rx_fail(err, RX_ERROR, "out of memory");
        return NULL;
    }
    d->handle = handle;
    d->on_main = on_main;
    return d;
}

rx_result *rx_delivery_result(rx_delivery *d) { return &d->res; }

static void deliver_here(void *arg) {
    rx_delivery *d = arg;
    rx_run_done(d->handle, &d->res); /* takes the GIL */
    rx_result_clear(&d->res);
    free(d);
}

/* Engine worker, the result filled.  Python waiting on the main thread gets
 * the outcome there: the worker then never takes the GIL, which the main
 * thread may hold for a long while, and the main thread is woken once (not
 * once for the GIL and once more for the hand-off). */
void rx_deliver(rx_delivery *d) {
    if (d->on_main && rx_host->run_on_main(deliver_here, d) == REDISMODULE_OK) return;
    deliver_here(d); /* Python waits on another thread, or the server is stopping */
}

/* ---- keys ------------------------------------------------------------- */

/* The value of `key` if it holds a value of `type`, else NULL.  Takes the
 * Redis lock; `use` runs on the value while the lock is still held.  The
 * flow's ACL user (`user`) must be allowed to read the key. */
static void *with_key_value(const char *key, size_t keylen, RedisModuleType *type,
                            void *(*use)(void *value, const char *arg), const char *arg, uintptr_t user,
                            int *found, rx_err *err) {
    RedisModuleString *name = rm.CreateString(NULL, key, keylen);
    RedisModuleCtx *ctx = rx_host->lock();
    if (!ctx) {
        rm.FreeString(NULL, name);
        rx_fail(err, RX_ERROR, "could not take the Redis lock");
        return NULL;
    }
    void *out = NULL;
    const char *denied = rx_host->deny_keys((void *)user, ctx, &name, 1, 0);
    RedisModuleKey *k = denied ? NULL : rm.OpenKey(ctx, name, REDISMODULE_READ);
    if (denied) rx_fail(err, RX_ERROR, "%s", denied);
    *found = k && rm.KeyType(k) == REDISMODULE_KEYTYPE_MODULE && rm.ModuleTypeGetType(k) == type;
    if (*found) out = use(rm.ModuleTypeGetValue(k), arg);
    if (k) rm.CloseKey(k);
    rm.FreeString(NULL, name);
    rx_host->unlock();
    return out;
}

/* ---- model runners ---------------------------------------------------- */

static void *model_ctx(void *model, const char *unused) {
    (void)unused;
    return rai.ModelRunCtxCreate(model); /* the context takes a model reference */
}

RAI_ModelRunCtx *rx_model_runner_create(const char *key, size_t keylen, uintptr_t user, rx_err *err) {
    if (!rai.ModelRedisType || !rai.ModelRunCtxCreate) {
        rx_fail(err, RX_ERROR, "RedisAI models are not available in this engine");
        return NULL;
    }
    int found = 0;
    err->code = RX_OK;
    RAI_ModelRunCtx *c = with_key_value(key, keylen, rai.ModelRedisType(), model_ctx, NULL, user, &found, err);
    if (err->code != RX_OK) return NULL;
    if (!found) rx_fail(err, RX_ERROR, "given key do not contain RedisAI model");
    else if (!c) rx_fail(err, RX_ERROR, "could not create a model run context");
    return c;
}

int rx_model_runner_add_input(RAI_ModelRunCtx *c, const char *name, RAI_Tensor *t, rx_err *err) {
    if (rai.ModelRunCtxAddInput(c, name, t) != 1) return rx_fail(err, RX_ERROR, "could not add the input");
    return RX_OK;
}

int rx_model_runner_add_output(RAI_ModelRunCtx *c, const char *name, rx_err *err) {
    if (rai.ModelRunCtxAddOutput(c, name) != 1) return rx_fail(err, RX_ERROR, "could not add the output");
    return RX_OK;
}

void rx_model_runner_free(RAI_ModelRunCtx *c) {
    if (c && rai.ModelRunCtxFree) rai.ModelRunCtxFree(c);
}

static RAI_Tensor *model_output(void *c, size_t i) { return rai.ModelRunCtxOutputTensor(c, i); }

/* Outputs or error of a finished model run, then frees the context. */
static int model_finish(RAI_ModelRunCtx *c, RAI_Error *e, int ok, rx_result *res) {
    int rc = ok ? rx_result_collect(res, rai.ModelRunCtxNumOutputs(c), model_output, c)
                : result_fail(res, e, "ERR model run failed");
    rai.ModelRunCtxFree(c);
    return rc;
}

int rx_model_runner_run(RAI_ModelRunCtx *c, rx_result *res) {
    RAI_Error *e = NULL;
    if (rai.InitError(&e) != REDISMODULE_OK || !e) {
        rai.ModelRunCtxFree(c);
        return rx_fail(&res->err, RX_ERROR, "out of memory");
    }
    /* On this thread, without the GIL (cffi released it). */
    int ok = rai.ModelRun(&c, 1, e) == REDISMODULE_OK;
    int rc = model_finish(c, e, ok, res);
    rai.FreeError(e);
    return rc;
}

/* Engine worker thread, no engine lock held. */
static void model_done(RAI_OnFinishCtx *f, void *delivery) {
    rx_delivery *d = delivery;
    rx_result *res = rx_delivery_result(d);
    RAI_Error *e = NULL;
    rai.InitError(&e);
    RAI_ModelRunCtx *c = rai.GetAsModelRunCtx(f, e); /* frees the finish context */
    if (!c) result_fail(res, e, "ERR model run failed");
    else model_finish(c, e, rai.GetErrorCode(e) == RedisAI_ErrorCode_OK, res);
    rai.FreeError(e);
    rx_deliver(d);
}

int rx_model_runner_run_async(RAI_ModelRunCtx *c, void *handle, int on_main, rx_err *err) {
    rx_delivery *d = rx_delivery_new(handle, on_main, err);
    if (!d) return RX_ERROR;
    if (rai.ModelRunAsync(c, model_done, d) != REDISMODULE_OK) {
        free(d);
        return rx_fail(err, RX_ERROR, "ERR could not queue the model run");
    }
    return RX_OK;
}

/* ---- script runners --------------------------------------------------- */

static void *script_ctx(void *script, const char *fn) { return rai.ScriptRunCtxCreate(script, fn); }

RAI_ScriptRunCtx *rx_script_runner_create(const char *key, size_t keylen, const char *fn, uintptr_t user,
                                          rx_err *err) {
    if (!rai.ScriptRedisType || !rai.ScriptRunCtxCreate) {
        rx_fail(err, RX_ERROR, "RedisAI scripts are not available in this engine");
        return NULL;
    }
    int found = 0;
    err->code = RX_OK;
    RAI_ScriptRunCtx *c = with_key_value(key, keylen, rai.ScriptRedisType(), script_ctx, fn, user, &found, err);
    if (err->code != RX_OK) return NULL;
    if (!found) rx_fail(err, RX_ERROR, "given key do not contain RedisAI script");
    else if (!c) rx_fail(err, RX_ERROR, "could not create a script run context");
    return c;
}

static int engine_call(int ok_value, int (*call)(RAI_ScriptRunCtx *, RAI_Tensor **, size_t, RAI_Error *),
                       RAI_ScriptRunCtx *c, RAI_Tensor **ts, size_t n, rx_err *err) {
    RAI_Error *e = NULL;
    if (rai.InitError(&e) != REDISMODULE_OK || !e) return rx_fail(err, RX_ERROR, "out of memory");
    int rc = RX_OK;
    if (call(c, ts, n, e) != ok_value) {
        const char *msg = rai.GetError(e);
        rc = rx_fail(err, RX_ERROR, "%s", msg && *msg ? msg : "could not add the input");
    }
    rai.FreeError(e);
    return rc;
}

static int add_one(RAI_ScriptRunCtx *c, RAI_Tensor **ts, size_t n, RAI_Error *e) {
    (void)n;
    return rai.ScriptRunCtxAddInput(c, ts[0], e);
}

int rx_script_runner_add_input(RAI_ScriptRunCtx *c, RAI_Tensor *t, rx_err *err) {
    return engine_call(1, add_one, c, &t, 1, err);
}

int rx_script_runner_add_input_list(RAI_ScriptRunCtx *c, RAI_Tensor **ts, size_t n, rx_err *err) {
    return engine_call(1, rai.ScriptRunCtxAddInputList, c, ts, n, err);
}

int rx_script_runner_add_output(RAI_ScriptRunCtx *c, rx_err *err) {
    if (rai.ScriptRunCtxAddOutput(c) != 1) return rx_fail(err, RX_ERROR, "could not add the output");
    return RX_OK;
}

void rx_script_runner_free(RAI_ScriptRunCtx *c) {
    if (c && rai.ScriptRunCtxFree) rai.ScriptRunCtxFree(c);
}

static RAI_Tensor *script_output(void *c, size_t i) { return rai.ScriptRunCtxOutputTensor(c, i); }

static int script_finish(RAI_ScriptRunCtx *c, RAI_Error *e, int ok, rx_result *res) {
    int rc = ok ? rx_result_collect(res, rai.ScriptRunCtxNumOutputs(c), script_output, c)
                : result_fail(res, e, "ERR script run failed");
    rai.ScriptRunCtxFree(c);
    return rc;
}

/* A script may call redis.execute, for which the engine takes the Redis lock
 * itself off Redis's main thread: on a thread that already holds it (inside
 * atomic()) that would wait for ever, so the run is refused up front. */
#define SCRIPT_RUN_IN_ATOMIC                                                              \
    "scriptRunnerRun can not run inside atomic() off the main thread: the script's "     \
    "redis.execute would wait for the Redis lock this thread holds; run it before or "    \
    "after the block, or use scriptRunnerRunAsync"

int rx_script_runner_run(RAI_ScriptRunCtx *c, rx_result *res) {
    if (rx_host->holds_lock_off_main()) {
        rai.ScriptRunCtxFree(c);
        return rx_fail(&res->err, RX_ERROR, SCRIPT_RUN_IN_ATOMIC);
    }
    RAI_Error *e = NULL;
    if (rai.InitError(&e) != REDISMODULE_OK || !e) {
        rai.ScriptRunCtxFree(c);
        return rx_fail(&res->err, RX_ERROR, "out of memory");
    }
    int ok = rai.ScriptRun(c, e) == REDISMODULE_OK; /* without the GIL */
    int rc = script_finish(c, e, ok, res);
    rai.FreeError(e);
    return rc;
}

static void script_done(RAI_OnFinishCtx *f, void *delivery) {
    rx_delivery *d = delivery;
    rx_result *res = rx_delivery_result(d);
    RAI_Error *e = NULL;
    rai.InitError(&e);
    RAI_ScriptRunCtx *c = rai.GetAsScriptRunCtx(f, e); /* frees the finish context */
    if (!c) result_fail(res, e, "ERR script run failed");
    else script_finish(c, e, rai.GetErrorCode(e) == RedisAI_ErrorCode_OK, res);
    rai.FreeError(e);
    rx_deliver(d);
}

int rx_script_runner_run_async(RAI_ScriptRunCtx *c, void *handle, int on_main, rx_err *err) {
    rx_delivery *d = rx_delivery_new(handle, on_main, err);
    if (!d) return RX_ERROR;
    if (rai.ScriptRunAsync(c, script_done, d) != REDISMODULE_OK) {
        free(d);
        return rx_fail(err, RX_ERROR, "ERR could not queue the script run");
    }
    return RX_OK;
}
