/* model.c -- model objects and their keyspace access. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "model.h"

int RAI_DeviceIsValid(const char *device) {
    size_t n = strlen(device);
    if (n >= 10 || n < 3) return 0;
    if (strncasecmp(device, "CPU", 3) != 0 && strncasecmp(device, "GPU", 3) != 0) return 0;
    if (n == 3) return 1;
    if (device[3] != ':' || n == 4) return 0;
    for (size_t i = 4; i < n; i++)
        if (!isdigit((unsigned char)device[i])) return 0;
    return 1;
}

int RAI_DeviceIsGPU(const char *device) { return strncasecmp(device, "GPU", 3) == 0; }

static char **copy_names(size_t n, const char *const *names) {
    char **out = RedisModule_Calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) out[i] = RedisModule_Strdup(names[i] ? names[i] : "");
    return out;
}

static void free_names(size_t n, char **names) {
    for (size_t i = 0; names && i < n; i++) RedisModule_Free(names[i]);
    RedisModule_Free(names);
}

RAI_Model *RAI_ModelCreate(RAI_Backend backend, const char *devicestr, RedisModuleString *tag,
                           RAI_ModelOpts opts, size_t ninputs, const char **inputs,
                           size_t noutputs, const char **outputs, const char *modeldef,
                           size_t modellen, RAI_Error *err) {
    if ((unsigned)backend >= RAI_BACKEND_COUNT) {
        RAI_SetError(err, RAI_EUNSUPPORTEDBACKEND, "ERR unsupported backend");
        return NULL;
    }
    const RAI_BackendOps *ops = RAI_BackendGet(backend);
    if (!ops) {
        RAI_SetErrorFormat(err, RAI_EBACKENDNOTLOADED, "ERR Backend not loaded: %s", RAI_BackendName(backend));
        return NULL;
    }
    if (!devicestr || !RAI_DeviceIsValid(devicestr)) {
        RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid DEVICE");
        return NULL;
    }
    if (RAI_DeviceIsGPU(devicestr)) {
        RAI_SetError(err, RAI_EMODELCREATE, "ERR GPU device requested but this build of the engine has no GPU support");
        return NULL;
    }
    if (!modeldef || modellen == 0) {
        RAI_SetError(err, RAI_EMODELCREATE, "ERR Insufficient arguments, missing model BLOB");
        return NULL;
    }
    char msg[RAI_ERRLEN] = "";
    void *handle = ops->model_create(devicestr, &opts, ninputs, inputs, noutputs, outputs, modeldef,
                                     modellen, msg);
    if (!handle) {
        RAI_SetError(err, RAI_EMODELCREATE, msg[0] ? msg : "ERR could not create model");
        return NULL;
    }
    RAI_Model *m = RedisModule_Calloc(1, sizeof(*m));
    m->backend = backend;
    m->devicestr = RedisModule_Strdup(devicestr);
    if (tag) m->tag = RedisModule_HoldString(NULL, tag);
    m->opts = opts;
    m->handle = handle;
    m->ops = ops;
    m->refcount = 1;
    const RAI_ModelSignature *sig = ops->model_signature(handle);
    if (backend == RAI_BACKEND_TF || !sig) {
        m->ninputs = ninputs;
        m->inputs = copy_names(ninputs, inputs);
        m->noutputs = noutputs;
        m->outputs = copy_names(noutputs, outputs);
    } else {
        m->ninputs = sig->ninputs;
        m->inputs = copy_names(sig->ninputs, sig->inputs);
        m->noutputs = sig->noutputs;
        m->outputs = copy_names(sig->noutputs, sig->outputs);
    }
    /* One copy of the blob is kept: MODELGET, RDB and AOF must return the
     * bytes the user stored, whatever the runtime does with them. */
    m->blob = RedisModule_Alloc(modellen);
    memcpy(m->blob, modeldef, modellen);
    m->bloblen = modellen;
    return m;
}

RAI_Model *RAI_ModelGetShallowCopy(RAI_Model *model) {
    __atomic_add_fetch(&model->refcount, 1, __ATOMIC_RELAXED);
    return model;
}

void RAI_ModelFree(RAI_Model *model, RAI_Error *err) {
    (void)err;
    if (!model) return;
    if (__atomic_sub_fetch(&model->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
    model->ops->model_free(model->handle);
    free_names(model->ninputs, model->inputs);
    free_names(model->noutputs, model->outputs);
    if (model->tag) RedisModule_FreeString(NULL, model->tag);
    RAI_StatsRelease(model->stats);
    RedisModule_Free(model->devicestr);
    RedisModule_Free(model->blob);
    RedisModule_Free(model);
}

int RAI_ModelSerialize(RAI_Model *model, char **buffer, size_t *len, RAI_Error *err) {
    if (!model || !buffer || !len) {
        RAI_SetError(err, RAI_EMODELSERIALIZE, "ERR Failed to serialize model");
        return REDISMODULE_ERR;
    }
    *buffer = RedisModule_Alloc(model->bloblen);
    memcpy(*buffer, model->blob, model->bloblen);
    *len = model->bloblen;
    return REDISMODULE_OK;
}

int RAI_GetModelFromKeyspace(RedisModuleCtx *ctx, RedisModuleString *keyName, RAI_Model **model,
                             int mode, RAI_Error *err) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, keyName, mode);
    int type = RedisModule_KeyType(key);
    if (type == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_EKEYEMPTY, "ERR model key is empty");
        return REDISMODULE_ERR;
    }
    if (type != REDISMODULE_KEYTYPE_MODULE || RedisModule_ModuleTypeGetType(key) != RAI_ModelType) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_EMODELRUN, REDISMODULE_ERRORMSG_WRONGTYPE);
        return REDISMODULE_ERR;
    }
    *model = RedisModule_ModuleTypeGetValue(key);
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}
