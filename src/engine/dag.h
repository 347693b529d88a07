/* dag.h -- a DAG run context: ops over a table of DAG-local tensor names.
 *
 * Building: LOADed tensors (AI.DAGEXECUTE LOAD, RedisAI_DAGLoadTensor) are
 * bound to names before the run; ops are appended by the command parser
 * (dag_parse.c) or the C API (dag_api.c).  RAI_DAGValidate then checks that
 * every op input names a tensor that is loaded or produced by an earlier op.
 *
 * Running (dag_run.c): an op depends on every earlier op (in op order) that
 * writes a name it reads (read after write), reads a name it writes (write
 * after read) or writes a name it writes (write after write).  An op starts
 * as soon as all its dependencies are done: a model or script op as its own
 * job on its device's queue, a TENSORSET or TENSORGET right away on the
 * thread that made it ready (it only touches the name table).  So ops on
 * different devices (or on one device served by several threads) overlap,
 * and every op still sees exactly the bindings a run in op order would give
 * it.  One mutex per DAG guards the name table and the scheduling state;
 * no lock is held while a model or script runs, or while calling back.
 *
 * Failures: the first failed op in op order decides.  When an op fails, no
 * op after it (in op order) is started any more; ops already running finish
 * but their results are discarded, and ops before it still run.  So the
 * outcome is exactly that of a run in op order: every op before the first
 * failed one is done, that op has its error, and every op after it counts as
 * not executed (+NA, no TENSORGET output), even if it ran in parallel (its
 * model's AI.INFO still counts that run).  TIMEOUT is checked whenever an
 * op leaves its queue: once passed, nothing more starts and the run is
 * TIMEDOUT.  The finish callback runs once, on a worker, after the last
 * started op has returned. */
#ifndef ENGINE_DAG_H
#define ENGINE_DAG_H

#include <pthread.h>

#include "../common/rm_api.h"
#include "../include/redisai.h"
#include "error.h"
#include "model.h"
#include "run_info.h"
#include "script.h"
#include "tensor.h"

typedef enum { RAI_DAGOP_TENSORSET, RAI_DAGOP_TENSORGET, RAI_DAGOP_MODEL, RAI_DAGOP_SCRIPT } RAI_DAGOpType;
/* PENDING: not executed (+NA); QUEUED: a job on its device's queue. */
typedef enum { RAI_DAGOP_PENDING, RAI_DAGOP_QUEUED, RAI_DAGOP_DONE, RAI_DAGOP_FAILED } RAI_DAGOpState;

struct RAI_DAGRunOp {
    RAI_Job job; /* first: a model or script op is queued as itself */
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
    RAI_DAGRunCtx *dag;  /* set when the DAG is queued */
    size_t index;        /* position in op order */
    size_t waiting;      /* dependencies not done yet */
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
    pthread_mutex_t lock;    /* guards the name table and the fields below while running */
    size_t running;          /* ops queued or running */
    size_t stop_at;          /* ops from this index on are not started (first failure) */
    RAI_OnFinishCtx *finish; /* set once the DAG is queued */
    int db;                  /* the command's database, for its script ops (0: C API) */
    RedisModuleString *user; /* the command's ACL user, for its script ops (owned; NULL: C API) */
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

/* Starts the DAG with a TIMEOUT in ms (0 = none): the ops that depend on
 * nothing are queued on their devices (a DAG of only TENSORSET/TENSORGET ops
 * runs them here and queues its callback on CPU).  `on_finish` is called on
 * a worker, once, with no engine lock held.  The DAG keeps the finish
 * context; RAI_DAGFreeAll frees both.  Fails, queueing nothing, when a queue
 * cannot be created. */
int RAI_DAGRunQueue(RAI_DAGRunCtx *dag, long long timeout_ms, RAI_OnFinishCB on_finish,
                    void *private_data, RAI_Error *err);

#endif
