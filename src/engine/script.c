/* script.c -- script objects and their keyspace access. */
#include <string.h>

#include "model.h"
#include "script.h"

static void free_names(size_t n, char **names) {
    for (size_t i = 0; names && i < n; i++) RedisModule_Free(names[i]);
    RedisModule_Free(names);
}

RAI_Script *RAI_ScriptCompile(const char *devicestr, RedisModuleString *tag, const char *source,
                              const char **entry_points, size_t nentry_points, RAI_Error *err) {
    const RAI_BackendOps *ops = RAI_BackendGet(RAI_BACKEND_TORCH);
    if (!ops || !ops->script_create) {
        RAI_SetError(err, RAI_EBACKENDNOTLOADED, "ERR Backend not loaded: TORCH");
        return NULL;
    }
    if (!devicestr || !RAI_DeviceIsValid(devicestr)) {
        RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Invalid DEVICE");
        return NULL;
    }
    if (RAI_DeviceIsGPU(devicestr)) {
        RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR GPU device requested but this build of the engine has no GPU support");
        return NULL;
    }
    if (!source) {
        RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Insufficient arguments, missing script SOURCE");
        return NULL;
    }
    char msg[RAI_ERRLEN] = "";
    void *handle = ops->script_create(devicestr, source, entry_points, nentry_points, msg);
    if (!handle) {
        RAI_SetError(err, RAI_ESCRIPTCREATE, msg[0] ? msg : "ERR could not compile script");
        return NULL;
    }
    RAI_Script *s = RedisModule_Calloc(1, sizeof(*s));
    s->devicestr = RedisModule_Strdup(devicestr);
    if (tag) s->tag = RedisModule_HoldString(NULL, tag);
    s->source = RedisModule_Strdup(source);
    s->nentry_points = nentry_points;
    s->entry_points = RedisModule_Calloc(nentry_points ? nentry_points : 1, sizeof(char *));
    for (size_t i = 0; i < nentry_points; i++) s->entry_points[i] = RedisModule_Strdup(entry_points[i]);
    s->handle = handle;
    s->ops = ops;
    s->refcount = 1;
    return s;
}

RAI_Script *RAI_ScriptCreate(const char *devicestr, RedisModuleString *tag, const char *source,
                             RAI_Error *err) {
    return RAI_ScriptCompile(devicestr, tag, source, NULL, 0, err);
}

RAI_Script *RAI_ScriptGetShallowCopy(RAI_Script *script) {
    __atomic_add_fetch(&script->refcount, 1, __ATOMIC_RELAXED);
    return script;
}

void RAI_ScriptFree(RAI_Script *script, RAI_Error *err) {
    (void)err;
    if (!script) return;
    if (__atomic_sub_fetch(&script->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
    script->ops->script_free(script->handle);
    free_names(script->nentry_points, script->entry_points);
    if (script->tag) RedisModule_FreeString(NULL, script->tag);
    RAI_StatsRelease(script->stats);
    RedisModule_Free(script->devicestr);
    RedisModule_Free(script->source);
    RedisModule_Free(script);
}

int RAI_GetScriptFromKeyspace(RedisModuleCtx *ctx, RedisModuleString *keyName, RAI_Script **script,
                              int mode, RAI_Error *err) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, keyName, mode);
    int type = RedisModule_KeyType(key);
    if (type == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_EKEYEMPTY, "ERR script key is empty");
        return REDISMODULE_ERR;
    }
    if (type != REDISMODULE_KEYTYPE_MODULE || RedisModule_ModuleTypeGetType(key) != RAI_ScriptType) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_ESCRIPTRUN, REDISMODULE_ERRORMSG_WRONGTYPE);
        return REDISMODULE_ERR;
    }
    *script = RedisModule_ModuleTypeGetValue(key);
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}
