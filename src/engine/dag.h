/* dag.h -- a DAG run context: ops executed in order over a table of
 * DAG-local tensor names.
 *
 * Building: LOADed tensors (AI.DAGEXECUTE LOAD, RedisAI_DAGLoadTensor) are
 * bound to names before the run; ops are appended by the command parser
 * (dag_parse.c) or the C API (dag_api.c).  RAI_DAGValidate then checks that
 * every op input names a tensor that is loaded or produced by an earlier op.
 *
 * Running (dag_run.c): the whole DAG is one job.  Ops run strictly in order;
 * each model or script op runs on a worker of its own device's queue, so when
 * the next op is on another device the job moves to that queue and continues
 * there.  Ops on different devices therefore do not overlap: a DAG is a
 * sequence, which keeps name binding trivial (an op sees exactly the tensors
 * bound by the ops before it).  The first failed op stops the run; later ops
 * stay unexecuted (+NA in the command reply). */
#ifndef ENGINE_DAG_H
#define ENGINE_DAG_H

#include "../common/rm_api.h"
#include "../include/redisai.h"
#include "error.h"
#include "model.h"
#include "run_info.h"
#include "script.h"
#include "tensor.h"

typedef enum { RAI_DAGOP_TENSORSET, RAI_DAGOP_TENSORGET, RAI_DAGOP_MODEL, RAI_DAGOP_SCRIPT } RAI_DAGOpType;
typedef enum { RAI_DAGOP_PENDING, RAI_DAGOP_DONE, RAI_DAGOP_FAILED } RAI_DAGOpState;

struct RAI_DAGRunOp {
    RAI_DAGOpType type;
    RAI_Model *model;   /* MODEL: own reference */
    RAI_Script *script; /* SCRIPT: own reference */
    char *fn;           /* SCRIPT: function name */
    size_t ninputs, noutputs, nkeys, nargs;
    char **inputs, **outputs;      /* DAG-local names (owned); TENSORSET/GET: outputs[0]/inputs[0] */
    RedisModuleString **keys, **args; /* SCRIPT KEYS / ARGS (owned) */
    RAI_Tensor *tensor; /* TENSORSET: the value to bind; TENSORGET: the value read (own refs) */
    int fmt;            /* TENSORGET: reply format (RAI_REPLY_*) */
    RAI_DAGOpState state;
    RAI_Error err;
};

typedef struct RAI_DAGTensor {
    char *name;
    RAI_Tensor *t; /* own reference */
} RAI_DAGTensor;

struct RAI_DAGRunCtx {
    RAI_DAGRunOp **ops;
    size_t nops, cap_ops;
    RAI_DAGTensor *tensors; /* the name table: LOADed, then bound by ops as they run */
    size_t ntensors, cap_tensors;
    size_t next_op;          /* worker: the first op not yet executed */
    const char *queue_device; /* worker: the queue the job is on */
    RAI_OnFinishCtx *finish; /* set once the DAG is queued */
};

RAI_DAGRunOp *RAI_DAGOpNew(RAI_DAGOpType type);
void RAI_DAGOpFree(RAI_DAGRunOp *op);
/* Appends a copy of `name` to the op's inputs / outputs. */
void RAI_DAGOpAddInput(RAI_DAGRunOp *op, const char *name, size_t len);
void RAI_DAGOpAddOutput(RAI_DAGRunOp *op, const char *name, size_t len);
/* The device whose queue runs the op; NULL for TENSORSET/TENSORGET. */
const char *RAI_DAGOpDevice(const RAI_DAGRunOp *op);

RAI_DAGRunCtx *RAI_DAGNew(void);
void RAI_DAGFreeAll(RAI_DAGRunCtx *dag);
/* The DAG takes ownership of the op. */
void RAI_DAGAppendOp(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op);
/* Binds `name` to `t` (taking a new reference), replacing an older binding. */
void RAI_DAGBind(RAI_DAGRunCtx *dag, const char *name, RAI_Tensor *t);
/* The tensor bound to `name` (borrowed), or NULL. */
RAI_Tensor *RAI_DAGLookup(RAI_DAGRunCtx *dag, const char *name);
size_t RAI_DAGNumTensorGets(RAI_DAGRunCtx *dag);
/* Checks the DAG before it is queued: "ERR DAG is empty", "ERR INPUT key
 * cannot be found in DAG", and that each of `persist` is bound at the end
 * ("ERR PERSIST key cannot be found in DAG"). */
int RAI_DAGValidate(RAI_DAGRunCtx *dag, RedisModuleString **persist, size_t npersist, RAI_Error *err);

/* Queues the DAG on the device of its first run op (CPU if none) with a
 * TIMEOUT in ms (0 = none).  `on_finish` is called on a worker, once, with
 * no engine lock held.  The DAG keeps the finish context; RAI_DAGFreeAll
 * frees both. */
int RAI_DAGRunQueue(RAI_DAGRunCtx *dag, long long timeout_ms, RAI_OnFinishCB on_finish,
                    void *private_data, RAI_Error *err);

#endif
