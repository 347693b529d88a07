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
