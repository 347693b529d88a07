/* script_type.c -- AI_SCRIPT: RDB (RedisAI layouts v0-v4) and AOF. */
#include <string.h>

#include "backends.h"
#include "rdb_cstring.h"
#include "script.h"
#include "tensor_type.h"

RedisModuleType *RAI_ScriptType = NULL;

/* v4: device, tag, source, n entry points, entry points. */
static void script_rdb_save(RedisModuleIO *io, void *value) {
    RAI_Script *s = value;
    RAI_SaveCString(io, s->devicestr);
    if (s->tag) RedisModule_SaveString(io, s->tag);
    else RedisModule_SaveStringBuffer(io, "", 0);
    RAI_SaveCString(io, s->source);
    RedisModule_SaveUnsigned(io, s->nentry_points);
    for (size_t i = 0; i < s->nentry_points; i++) RAI_SaveCString(io, s->entry_points[i]);
}

/* More entry points than any script has: the value is corrupt. */
#define MAX_ENTRY_POINTS 65536

static void *script_rdb_load(RedisModuleIO *io, int encver) {
    if (encver < 0 || encver > RAI_ENC_VER) {
        RedisModule_LogIOError(io, "warning", "AI_SCRIPT: unsupported encoding version %d", encver);
        return NULL;
    }
    char *device = RAI_LoadCString(io);
    RedisModuleString *tag = RAI_LoadTag(io, encver);
    char *source = RAI_LoadCString(io);
    size_t n = encver >= 3 ? RedisModule_LoadUnsigned(io) : 0; /* entry points came with v3 */
    /* A corrupt count (a crafted RESTORE payload) must not become a huge
     * allocation: past MAX_ENTRY_POINTS nothing is loaded and the value is
     * refused below. */
    size_t loaded = 0;
    char **entries = RedisModule_Calloc(n && n <= MAX_ENTRY_POINTS ? n : 1, sizeof(char *));
    while (n <= MAX_ENTRY_POINTS && loaded < n && (entries[loaded] = RAI_LoadCString(io))) loaded++;
    RAI_Script *s = NULL;
    RAI_Error err = {0};
    if (!device || !tag || !source || loaded != n || RedisModule_IsIOError(io)) {
        RedisModule_LogIOError(io, "warning", "AI_SCRIPT: corrupt script in RDB");
    } else {
        if (RAI_LoadDefaultBackend(NULL, RAI_BACKEND_TORCH) != REDISMODULE_OK)
            RedisModule_LogIOError(io, "warning", "Could not load default backend");
        size_t taglen;
        RedisModule_StringPtrLen(tag, &taglen);
        s = RAI_ScriptCompile(device, taglen ? tag : NULL, source, (const char **)entries, n, &err);
        if (!s) RedisModule_LogIOError(io, "warning", "AI_SCRIPT: %s", RAI_GetError(&err));
    }
    if (s && RedisModule_GetKeyNameFromIO) {
        const RedisModuleString *key = RedisModule_GetKeyNameFromIO(io);
        if (key)
            s->stats = RAI_StatsCreate((RedisModuleString *)key, RAI_RUN_SCRIPT, RAI_BACKEND_TORCH, device, s->tag);
    }
    RAI_ClearError(&err);
    for (size_t i = 0; i < loaded; i++) RedisModule_Free(entries[i]);
    RedisModule_Free(entries);
    if (tag) RedisModule_FreeString(NULL, tag);
    RedisModule_Free(device);
    RedisModule_Free(source);
    return s;
}

/* AI.SCRIPTSTORE key device TAG tag ENTRY_POINTS n names... SOURCE src.
 * A script without entry points (AI.SCRIPTSET, an old RDB) cannot be written
 * that way (ENTRY_POINTS 0 is refused), so it is emitted as AI.SCRIPTSET. */
static void script_aof_rewrite(RedisModuleIO *aof, RedisModuleString *key, void *value) {
    RAI_Script *s = value;
    size_t n = 0, cap = 8 + s->nentry_points;
    RedisModuleString **argv = RedisModule_Alloc(sizeof(*argv) * cap);
#define ADD_C(str) argv[n++] = RedisModule_CreateString(NULL, (str), strlen(str))
    ADD_C(s->devicestr);
    ADD_C("TAG");
    argv[n++] = s->tag ? RedisModule_HoldString(NULL, s->tag) : RedisModule_CreateString(NULL, "", 0);
    if (s->nentry_points > 0) {
        ADD_C("ENTRY_POINTS");
        argv[n++] = RedisModule_CreateStringFromLongLong(NULL, (long long)s->nentry_points);
        for (size_t i = 0; i < s->nentry_points; i++) ADD_C(s->entry_points[i]);
    }
    ADD_C("SOURCE");
    ADD_C(s->source);
#undef ADD_C
    RedisModule_EmitAOF(aof, s->nentry_points > 0 ? "AI.SCRIPTSTORE" : "AI.SCRIPTSET", "sv", key, argv, n);
    for (size_t i = 0; i < n; i++) RedisModule_FreeString(NULL, argv[i]);
    RedisModule_Free(argv);
}

static size_t script_mem_usage(const void *value) {
    const RAI_Script *s = value;
    size_t n = sizeof(*s) + strlen(s->source) + 1 + strlen(s->devicestr) + 1;
    for (size_t i = 0; i < s->nentry_points; i++) n += sizeof(char *) + strlen(s->entry_points[i]) + 1;
    return n;
}

static void script_free(void *value) { RAI_ScriptFree(value, NULL); }

int RAI_ScriptTypeRegister(RedisModuleCtx *ctx) {
    RedisModuleTypeMethods tm = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = script_rdb_load,
        .rdb_save = script_rdb_save,
        .aof_rewrite = script_aof_rewrite,
        .mem_usage = script_mem_usage,
        .free = script_free,
    };
    RAI_ScriptType = RedisModule_CreateDataType(ctx, "AI_SCRIPT", RAI_ENC_VER, &tm);
    return RAI_ScriptType ? REDISMODULE_OK : REDISMODULE_ERR;
}
