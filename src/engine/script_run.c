/* script_run.c -- executing scripts: on the caller or queued on a worker. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "script_ext.h"
#include "script_run.h"

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

RAI_ScriptRunCtx *RAI_ScriptRunCtxCreate(RAI_Script *script, const char *fnname) {
    if (!script) return NULL;
    RAI_ScriptRunCtx *s = RedisModule_Calloc(1, sizeof(*s));
    s->script = RAI_ScriptGetShallowCopy(script);
    s->fnname = RedisModule_Strdup(fnname ? fnname : "");
    return s;
}

static void grow(void **arr, size_t n, size_t *cap, size_t elem) {
    if (n < *cap) return;
    *cap = *cap ? *cap * 2 : 4;
    *arr = RedisModule_Realloc(*arr, *cap * elem);
}

int RAI_ScriptRunCtxAddTensorInput(RAI_ScriptRunCtx *s, RAI_Tensor *t) {
    if (!s || !t) return 0;
    grow((void **)&s->inputs, s->ninputs, &s->cap_inputs, sizeof(RAI_Tensor *));
    s->inputs[s->ninputs++] = RAI_TensorGetShallowCopy(t);
    return 1;
}

/* A list is passed as that many more tensors: the backend hands all inputs
 * to the function as one List[Tensor] (new style) or by position (old). */
int RAI_ScriptRunCtxAddTensorInputList(RAI_ScriptRunCtx *s, RAI_Tensor **ts, size_t count) {
    if (!s || (count && !ts)) return 0;
    for (size_t i = 0; i < count; i++)
        if (!RAI_ScriptRunCtxAddTensorInput(s, ts[i])) return 0;
    return 1;
}

int RAI_ScriptRunCtxAddInput(RAI_ScriptRunCtx *s, RAI_Tensor *t, RAI_Error *err) {
    (void)err;
    return RAI_ScriptRunCtxAddTensorInput(s, t);
}

int RAI_ScriptRunCtxAddInputList(RAI_ScriptRunCtx *s, RAI_Tensor **ts, size_t len, RAI_Error *err) {
    (void)err;
    return RAI_ScriptRunCtxAddTensorInputList(s, ts, len);
}

static int add_string(RedisModuleString ***arr, size_t *n, size_t *cap, RedisModuleString *str) {
    if (!str) return 0;
    grow((void **)arr, *n, cap, sizeof(RedisModuleString *));
    (*arr)[(*n)++] = str;
    return 1;
}

int RAI_ScriptRunCtxAddKeyInput(RAI_ScriptRunCtx *s, RedisModuleString *key) {
    return s ? add_string(&s->keys, &s->nkeys, &s->cap_keys, key) : 0;
}

int RAI_ScriptRunCtxAddArgInput(RAI_ScriptRunCtx *s, RedisModuleString *arg) {
    return s ? add_string(&s->args, &s->nargs, &s->cap_args, arg) : 0;
}

int RAI_ScriptRunCtxAddOutput(RAI_ScriptRunCtx *s) {
    if (!s) return 0;
    s->outputs = RedisModule_Realloc(s->outputs, (s->noutputs + 1) * sizeof(RAI_Tensor *));
    s->outputs[s->noutputs++] = NULL;
    return 1;
}

size_t RAI_ScriptRunCtxNumInputs(RAI_ScriptRunCtx *s) { return s ? s->ninputs : 0; }
size_t RAI_ScriptRunCtxNumOutputs(RAI_ScriptRunCtx *s) { return s ? s->noutputs : 0; }

RAI_Tensor *RAI_ScriptRunCtxOutputTensor(RAI_ScriptRunCtx *s, size_t i) {
    return s && i < s->noutputs ? s->outputs[i] : NULL;
}

static void free_outputs(RAI_ScriptRunCtx *s) {
    for (size_t i = 0; i < s->noutputs; i++) {
        RAI_TensorFree(s->outputs[i]);
        s->outputs[i] = NULL;
    }
}

void RAI_ScriptRunCtxFree(RAI_ScriptRunCtx *s) {
    if (!s) return;
    for (size_t i = 0; i < s->ninputs; i++) RAI_TensorFree(s->inputs[i]);
    for (size_t i = 0; i < s->nkeys; i++) RedisModule_FreeString(NULL, s->keys[i]);
    for (size_t i = 0; i < s->nargs; i++) RedisModule_FreeString(NULL, s->args[i]);
    if (s->user) RedisModule_FreeString(NULL, s->user);
    free_outputs(s);
    RedisModule_Free(s->inputs);
    RedisModule_Free(s->keys);
    RedisModule_Free(s->args);
    RedisModule_Free(s->outputs);
    RedisModule_Free(s->fnname);
    RAI_ScriptFree(s->script, NULL);
    RedisModule_Free(s);
}

/* C strings of KEYS / ARGS for the backend (pointers into the strings). */
static const char **string_ptrs(RedisModuleString **strs, size_t n) {
    const char **out = RedisModule_Alloc((n ? n : 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) out[i] = RedisModule_StringPtrLen(strs[i], NULL);
    return out;
}

/* One backend call; outputs replace any previous ones.  The script must
 * fill every requested output: a missing one would leave a key or a DAG
 * tensor undefined. */
int RAI_ScriptRun(RAI_ScriptRunCtx *s, RAI_Error *err) {
    if (!s) {
        RAI_SetError(err, RAI_ESCRIPTRUN, "ERR Nothing to run");
        return REDISMODULE_ERR;
    }
    RAI_Script *script = s->script;
    if (!script->ops || !script->ops->script_run) {
        RAI_SetError(err, RAI_EBACKENDNOTLOADED, "ERR Backend not loaded: TORCH");
        return REDISMODULE_ERR;
    }
    free_outputs(s);
    const char **keys = string_ptrs(s->keys, s->nkeys), **args = string_ptrs(s->args, s->nargs);
    char msg[RAI_ERRLEN] = "";
    size_t produced = 0;
    RAI_ScriptExtRun outer = RAI_ScriptExtEnter((RAI_ScriptExtRun){.db = s->db, .user = s->user});
    int rc = script->ops->script_run(script->handle, s->fnname, s->inputs, s->ninputs, keys, s->nkeys,
                                     args, s->nargs, s->outputs, s->noutputs, &produced, msg);
    RAI_ScriptExtEnter(outer);
    RedisModule_Free(keys);
    RedisModule_Free(args);
    if (rc != 0) {
        RAI_SetError(err, RAI_ESCRIPTRUN, msg[0] ? msg : "ERR script run failed");
        return REDISMODULE_ERR;
    }
    if (produced < s->noutputs) {
        free_outputs(s);
        RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR Function %s returned %zu output%s but %zu were requested",
                           s->fnname, produced, produced == 1 ? "" : "s", s->noutputs);
        return REDISMODULE_ERR;
    }
    return REDISMODULE_OK;
}

int RAI_ScriptRunOp(RAI_ScriptRunCtx *s, RAI_Error *err) {
    long long start = now_us();
    int rc = RAI_ScriptRun(s, err);
    if (s) RAI_StatsAddRun(s->script->stats, rc == REDISMODULE_OK, now_us() - start, -1);
    return rc;
}

static void execute_job(RAI_Job **jobs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        RAI_OnFinishCtx *f = (RAI_OnFinishCtx *)jobs[i];
        if (f->timeout_ms > 0 && RedisModule_Milliseconds() - f->enqueued_ms > f->timeout_ms)
            f->timed_out = 1;
        else
            RAI_ScriptRunOp(f->sctx, &f->err);
        /* With no engine lock held: consumers may take the GIL. */
        f->on_finish(f, f->private_data);
    }
}

RAI_OnFinishCtx *RAI_ScriptRunQueue(RAI_ScriptRunCtx *sctx, long long timeout_ms,
                                    RAI_OnFinishCB on_finish, void *private_data) {
    if (!sctx || !on_finish) return NULL;
    RAI_OnFinishCtx *f = RedisModule_Calloc(1, sizeof(*f));
    f->job.execute = execute_job;
    f->sctx = sctx;
    f->on_finish = on_finish;
    f->private_data = private_data;
    f->timeout_ms = timeout_ms;
    f->enqueued_ms = RedisModule_Milliseconds();
    if (RAI_QueuePush(sctx->script->devicestr, &f->job) != REDISMODULE_OK) {
        RedisModule_Free(f);
        return NULL;
    }
    return f;
}

int RAI_ScriptRunAsync(RAI_ScriptRunCtx *sctx, RAI_OnFinishCB on_finish, void *private_data) {
    return RAI_ScriptRunQueue(sctx, 0, on_finish, private_data) ? REDISMODULE_OK : REDISMODULE_ERR;
}

RAI_ScriptRunCtx *RAI_GetAsScriptRunCtx(RAI_OnFinishCtx *f, RAI_Error *err) {
    if (!f || !f->sctx) {
        RAI_SetError(err, RAI_EFINISHCTX, "Finish ctx is not a script run ctx");
        return NULL;
    }
    RAI_ScriptRunCtx *s = f->sctx;
    if (f->err.code != RAI_OK) RAI_CloneError(err, &f->err);
    else if (f->timed_out) RAI_SetError(err, RAI_ESCRIPTRUN, "TIMEDOUT");
    f->sctx = NULL;
    RAI_OnFinishCtxFree(f);
    return s;
}
