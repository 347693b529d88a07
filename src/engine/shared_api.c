/* shared_api.c -- the RedisAI_* shared C API (version 1).
 *
 * Every entry RedisAI_<Name> is the function RAI_<Name>.  The list comes from
 * the public header, and each function is checked at compile time against
 * the signature that header declares, so the ABI cannot drift.  The few
 * entries whose public signature differs from the internal one get an
 * adapter here. */
#include "../include/redisai.h"
#include "dag_api.h"
#include "error.h"
#include "model.h"
#include "model_run.h"
#include "script.h"
#include "script_run.h"
#include "shared_api.h"
#include "size_limits.h"
#include "tensor.h"
#include "tensor_type.h"

static int RAI_GetLLAPIVersion(void) { return REDISAI_LLAPI_VERSION; }

/* The public enum lacks RAI_EKEYEMPTY (19); the value is passed through. */
static RedisAI_ErrorCode RAI_GetErrorCodePublic(RAI_Error *err) {
    return (RedisAI_ErrorCode)RAI_GetErrorCode(err);
}
#define RAI_GetErrorCode RAI_GetErrorCodePublic

/* The public header declares the tag as char *; it really is a
 * RedisModuleString * (or NULL), as in the original.  Models made here have
 * no AI.INFO entry, and freeing or running them is safe. */
static RAI_Model *RAI_ModelCreatePublic(int backend, char *devicestr, char *tag, RAI_ModelOpts opts,
                                        size_t ninputs, const char **inputs, size_t noutputs,
                                        const char **outputs, const char *modeldef, size_t modellen,
                                        RAI_Error *err) {
    return RAI_ModelCreate((RAI_Backend)backend, devicestr, (RedisModuleString *)tag, opts, ninputs,
                           inputs, noutputs, outputs, modeldef, modellen, err);
}
#define RAI_ModelCreate RAI_ModelCreatePublic

static RedisModuleType *RAI_ModelRedisType(void) { return RAI_ModelType; }

/* As for models, the public tag is really a RedisModuleString * (or NULL).
 * The script has no entry points and no AI.INFO entry. */
static RAI_Script *RAI_ScriptCreatePublic(char *devicestr, char *tag, const char *scriptdef,
                                          RAI_Error *err) {
    return RAI_ScriptCreate(devicestr, (RedisModuleString *)tag, scriptdef, err);
}
#define RAI_ScriptCreate RAI_ScriptCreatePublic

static RedisModuleType *RAI_ScriptRedisType(void) { return RAI_ScriptType; }

static RAI_Tensor *RAI_TensorCreate(const char *dtype, long long *dims, int ndims) {
    if (!dtype || ndims < 0 || (ndims > 0 && !dims)) return NULL;
    size_t len = 0;
    while (dtype[len]) len++;
    RAI_DTypeId dt = RAI_DTypeFromString(dtype, len);
    /* The same limits as AI.TENSORSET; the caller only learns "NULL". */
    size_t count;
    RAI_Error err = {0};
    if (dt == RAI_DT_INVALID || !RAI_ShapeLength(dt, dims, ndims, &count)) return NULL;
    if (!RAI_SizeAllowed("tensor", count * RAI_DTypeSize(dt), RAI_ETENSORSET, &err)) {
        RAI_ClearError(&err);
        return NULL;
    }
    return RAI_TensorNew(dt, dims, ndims);
}

static size_t RAI_TensorLength(RAI_Tensor *t) { return t->len; }
static size_t RAI_TensorDataSize(RAI_Tensor *t) { return RAI_TensorElementSize(t); }
static int RAI_TensorNumDims(RAI_Tensor *t) { return t->ndims; }
static long long RAI_TensorDim(RAI_Tensor *t, int dim) {
    return dim >= 0 && dim < t->ndims ? t->dims[dim] : -1;
}
static size_t RAI_TensorByteSize(RAI_Tensor *t) { return t->nbytes; }
static char *RAI_TensorData(RAI_Tensor *t) { return t->data; }
static RedisModuleType *RAI_TensorRedisType(void) { return RAI_TensorType; }

void RAI_ExportSharedAPI(RedisModuleCtx *ctx) {
    if (!RedisModule_ExportSharedAPI) {
        RedisModule_Log(ctx, "warning",
                        "Redis version does not support SharedAPI; running without exposing C API to other modules");
        return;
    }
#define EXPORT_ENTRY(ret, name, params)                                                      \
    {                                                                                        \
        ret(*checked) params = RAI_##name;                                                   \
        if (RedisModule_ExportSharedAPI(ctx, "RedisAI_" #name, (void *)checked) != REDISMODULE_OK) \
            RedisModule_Log(ctx, "warning", "Could not register RedisAI_%s", #name);        \
    }
    REDISAI_API_LIST_CORE(EXPORT_ENTRY)
    REDISAI_API_LIST_MODELS(EXPORT_ENTRY)
    REDISAI_API_LIST_SCRIPTS(EXPORT_ENTRY)
    REDISAI_API_LIST_DAG(EXPORT_ENTRY)
#undef EXPORT_ENTRY
}
