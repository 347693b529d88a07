/* rm_api.c -- storage and resolution of the entries declared in rm_api.h. */
#include "rm_api.h"

#define RM_DEFINE_ENTRY(ret, name, params) ret(*RedisModule_##name) params = NULL;
RM_API_LIST(RM_DEFINE_ENTRY)
#undef RM_DEFINE_ENTRY

int RMAPI_Init(RedisModuleCtx *ctx, const char *name, int ver, int apiver) {
    /* The server keeps its GetApi function in the first word of the context. */
    int (*get_api)(const char *, void *) = (int (*)(const char *, void *))((void **)ctx)[0];

#define RM_RESOLVE_ENTRY(ret, name, params) \
    get_api("RedisModule_" #name, (void *)&RedisModule_##name);
    RM_API_LIST(RM_RESOLVE_ENTRY)
#undef RM_RESOLVE_ENTRY

    if (!RedisModule_SetModuleAttribs || !RedisModule_CreateCommand || !RedisModule_Alloc)
        return REDISMODULE_ERR;
    if (RedisModule_IsModuleNameBusy && RedisModule_IsModuleNameBusy(name))
        return REDISMODULE_ERR;
    RedisModule_SetModuleAttribs(ctx, name, ver, apiver);
    return REDISMODULE_OK;
}

int RMAPI_ServerVersionSupported(int version) { return version >= RMAPI_MIN_SERVER_VERSION; }

int RMAPI_CheckServerVersion(RedisModuleCtx *ctx, const char *module) {
    if (!RedisModule_GetServerVersion) {
        RedisModule_Log(ctx, "warning", "%s: needs Redis 7.0 or newer, and this server is older than 6.0.9: not loading",
                        module);
        return REDISMODULE_ERR;
    }
    int version = RedisModule_GetServerVersion();
    if (RMAPI_ServerVersionSupported(version)) return REDISMODULE_OK;
    RedisModule_Log(ctx, "warning", "%s: needs Redis 7.0 or newer, and this server is %d.%d.%d: not loading", module,
                    (version >> 16) & 0xff, (version >> 8) & 0xff, version & 0xff);
    return REDISMODULE_ERR;
}
