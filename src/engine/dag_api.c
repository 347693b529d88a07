/* dag_api.c -- the DAG part of the shared C API (RedisAI_DAG*), on top of
 * dag.c, dag_parse.c and dag_run.c.  Ops built here are checked like the
 * command's; a DAG is owned by the consumer, who frees it with DAGFree once
 * the callback is done with the outputs (or after DAGRun failed). */
#include <string.h>

#include "dag_api.h"
#include "dag_parse.h"

RAI_DAGRunCtx *RAI_DAGRunCtxCreate(void) { return RAI_DAGNew(); }

RAI_DAGRunOp *RAI_DAGCreateModelRunOp(RAI_Model *model) {
    if (!model) return NULL;
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_MODEL);
    op->model = RAI_ModelGetShallowCopy(model);
    return op;
}

RAI_DAGRunOp *RAI_DAGCreateScriptRunOp(RAI_Script *script, const char *func_name) {
    if (!script || !func_name) return NULL;
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_SCRIPT);
    op->script = RAI_ScriptGetShallowCopy(script);
    op->fn = RedisModule_Strdup(func_name);
    return op;
}

/* Only model and script ops take names here. */
static int run_op(const RAI_DAGRunOp *op) {
    return op && (op->type == RAI_DAGOP_MODEL || op->type == RAI_DAGOP_SCRIPT);
}

int RAI_DAGRunOpAddInput(RAI_DAGRunOp *op, const char *input) {
    if (!run_op(op) || !input) return REDISMODULE_ERR;
    RAI_DAGOpAddInput(op, input, strlen(input));
    return REDISMODULE_OK;
}

int RAI_DAGRunOpAddOutput(RAI_DAGRunOp *op, const char *output) {
    if (!run_op(op) || !output) return REDISMODULE_ERR;
    RAI_DAGOpAddOutput(op, output, strlen(output));
    return REDISMODULE_OK;
}

int RAI_DAGAddRunOp(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op, RAI_Error *err) {
    if (!dag || !run_op(op)) {
        RAI_SetError(err, RAI_EDAGBUILDER, "ERR invalid DAG or op");
        return REDISMODULE_ERR;
    }
    RAI_Model *m = op->model;
    if (m && m->ninputs > 0 && op->ninputs != m->ninputs) {
        RAI_SetError(err, RAI_EDAGBUILDER, "Number of keys given as INPUTS does not match model definition");
        return REDISMODULE_ERR;
    }
    if (m && m->noutputs > 0 && op->noutputs != m->noutputs) {
        RAI_SetError(err, RAI_EDAGBUILDER, "Number of keys given as OUTPUTS does not match model definition");
        return REDISMODULE_ERR;
    }
    RAI_DAGAppendOp(dag, op);
    return REDISMODULE_OK;
}

int RAI_DAGLoadTensor(RAI_DAGRunCtx *dag, const char *t_name, RAI_Tensor *tensor) {
    if (!dag || !t_name || !tensor || RAI_DAGLookup(dag, t_name)) return REDISMODULE_ERR;
    RAI_DAGBind(dag, t_name, tensor);
    return REDISMODULE_OK;
}

int RAI_DAGAddTensorSet(RAI_DAGRunCtx *dag, const char *t_name, RAI_Tensor *tensor) {
    if (!dag || !t_name || !tensor) return REDISMODULE_ERR;
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_TENSORSET);
    op->tensor = RAI_TensorGetShallowCopy(tensor);
    RAI_DAGOpAddOutput(op, t_name, strlen(t_name));
    RAI_DAGAppendOp(dag, op);
    return REDISMODULE_OK;
}

int RAI_DAGAddTensorGet(RAI_DAGRunCtx *dag, const char *t_name) {
    if (!dag || !t_name) return REDISMODULE_ERR;
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_TENSORGET);
    RAI_DAGOpAddInput(op, t_name, strlen(t_name));
    RAI_DAGAppendOp(dag, op);
    return REDISMODULE_OK;
}

/* Splits on single spaces (no quoting), as the original does. */
static RedisModuleString **split(const char *s, int *argc) {
    size_t len = strlen(s);
    RedisModuleString **argv = RedisModule_Alloc((len / 2 + 1) * sizeof(*argv));
    int n = 0;
    for (const char *p = s; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        const char *end = strchr(p, ' ');
        if (!end) end = s + len;
        argv[n++] = RedisModule_CreateString(NULL, p, (size_t)(end - p));
        p = end;
    }
    *argc = n;
    return argv;
}

/* The caller holds the Redis lock (ops look models and scripts up in the
 * keyspace, in db 0 like any thread-safe context). */
int RAI_DAGAddOpsFromString(RAI_DAGRunCtx *dag, const char *dag_str, RAI_Error *err) {
    if (!dag || !dag_str) {
        RAI_SetError(err, RAI_EDAGBUILDER, "ERR invalid DAG or op string");
        return REDISMODULE_ERR;
    }
    int argc;
    RedisModuleString **argv = split(dag_str, &argc);
    int rc = REDISMODULE_ERR;
    if (argc == 0 || strcmp(RedisModule_StringPtrLen(argv[0], NULL), "|>") != 0) {
        RAI_SetError(err, RAI_EDAGBUILDER, "DAG op should start with: '|>' ");
    } else {
        RedisModuleCtx *ctx = RedisModule_GetThreadSafeContext(NULL);
        rc = RAI_DAGParseOps(ctx, dag, argv, argc, 0, err);
        RedisModule_FreeThreadSafeContext(ctx);
    }
    for (int i = 0; i < argc; i++) RedisModule_FreeString(NULL, argv[i]);
    RedisModule_Free(argv);
    return rc;
}

size_t RAI_DAGNumOps(RAI_DAGRunCtx *dag) { return dag ? dag->nops : 0; }

int RAI_DAGRun(RAI_DAGRunCtx *dag, RAI_OnFinishCB on_finish, void *private_data, RAI_Error *err) {
    if (!dag || !on_finish) {
        RAI_SetError(err, RAI_EDAGRUN, "ERR invalid DAG or callback");
        return REDISMODULE_ERR;
    }
    if (RAI_DAGValidate(dag, NULL, 0, err) != REDISMODULE_OK) return REDISMODULE_ERR;
    return RAI_DAGRunQueue(dag, 0, on_finish, private_data, err);
}

static RAI_DAGRunCtx *dag_of(RAI_OnFinishCtx *finish) { return finish ? finish->dag : NULL; }

size_t RAI_DAGNumOutputs(RAI_OnFinishCtx *finish) {
    RAI_DAGRunCtx *dag = dag_of(finish);
    return dag ? RAI_DAGNumTensorGets(dag) : 0;
}

const RAI_Tensor *RAI_DAGOutputTensor(RAI_OnFinishCtx *finish, size_t index) {
    RAI_DAGRunCtx *dag = dag_of(finish);
    if (!dag) return NULL;
    for (size_t i = 0; i < dag->nops; i++) {
        if (dag->ops[i]->type != RAI_DAGOP_TENSORGET) continue;
        if (index-- == 0) return dag->ops[i]->tensor; /* NULL if the op did not run */
    }
    return NULL;
}

int RAI_DAGRunError(RAI_OnFinishCtx *finish) {
    return !finish || finish->err.code != RAI_OK || finish->timed_out;
}

const RAI_Error *RAI_DAGGetError(RAI_OnFinishCtx *finish) { return finish ? &finish->err : NULL; }

void RAI_DAGRunOpFree(RAI_DAGRunOp *op) { RAI_DAGOpFree(op); }

void RAI_DAGFree(RAI_DAGRunCtx *dag) { RAI_DAGFreeAll(dag); }
