/* script_commands.c -- AI.SCRIPTSTORE, AI.SCRIPTSET (deprecated),
 * AI.SCRIPTGET, AI.SCRIPTDEL, AI._SCRIPTSCAN. */
#include <string.h>

#include "command_args.h"
#include "run_queue.h"
#include "script.h"
#include "script_commands.h"
#include "size_limits.h"

typedef struct {
    const char *device;
    RedisModuleString *tag;
    size_t nentry_points;
    const char **entry_points; /* point into argv */
    const char *source;
} StoreArgs;

/* Parses "[TAG tag]" at argv[3] and returns the index after it. */
static int parse_tag(RedisModuleString **argv, int argc, StoreArgs *a) {
    if (argc > 4 && RAI_ArgIs(argv[3], "TAG")) {
        a->tag = argv[4];
        return 5;
    }
    return 3;
}

/* SOURCE <script> must be the last two arguments; a NUL inside would cut
 * the script the backend compiles short of what SCRIPTGET returns. */
static int parse_source(RedisModuleString **argv, int argc, int i, StoreArgs *a, RAI_Error *err) {
    if (i + 2 != argc || !RAI_ArgIs(argv[i], "SOURCE")) {
        RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Insufficient arguments, missing script SOURCE");
        return 0;
    }
    size_t len;
    a->source = RedisModule_StringPtrLen(argv[i + 1], &len);
    if (strlen(a->source) != len) {
        RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR script SOURCE contains a null character");
        return 0;
    }
    return RAI_SizeAllowed("script", len, RAI_ESCRIPTCREATE, err);
}

/* NULL (an invalid device) when the argument holds a NUL byte. */
static const char *device_arg(RedisModuleString *arg) {
    return RAI_ArgHasNul(arg) ? NULL : RedisModule_StringPtrLen(arg, NULL);
}

/* key device [TAG tag] ENTRY_POINTS n name... SOURCE script */
static int parse_store(RedisModuleString **argv, int argc, StoreArgs *a, RAI_Error *err) {
    a->device = device_arg(argv[2]);
    int i = parse_tag(argv, argc, a);
    long long n;
    if (i >= argc || !RAI_ArgIs(argv[i], "ENTRY_POINTS"))
        return RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Insufficient arguments, missing script entry points"), 0;
    if (i + 1 >= argc || RedisModule_StringToLongLong(argv[i + 1], &n) != REDISMODULE_OK)
        return RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Non numeric entry points number provided to AI.SCRIPTSTORE command"), 0;
    i += 2;
    if (n <= 0 || n > argc - i)
        return RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Insufficient arguments, missing script entry points"), 0;
    a->entry_points = RedisModule_Calloc((size_t)n, sizeof(char *));
    for (; a->nentry_points < (size_t)n && !RAI_ArgIs(argv[i], "SOURCE"); i++) {
        size_t len;
        const char *name = RedisModule_StringPtrLen(argv[i], &len);
        if (memchr(name, '\0', len))
            return RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR entry point name contains a NUL byte"), 0;
        if (len == 0) /* libtorch's own text for it is an internal assertion */
            return RAI_SetError(err, RAI_ESCRIPTCREATE, "Function  does not exist in the given script."), 0;
        a->entry_points[a->nentry_points++] = name;
    }
    if (a->nentry_points != (size_t)n)
        return RAI_SetError(err, RAI_ESCRIPTCREATE, "ERR Insufficient arguments, missing script entry points"), 0;
    return parse_source(argv, argc, i, a, err);
}

static int key_holds_other_type(RedisModuleCtx *ctx, RedisModuleString *name) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ);
    int t = RedisModule_KeyType(key);
    int other = t != REDISMODULE_KEYTYPE_EMPTY &&
                !(t == REDISMODULE_KEYTYPE_MODULE && RedisModule_ModuleTypeGetType(key) == RAI_ScriptType);
    RedisModule_CloseKey(key);
    return other;
}

static RAI_Script *compile(RedisModuleCtx *ctx, StoreArgs *a, RAI_Error *err) {
    if (!RAI_BackendGet(RAI_BACKEND_TORCH)) {
        RedisModule_Log(ctx, "notice", "Backend TORCH not loaded, will try loading default backend");
        if (RAI_LoadDefaultBackend(ctx, RAI_BACKEND_TORCH) != REDISMODULE_OK) {
            RAI_SetError(err, RAI_EBACKENDNOTLOADED, "ERR Could not load backend");
            return NULL;
        }
    }
    return RAI_ScriptCompile(a->device, a->tag, a->source, a->entry_points, a->nentry_points, err);
}

/* Shared tail of SCRIPTSTORE and SCRIPTSET: compile, make sure the device's
 * queue exists, store under the key (replacing a script) and replicate. */
static int store(RedisModuleCtx *ctx, RedisModuleString **argv, int argc,
                 int (*parse)(RedisModuleString **, int, StoreArgs *, RAI_Error *)) {
    RAI_Error err = {0};
    StoreArgs a = {0};
    RAI_Script *s = NULL;
    if (key_holds_other_type(ctx, argv[1]))
        RAI_SetError(&err, RAI_ESCRIPTCREATE, REDISMODULE_ERRORMSG_WRONGTYPE);
    else if (parse(argv, argc, &a, &err) && (s = compile(ctx, &a, &err)) &&
             RAI_QueueEnsure(a.device) != REDISMODULE_OK)
        RAI_SetError(&err, RAI_ESCRIPTCREATE, "ERR Could not initialize queue on requested device");
    RedisModule_Free(a.entry_points);
    if (err.code != RAI_OK) {
        RAI_ScriptFree(s, NULL);
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    s->stats = RAI_StatsCreate(argv[1], RAI_RUN_SCRIPT, RAI_BACKEND_TORCH, s->devicestr, s->tag);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_WRITE);
    RedisModule_ModuleTypeSetValue(key, RAI_ScriptType, s);
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

int RAI_ScriptStoreCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 8) return RedisModule_WrongArity(ctx);
    return store(ctx, argv, argc, parse_store);
}

/* Deprecated: key device [TAG tag] SOURCE script, no entry points. */
static int parse_set(RedisModuleString **argv, int argc, StoreArgs *a, RAI_Error *err) {
    a->device = device_arg(argv[2]);
    return parse_source(argv, argc, parse_tag(argv, argc, a), a, err);
}

int RAI_ScriptSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 5) return RedisModule_WrongArity(ctx);
    return store(ctx, argv, argc, parse_set);
}

static int reply_lookup_error(RedisModuleCtx *ctx, RAI_Error *err) {
    RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(err));
    RAI_ClearError(err);
    return REDISMODULE_OK;
}

int RAI_ScriptGetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2 || argc > 4) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    RAI_Script *s;
    if (RAI_GetScriptFromKeyspace(ctx, argv[1], &s, REDISMODULE_READ, &err) != REDISMODULE_OK)
        return reply_lookup_error(ctx, &err);
    int meta = 0, source = 0;
    for (int i = 2; i < argc; i++) {
        if (RAI_ArgIs(argv[i], "META")) meta = 1;
        else if (RAI_ArgIs(argv[i], "SOURCE")) source = 1;
        else return RedisModule_ReplyWithError(ctx, "ERR unsupported data format");
    }
    if (!meta && !source) meta = source = 1;
    if (!meta) return RedisModule_ReplyWithCString(ctx, s->source);
    RedisModule_ReplyWithArray(ctx, source ? 8 : 6);
    RedisModule_ReplyWithCString(ctx, "device");
    RedisModule_ReplyWithCString(ctx, s->devicestr);
    RedisModule_ReplyWithCString(ctx, "tag");
    if (s->tag) RedisModule_ReplyWithString(ctx, s->tag);
    else RedisModule_ReplyWithCString(ctx, "");
    RedisModule_ReplyWithCString(ctx, "Entry Points");
    RedisModule_ReplyWithArray(ctx, (long)s->nentry_points);
    for (size_t i = 0; i < s->nentry_points; i++) RedisModule_ReplyWithCString(ctx, s->entry_points[i]);
    if (source) {
        RedisModule_ReplyWithCString(ctx, "source");
        RedisModule_ReplyWithCString(ctx, s->source);
    }
    return REDISMODULE_OK;
}

int RAI_ScriptDelCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    RAI_Script *s;
    if (RAI_GetScriptFromKeyspace(ctx, argv[1], &s, REDISMODULE_WRITE, &err) != REDISMODULE_OK)
        return reply_lookup_error(ctx, &err);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_WRITE);
    RedisModule_DeleteKey(key);
    RedisModule_CloseKey(key);
    RAI_StatsRemove(argv[1]);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

int RAI_ScriptScanCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    RedisModule_Log(ctx, "warning", "SCRIPTSCAN is experimental and might be removed in future versions");
    RAI_StatsReplyScan(ctx, RAI_RUN_SCRIPT);
    return REDISMODULE_OK;
}
