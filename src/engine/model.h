/* model.h -- a model: a backend handle plus everything needed to persist it
 * (the original blob, options, names).  Ref-counted like tensors. */
#ifndef ENGINE_MODEL_H
#define ENGINE_MODEL_H

#include "../common/rm_api.h"
#include "../include/redisai.h"
#include "backends.h"
#include "error.h"
#include "stats.h"

typedef struct RAI_Model {
    RAI_Backend backend;
    char *devicestr;
    RedisModuleString *tag; /* NULL = empty tag */
    RAI_ModelOpts opts;
    size_t ninputs, noutputs;
    char **inputs, **outputs; /* names: given (TF) or reported by the backend */
    char *blob;               /* the model as stored: MODELGET, RDB and AOF use it */
    size_t bloblen;
    void *handle;
    const RAI_BackendOps *ops;
    RAI_RunStats *stats; /* NULL for models made through the C API */
    long refcount;
} RAI_Model;

extern RedisModuleType *RAI_ModelType;

/* Checks "CPU", "GPU", "CPU:<n>", "GPU:<n>" (under 10 characters). */
int RAI_DeviceIsValid(const char *device);
/* GPU devices are refused on this CPU-only build. */
int RAI_DeviceIsGPU(const char *device);

/* The internal signature: tag is a RedisModuleString (or NULL). */
RAI_Model *RAI_ModelCreate(RAI_Backend backend, const char *devicestr, RedisModuleString *tag,
                           RAI_ModelOpts opts, size_t ninputs, const char **inputs,
                           size_t noutputs, const char **outputs, const char *modeldef,
                           size_t modellen, RAI_Error *err);
void RAI_ModelFree(RAI_Model *model, RAI_Error *err);
RAI_Model *RAI_ModelGetShallowCopy(RAI_Model *model);
int RAI_ModelSerialize(RAI_Model *model, char **buffer, size_t *len, RAI_Error *err);
int RAI_GetModelFromKeyspace(RedisModuleCtx *ctx, RedisModuleString *keyName, RAI_Model **model,
                             int mode, RAI_Error *err);
int RAI_ModelTypeRegister(RedisModuleCtx *ctx);

#endif
