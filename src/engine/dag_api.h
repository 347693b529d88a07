/* dag_api.h -- the RedisAI_DAG* entries of the shared C API, with the
 * signatures of redisai.h (REDISAI_API_LIST_DAG). */
#ifndef ENGINE_DAG_API_H
#define ENGINE_DAG_API_H

#include "dag.h"

RAI_DAGRunCtx *RAI_DAGRunCtxCreate(void);
RAI_DAGRunOp *RAI_DAGCreateModelRunOp(RAI_Model *model);
RAI_DAGRunOp *RAI_DAGCreateScriptRunOp(RAI_Script *script, const char *func_name);
int RAI_DAGRunOpAddInput(RAI_DAGRunOp *op, const char *input);
int RAI_DAGRunOpAddOutput(RAI_DAGRunOp *op, const char *output);
/* Model ops: the input/output counts must match the model (EDAGBUILDER). */
int RAI_DAGAddRunOp(RAI_DAGRunCtx *dag, RAI_DAGRunOp *op, RAI_Error *err);
/* REDISMODULE_ERR if the name is already loaded. */
int RAI_DAGLoadTensor(RAI_DAGRunCtx *dag, const char *t_name, RAI_Tensor *tensor);
int RAI_DAGAddTensorSet(RAI_DAGRunCtx *dag, const char *t_name, RAI_Tensor *tensor);
int RAI_DAGAddTensorGet(RAI_DAGRunCtx *dag, const char *t_name);
/* "|> op ... |> op ...", split on spaces; all ops are added or none.  The
 * caller must hold the Redis lock. */
int RAI_DAGAddOpsFromString(RAI_DAGRunCtx *dag, const char *dag_str, RAI_Error *err);
size_t RAI_DAGNumOps(RAI_DAGRunCtx *dag);
int RAI_DAGRun(RAI_DAGRunCtx *dag, RAI_OnFinishCB on_finish, void *private_data, RAI_Error *err);
size_t RAI_DAGNumOutputs(RAI_OnFinishCtx *finish);
const RAI_Tensor *RAI_DAGOutputTensor(RAI_OnFinishCtx *finish, size_t index);
int RAI_DAGRunError(RAI_OnFinishCtx *finish);
const RAI_Error *RAI_DAGGetError(RAI_OnFinishCtx *finish);
void RAI_DAGRunOpFree(RAI_DAGRunOp *op);
void RAI_DAGFree(RAI_DAGRunCtx *dag);

#endif
