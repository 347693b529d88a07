/* dag.c -- DAG ops, the tensor name table and validation (see dag.h). */
#include <string.h>

#include "dag.h"

RAI_DAGRunOp *RAI_DAGOpNew(RAI_DAGOpType type) {
    RAI_DAGRunOp *op = RedisModule_Calloc(1, sizeof(*op));
    op->type = type;
    return op;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) RedisModule_Free(names[i]);
    RedisModule_Free(names);
}

static void free_strings(RedisModuleString **s, size_t n) {
    for (size_t i = 0; i < n; i++) RedisModule_FreeString(NULL, s[i]);
    RedisModule_Free(s);
}

void RAI_DAGOpFree(RAI_DAGRunOp *op) {
    if (!op) return;
    if (op->model) RAI_ModelFree(op->model, NULL);
    if (op->script) RAI_ScriptFree(op->script, NULL);
    RedisModule_Free(op->fn);
    free_names(op->inputs, op->ninputs);
    free_names(op->outputs, op->noutputs);
    free_strings(op->keys, op->nkeys);
    free_strings(op->args, op->nargs);
    RAI_TensorFree(op->tensor);
    RAI_ClearError(&op->err);
    RedisModule_Free(op);
}

static char *copy_name(const char *name, size_t len) {
    char *s = RedisModule_Alloc(len + 1);
    memcpy(s, name, len);
    s[len] = '\0';
    return s;
}

/* Name lists grow one at a time: ops have a handful of names. */
void RAI_DAGOpAddInput(RAI_DAGRunOp *op, const char *name, size_t len) {
    op->inputs = RedisModule_Realloc(op->inputs, (op->ninputs + 1) * sizeof(char *));
    op->inputs[op->ninputs++] = copy_name(name, len);
}

void RAI_DAGOpAddOutput(RAI_DAGRunOp *op, const char *name, size_t len) {
    op->outputs = RedisModule_Realloc(op->outputs, (op->noutputs + 1) * sizeof(char *));
    op->outputs[op->noutputs++] = copy_name(name, len);
}

const char *RAI_DAGOpDevice(const RAI_DAGRunOp *op) {
    if (op->type == RAI_DAGOP_MODEL) return op->model->devicestr;
    if (op->type == RAI_DAGOP_SCRIPT) return op->script->devicestr;
    return NULL;
}

RAI_DAGRunCtx *RAI_DAGNew(void) {
    RAI_DAGRunCtx *dag = RedisModule_Calloc(1, sizeof(RAI_DAGRunCtx));
    pthread_mutex_init(&dag->lock, NULL);
    return dag;
}

void RAI_DAGFreeAll(RAI_DAGRunCtx *dag) {
    if (!dag) return;
    for (size_t i = 0; i < dag->nops; i++) RAI_DAGOpFree(dag->ops[i]);
    RedisModule_Free(dag->ops);
    for (size_t i = 0; i < dag->ntensors; i++) {
        RedisModule_Free(dag->tensors[i].name);
        RAI_TensorFree(dag->tensors[i].t);
    }
    RedisModule_Free(dag->tensors);
    if (dag->finish) {
        dag->finish->dag = NULL;
        RAI_OnFinishCtxFree(dag->finish);
    }
    if (dag->user) RedisModule_FreeString(NULL, dag->user);
    pthread_mutex_destroy(&dag->lock);
    RedisModule_Free(dag);
}

void RAI_DAGAppendOp(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op) {
    if (dag->nops == dag->cap_ops) {
        dag->cap_ops = dag->cap_ops ? dag->cap_ops * 2 : 8;
        dag->ops = RedisModule_Realloc(dag->ops, dag->cap_ops * sizeof(*dag->ops));
    }
    dag->ops[dag->nops++] = op;
}

static RAI_DAGTensor *find(RAI_DAGRunCtx *dag, const char *name) {
    for (size_t i = 0; i < dag->ntensors; i++)
        if (strcmp(dag->tensors[i].name, name) == 0) return &dag->tensors[i];
    return NULL;
}

void RAI_DAGBind(RAI_DAGRunCtx *dag, const char *name, RAI_Tensor *t) {
    RAI_DAGTensor *e = find(dag, name);
    t = RAI_TensorGetShallowCopy(t);
    if (e) {
        RAI_TensorFree(e->t);
        e->t = t;
        return;
    }
    if (dag->ntensors == dag->cap_tensors) {
        dag->cap_tensors = dag->cap_tensors ? dag->cap_tensors * 2 : 8;
        dag->tensors = RedisModule_Realloc(dag->tensors, dag->cap_tensors * sizeof(*dag->tensors));
    }
    dag->tensors[dag->ntensors].name = RedisModule_Strdup(name);
    dag->tensors[dag->ntensors].t = t;
    dag->ntensors++;
}

RAI_Tensor *RAI_DAGLookup(RAI_DAGRunCtx *dag, const char *name) {
    RAI_DAGTensor *e = find(dag, name);
    return e ? e->t : NULL;
}

size_t RAI_DAGNumTensorGets(RAI_DAGRunCtx *dag) {
    size_t n = 0;
    for (size_t i = 0; i < dag->nops; i++) n += dag->ops[i]->type == RAI_DAGOP_TENSORGET;
    return n;
}

/* A set of names, to replay the bindings without running anything. */
typedef struct {
    const char **names;
    size_t n;
} NameSet;

static int set_has(NameSet *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0) return 1;
    return 0;
}

static void set_add(NameSet *s, const char *name) {
    if (!set_has(s, name)) s->names[s->n++] = name;
}

int RAI_DAGValidate(RAI_DAGRunCtx *dag, RedisModuleString **persist, size_t npersist, RAI_Error *err) {
    if (dag->nops == 0) {
        RAI_SetError(err, RAI_EDAGRUN, "ERR DAG is empty");
        return REDISMODULE_ERR;
    }
    size_t cap = dag->ntensors;
    for (size_t i = 0; i < dag->nops; i++) cap += dag->ops[i]->noutputs;
    NameSet known = {RedisModule_Alloc((cap + 1) * sizeof(char *)), 0};
    for (size_t i = 0; i < dag->ntensors; i++) set_add(&known, dag->tensors[i].name);
    int ok = 1;
    for (size_t i = 0; ok && i < dag->nops; i++) {
        RAI_DAGRunOp *op = dag->ops[i];
        for (size_t k = 0; ok && k < op->ninputs; k++) ok = set_has(&known, op->inputs[k]);
        for (size_t k = 0; ok && k < op->noutputs; k++) set_add(&known, op->outputs[k]);
    }
    if (!ok) RAI_SetError(err, RAI_EDAGRUN, "ERR INPUT key cannot be found in DAG");
    for (size_t i = 0; ok && i < npersist; i++) {
        ok = set_has(&known, RedisModule_StringPtrLen(persist[i], NULL));
        if (!ok) RAI_SetError(err, RAI_EDAGRUN, "ERR PERSIST key cannot be found in DAG");
    }
    RedisModule_Free(known.names);
    return ok ? REDISMODULE_OK : REDISMODULE_ERR;
}
