/* redisai.h -- the engine's shared C API, version 1, as other modules see it.
 *
 * A consumer module resolves each entry by name with RedisModule_GetSharedAPI
 * ("RedisAI_<Name>").  Names, signatures and semantics follow RedisAI 1.2.7 so
 * that a consumer built for the original works unchanged (and vice versa).
 * This header is the project's own; it declares nothing of the Redis API
 * itself: include rm_api.h (or redismodule.h) first. */
#ifndef REDISAI_H
#define REDISAI_H

#include <stddef.h>

#define REDISAI_LLAPI_VERSION 1

#define REDISAI_BACKEND_TENSORFLOW 0
#define REDISAI_BACKEND_TFLITE 1
#define REDISAI_BACKEND_TORCH 2
#define REDISAI_BACKEND_ONNXRUNTIME 3

#define REDISAI_DEVICE_CPU 0
#define REDISAI_DEVICE_GPU 1

typedef struct RAI_Tensor RAI_Tensor;
typedef struct RAI_Model RAI_Model;
typedef struct RAI_Script RAI_Script;
typedef struct RAI_ModelRunCtx RAI_ModelRunCtx;
typedef struct RAI_ScriptRunCtx RAI_ScriptRunCtx;
typedef struct RAI_DAGRunCtx RAI_DAGRunCtx;
typedef struct RAI_DAGRunOp RAI_DAGRunOp;
typedef struct RAI_Error RAI_Error;
typedef struct RAI_OnFinishCtx RAI_OnFinishCtx;

/* Passed by value to RedisAI_ModelCreate: the layout is part of the ABI. */
typedef struct RAI_ModelOpts {
    size_t batchsize;
    size_t minbatchsize;
    size_t minbatchtimeout;
    long long backends_intra_op_parallelism;
    long long backends_inter_op_parallelism;
} RAI_ModelOpts;

typedef void (*RAI_OnFinishCB)(RAI_OnFinishCtx *ctx, void *private_data);

typedef enum RedisAI_ErrorCode {
    RedisAI_ErrorCode_OK = 0,
    RedisAI_ErrorCode_EMODELIMPORT,
    RedisAI_ErrorCode_EMODELCONFIGURE,
    RedisAI_ErrorCode_EMODELCREATE,
    RedisAI_ErrorCode_EMODELRUN,
    RedisAI_ErrorCode_EMODELSERIALIZE,
    RedisAI_ErrorCode_EMODELFREE,
    RedisAI_ErrorCode_ESCRIPTIMPORT,
    RedisAI_ErrorCode_ESCRIPTCONFIGURE,
    RedisAI_ErrorCode_ESCRIPTCREATE,
    RedisAI_ErrorCode_ESCRIPTRUN,
    RedisAI_ErrorCode_EUNSUPPORTEDBACKEND,
    RedisAI_ErrorCode_EBACKENDNOTLOADED,
    RedisAI_ErrorCode_ESCRIPTFREE,
    RedisAI_ErrorCode_ETENSORSET,
    RedisAI_ErrorCode_ETENSORGET,
    RedisAI_ErrorCode_EDAGBUILDER,
    RedisAI_ErrorCode_EDAGRUN,
    RedisAI_ErrorCode_EFINISHCTX
} RedisAI_ErrorCode;

/* X(return type, name without the RedisAI_ prefix, parameter list).
 * Every entry of the shared API (70), in the order of the spec (§2.8).  The
 * engine exports exactly these; RedisAI_TensorDataType is not among them. */
#define REDISAI_API_LIST(X) \
    REDISAI_API_LIST_CORE(X) REDISAI_API_LIST_MODELS(X) REDISAI_API_LIST_SCRIPTS(X) REDISAI_API_LIST_DAG(X)

/* Version, errors and tensors. */
#define REDISAI_API_LIST_CORE(X)                                                                 \
    X(int, GetLLAPIVersion, (void))                                                              \
    X(int, InitError, (RAI_Error * *err))                                                        \
    X(void, ClearError, (RAI_Error * err))                                                       \
    X(void, FreeError, (RAI_Error * err))                                                        \
    X(const char *, GetError, (RAI_Error * err))                                                 \
    X(const char *, GetErrorOneLine, (RAI_Error * err))                                          \
    X(RedisAI_ErrorCode, GetErrorCode, (RAI_Error * err))                                        \
    X(void, CloneError, (RAI_Error * dest, const RAI_Error *src))                                \
    X(RAI_Tensor *, TensorCreate, (const char *dataTypeStr, long long *dims, int ndims))         \
    X(RAI_Tensor *, TensorCreateByConcatenatingTensors, (RAI_Tensor * *ts, long long n))         \
    X(RAI_Tensor *, TensorCreateBySlicingTensor, (RAI_Tensor * t, long long offset,              \
                                                  long long len))                                \
    X(size_t, TensorLength, (RAI_Tensor * t))                                                    \
    X(size_t, TensorDataSize, (RAI_Tensor * t))                                                  \
    X(void, TensorFree, (RAI_Tensor * t))                                                        \
    X(int, TensorSetData, (RAI_Tensor * tensor, const char *data, size_t len))                   \
    X(int, TensorSetValueFromLongLong, (RAI_Tensor * tensor, long long i, long long val))        \
    X(int, TensorSetValueFromDouble, (RAI_Tensor * tensor, long long i, double val))             \
    X(int, TensorGetValueAsDouble, (RAI_Tensor * t, long long i, double *val))                   \
    X(int, TensorGetValueAsLongLong, (RAI_Tensor * t, long long i, long long *val))              \
    X(RAI_Tensor *, TensorGetShallowCopy, (RAI_Tensor * t))                                      \
    X(int, TensorNumDims, (RAI_Tensor * t))                                                      \
    X(long long, TensorDim, (RAI_Tensor * t, int dim))                                           \
    X(size_t, TensorByteSize, (RAI_Tensor * t))                                                  \
    X(char *, TensorData, (RAI_Tensor * t))                                                      \
    X(RedisModuleType *, TensorRedisType, (void))

#define REDISAI_API_LIST_MODELS(X)                                                               \
    X(RAI_Model *, ModelCreate, (int backend, char *devicestr, char *tag, RAI_ModelOpts opts,    \
                                 size_t ninputs, const char **inputs, size_t noutputs,           \
                                 const char **outputs, const char *modeldef, size_t modellen,    \
                                 RAI_Error *err))                                                \
    X(void, ModelFree, (RAI_Model * model, RAI_Error * err))                                     \
    X(RAI_ModelRunCtx *, ModelRunCtxCreate, (RAI_Model * model))                                 \
    X(int, GetModelFromKeyspace, (RedisModuleCtx * ctx, RedisModuleString * keyName,             \
                                  RAI_Model * *model, int mode, RAI_Error *err))                 \
    X(int, ModelRunCtxAddInput, (RAI_ModelRunCtx * mctx, const char *inputName,                  \
                                 RAI_Tensor *inputTensor))                                       \
    X(int, ModelRunCtxAddOutput, (RAI_ModelRunCtx * mctx, const char *outputName))               \
    X(size_t, ModelRunCtxNumOutputs, (RAI_ModelRunCtx * mctx))                                   \
    X(RAI_Tensor *, ModelRunCtxOutputTensor, (RAI_ModelRunCtx * mctx, size_t index))             \
    X(void, ModelRunCtxFree, (RAI_ModelRunCtx * mctx))                                           \
    X(int, ModelRun, (RAI_ModelRunCtx * *mctx, long long n, RAI_Error *err))                     \
    X(int, ModelSerialize, (RAI_Model * model, char **buffer, size_t *len, RAI_Error *err))      \
    X(RAI_Model *, ModelGetShallowCopy, (RAI_Model * model))                                     \
    X(RedisModuleType *, ModelRedisType, (void))                                                 \
    X(int, ModelRunAsync, (RAI_ModelRunCtx * mctxs, RAI_OnFinishCB DAGAsyncFinish,               \
                           void *private_data))                                                  \
    X(RAI_ModelRunCtx *, GetAsModelRunCtx, (RAI_OnFinishCtx * ctx, RAI_Error * err))

#define REDISAI_API_LIST_SCRIPTS(X)                                                              \
    X(RAI_Script *, ScriptCreate, (char *devicestr, char *tag, const char *scriptdef,            \
                                   RAI_Error *err))                                              \
    X(int, GetScriptFromKeyspace, (RedisModuleCtx * ctx, RedisModuleString * keyName,            \
                                   RAI_Script * *script, int mode, RAI_Error *err))              \
    X(void, ScriptFree, (RAI_Script * script, RAI_Error * err))                                  \
    X(RAI_ScriptRunCtx *, ScriptRunCtxCreate, (RAI_Script * script, const char *fnname))         \
    X(int, ScriptRunCtxAddInput, (RAI_ScriptRunCtx * sctx, RAI_Tensor * inputTensor,             \
                                  RAI_Error * err))                                              \
    X(int, ScriptRunCtxAddTensorInput, (RAI_ScriptRunCtx * sctx, RAI_Tensor * inputTensor))      \
    X(int, ScriptRunCtxAddInputList, (RAI_ScriptRunCtx * sctx, RAI_Tensor * *inputTensors,       \
                                      size_t len, RAI_Error *err))                               \
    X(int, ScriptRunCtxAddTensorInputList, (RAI_ScriptRunCtx * sctx,                             \
                                            RAI_Tensor * *inputTensors, size_t count))           \
    X(int, ScriptRunCtxAddOutput, (RAI_ScriptRunCtx * sctx))                                     \
    X(size_t, ScriptRunCtxNumOutputs, (RAI_ScriptRunCtx * sctx))                                 \
    X(RAI_Tensor *, ScriptRunCtxOutputTensor, (RAI_ScriptRunCtx * sctx, size_t index))           \
    X(void, ScriptRunCtxFree, (RAI_ScriptRunCtx * sctx))                                         \
    X(int, ScriptRun, (RAI_ScriptRunCtx * sctx, RAI_Error * err))                                \
    X(RAI_Script *, ScriptGetShallowCopy, (RAI_Script * script))                                 \
    X(RedisModuleType *, ScriptRedisType, (void))                                                \
    X(int, ScriptRunAsync, (RAI_ScriptRunCtx * sctx, RAI_OnFinishCB DAGAsyncFinish,              \
                            void *private_data))                                                 \
    X(RAI_ScriptRunCtx *, GetAsScriptRunCtx, (RAI_OnFinishCtx * ctx, RAI_Error * err))

#define REDISAI_API_LIST_DAG(X)                                                                  \
    X(RAI_DAGRunCtx *, DAGRunCtxCreate, (void))                                                  \
    X(RAI_DAGRunOp *, DAGCreateModelRunOp, (RAI_Model * model))                                  \
    X(RAI_DAGRunOp *, DAGCreateScriptRunOp, (RAI_Script * script, const char *func_name))        \
    X(int, DAGRunOpAddInput, (RAI_DAGRunOp * DAGOp, const char *input))                          \
    X(int, DAGRunOpAddOutput, (RAI_DAGRunOp * DAGOp, const char *output))                        \
    X(int, DAGAddRunOp, (RAI_DAGRunCtx * run_info, RAI_DAGRunOp * DAGop, RAI_Error * err))       \
    X(int, DAGLoadTensor, (RAI_DAGRunCtx * run_info, const char *t_name, RAI_Tensor *tensor))    \
    X(int, DAGAddTensorSet, (RAI_DAGRunCtx * run_info, const char *t_name, RAI_Tensor *tensor))  \
    X(int, DAGAddTensorGet, (RAI_DAGRunCtx * run_info, const char *t_name))                      \
    X(int, DAGAddOpsFromString, (RAI_DAGRunCtx * run_info, const char *dag, RAI_Error *err))     \
    X(size_t, DAGNumOps, (RAI_DAGRunCtx * run_info))                                             \
    X(int, DAGRun, (RAI_DAGRunCtx * run_info, RAI_OnFinishCB DAGAsyncFinish, void *private_data, \
                    RAI_Error *err))                                                             \
    X(size_t, DAGNumOutputs, (RAI_OnFinishCtx * finish_ctx))                                     \
    X(const RAI_Tensor *, DAGOutputTensor, (RAI_OnFinishCtx * finish_ctx, size_t index))         \
    X(int, DAGRunError, (RAI_OnFinishCtx * finish_ctx))                                          \
    X(const RAI_Error *, DAGGetError, (RAI_OnFinishCtx * finish_ctx))                            \
    X(void, DAGRunOpFree, (RAI_DAGRunOp * dagOp))                                                \
    X(void, DAGFree, (RAI_DAGRunCtx * run_info))

#endif
