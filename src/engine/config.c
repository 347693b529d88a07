/* config.c -- see config.h. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backends.h"
#include "config.h"

RAI_Config RAI_config;

/* <directory of this .so>/backends.  dladdr's name is copied before
 * dirname() touches it: dirname may rewrite its argument in place, and the
 * loader's own string must stay intact. */
static char *default_backends_path(void) {
    Dl_info info;
    if (!dladdr((void *)default_backends_path, &info) || !info.dli_fname) return RedisModule_Strdup("backends");
    char *copy = RedisModule_Strdup(info.dli_fname);
    const char *dir = dirname(copy);
    size_t n = strlen(dir) + sizeof("/backends");
    char *path = RedisModule_Alloc(n);
    snprintf(path, n, "%s/backends", dir);
    RedisModule_Free(copy);
    return path;
}

static int apply_pair(const char *key, RedisModuleString *val) {
    long long v;
    int is_num = RedisModule_StringToLongLong(val, &v) == REDISMODULE_OK;
    if (strcasecmp(key, "BACKENDSPATH") == 0) {
        RedisModule_Free(RAI_config.backends_path);
        RAI_config.backends_path = RedisModule_Strdup(RedisModule_StringPtrLen(val, NULL));
        return 1;
    }
    int backend = RAI_BackendFromString(key);
    if (backend >= 0) {
        RedisModule_Free(RAI_config.backend_at_start[backend]);
        RAI_config.backend_at_start[backend] = RedisModule_Strdup(RedisModule_StringPtrLen(val, NULL));
        return 1;
    }
    if (strcasecmp(key, "THREADS_PER_QUEUE") == 0 && is_num && v > 0) RAI_config.threads_per_queue = v;
    else if (strcasecmp(key, "INTRA_OP_PARALLELISM") == 0 && is_num && v > 0) RAI_config.intra_op_parallelism = v;
    else if (strcasecmp(key, "INTER_OP_PARALLELISM") == 0 && is_num && v > 0) RAI_config.inter_op_parallelism = v;
    else if (strcasecmp(key, "MODEL_CHUNK_SIZE") == 0 && is_num && v > 0) RAI_config.model_chunk_size = v;
    else if (strcasecmp(key, "MODEL_EXECUTION_TIMEOUT") == 0 && is_num && v >= 1000) RAI_config.model_execution_timeout = v;
    else if (strcasecmp(key, "BACKEND_MEMORY_LIMIT") == 0 && is_num && v >= 0) RAI_config.backend_memory_limit = v;
    else if (strcasecmp(key, "VALUES_REPLY_LIMIT") == 0 && is_num && v >= 0) RAI_config.values_reply_limit = v;
    else if (strcasecmp(key, "WORKER_SPIN_US") == 0 && is_num && v >= 0 && v <= RAI_MAX_WORKER_SPIN_US)
        RAI_config.worker_spin_us = v;
    else return 0;
    return 1;
}

/* A refused load: the module is unloaded, so what it allocated goes too. */
static int refuse_load(void) {
    RedisModule_Free(RAI_config.backends_path);
    RAI_config.backends_path = NULL;
    for (int b = 0; b < RAI_BACKEND_COUNT; b++) {
        RedisModule_Free(RAI_config.backend_at_start[b]);
        RAI_config.backend_at_start[b] = NULL;
    }
    return REDISMODULE_ERR;
}

int RAI_ConfigLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    RAI_config = (RAI_Config){
        .backends_path = default_backends_path(),
        .threads_per_queue = 1,
        .model_chunk_size = 511 * 1024 * 1024,
        .model_execution_timeout = 5000,
        .values_reply_limit = RAI_DEFAULT_VALUES_REPLY_LIMIT,
    };
    if (argc % 2 != 0) {
        RedisModule_Log(ctx, "warning",
                        "Even number of arguments provided to module. Please provide arguments as KEY VAL pairs");
        return refuse_load();
    }
    for (int i = 0; i < argc; i += 2) {
        const char *key = RedisModule_StringPtrLen(argv[i], NULL);
        if (!apply_pair(key, argv[i + 1])) {
            RedisModule_Log(ctx, "warning", "ERR error processing argument: %s %s", key,
                            RedisModule_StringPtrLen(argv[i + 1], NULL));
            return refuse_load();
        }
    }
    return REDISMODULE_OK;
}
