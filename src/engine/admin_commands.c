/* admin_commands.c -- AI.INFO (run statistics) and AI.CONFIG. */
#include "admin_commands.h"
#include "backends.h"
#include "command_args.h"
#include "config.h"
#include "stats.h"

int RAI_InfoCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2 && argc != 3) return RedisModule_WrongArity(ctx);
    RAI_RunStats *s = RAI_StatsGet(argv[1]);
    if (!s) return RedisModule_ReplyWithError(ctx, "ERR cannot find run info for key");
    if (argc == 3) {
        if (!RAI_ArgIs(argv[2], "RESETSTAT")) return RedisModule_ReplyWithError(ctx, "ERR unsupported subcommand");
        RAI_StatsReset(s);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    RedisModule_ReplyWithArray(ctx, 18);
    RedisModule_ReplyWithCString(ctx, "key");
    RedisModule_ReplyWithString(ctx, s->key);
    RedisModule_ReplyWithCString(ctx, "type");
    RedisModule_ReplyWithCString(ctx, s->type == RAI_RUN_MODEL ? "MODEL" : "SCRIPT");
    RedisModule_ReplyWithCString(ctx, "backend");
    RedisModule_ReplyWithCString(ctx, RAI_BackendName(s->backend));
    RedisModule_ReplyWithCString(ctx, "device");
    RedisModule_ReplyWithCString(ctx, s->devicestr);
    RedisModule_ReplyWithCString(ctx, "tag");
    if (s->tag) RedisModule_ReplyWithString(ctx, s->tag);
    else RedisModule_ReplyWithCString(ctx, "");
    RedisModule_ReplyWithCString(ctx, "duration");
    RedisModule_ReplyWithLongLong(ctx, __atomic_load_n(&s->duration_us, __ATOMIC_RELAXED));
    RedisModule_ReplyWithCString(ctx, "samples");
    RedisModule_ReplyWithLongLong(ctx, s->type == RAI_RUN_MODEL ? __atomic_load_n(&s->samples, __ATOMIC_RELAXED) : -1);
    RedisModule_ReplyWithCString(ctx, "calls");
    RedisModule_ReplyWithLongLong(ctx, __atomic_load_n(&s->calls, __ATOMIC_RELAXED));
    RedisModule_ReplyWithCString(ctx, "errors");
    RedisModule_ReplyWithLongLong(ctx, __atomic_load_n(&s->errors, __ATOMIC_RELAXED));
    return REDISMODULE_OK;
}

int RAI_ConfigCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2) return RedisModule_WrongArity(ctx);
    if (RAI_ArgIs(argv[1], "LOADBACKEND")) {
        if (argc != 4) return RedisModule_WrongArity(ctx);
        int b = RAI_BackendFromString(RedisModule_StringPtrLen(argv[2], NULL));
        if (b < 0) return RedisModule_ReplyWithError(ctx, "ERR unsupported backend");
        if (RAI_LoadBackend(ctx, (RAI_Backend)b, RedisModule_StringPtrLen(argv[3], NULL)) != REDISMODULE_OK)
            return RedisModule_ReplyWithError(ctx, "ERR error loading backend");
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (RAI_ArgIs(argv[1], "BACKENDSPATH")) {
        if (argc < 3) return RedisModule_ReplyWithError(ctx, "ERR BACKENDSPATH: missing path argument");
        RedisModule_Free(RAI_config.backends_path);
        RAI_config.backends_path = RedisModule_Strdup(RedisModule_StringPtrLen(argv[2], NULL));
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (RAI_ArgIs(argv[1], "MODEL_CHUNK_SIZE")) {
        long long v;
        if (argc < 3) return RedisModule_ReplyWithError(ctx, "ERR MODEL_CHUNK_SIZE: missing chunk size");
        if (RedisModule_StringToLongLong(argv[2], &v) != REDISMODULE_OK || v <= 0)
            return RedisModule_ReplyWithError(ctx, "ERR MODEL_CHUNK_SIZE: invalid chunk size");
        RAI_config.model_chunk_size = v;
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (RAI_ArgIs(argv[1], "WORKER_SPIN_US")) {
        long long v;
        if (argc < 3) return RedisModule_ReplyWithError(ctx, "ERR WORKER_SPIN_US: missing value");
        if (RedisModule_StringToLongLong(argv[2], &v) != REDISMODULE_OK || v < 0 || v > RAI_MAX_WORKER_SPIN_US)
            return RedisModule_ReplyWithError(ctx, "ERR WORKER_SPIN_US: invalid value (0 to 100000 microseconds)");
        __atomic_store_n(&RAI_config.worker_spin_us, v, __ATOMIC_RELAXED);
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (RAI_ArgIs(argv[1], "VALUES_REPLY_LIMIT")) {
        long long v;
        if (argc < 3) return RedisModule_ReplyWithError(ctx, "ERR VALUES_REPLY_LIMIT: missing value");
        if (RedisModule_StringToLongLong(argv[2], &v) != REDISMODULE_OK || v < 0)
            return RedisModule_ReplyWithError(ctx, "ERR VALUES_REPLY_LIMIT: invalid value (0: no limit, or a count)");
        RAI_config.values_reply_limit = v;
        return RedisModule_ReplyWithSimpleString(ctx, "OK");
    }
    if (RAI_ArgIs(argv[1], "GET")) {
        if (argc != 3) return RedisModule_WrongArity(ctx);
        if (RAI_ArgIs(argv[2], "BACKENDSPATH")) return RedisModule_ReplyWithCString(ctx, RAI_config.backends_path);
        if (RAI_ArgIs(argv[2], "MODEL_CHUNK_SIZE")) return RedisModule_ReplyWithLongLong(ctx, RAI_config.model_chunk_size);
        if (RAI_ArgIs(argv[2], "WORKER_SPIN_US")) return RedisModule_ReplyWithLongLong(ctx, RAI_config.worker_spin_us);
        if (RAI_ArgIs(argv[2], "VALUES_REPLY_LIMIT"))
            return RedisModule_ReplyWithLongLong(ctx, RAI_config.values_reply_limit);
        return RedisModule_ReplyWithNull(ctx);
    }
    return RedisModule_ReplyWithError(ctx, "ERR unsupported subcommand");
}
