/* config.h -- engine settings from module arguments (and later AI.CONFIG). */
#ifndef ENGINE_CONFIG_H
#define ENGINE_CONFIG_H

#include "../common/rm_api.h"

typedef struct RAI_Config {
    char *backends_path;
    long long threads_per_queue;
    long long intra_op_parallelism;
    long long inter_op_parallelism;
    long long model_chunk_size;
    long long model_execution_timeout;
    long long backend_memory_limit;
    long long worker_spin_us; /* read by the workers without a lock */
    long long values_reply_limit; /* most elements an AI.TENSORGET VALUES reply may have (0: no limit) */
    char *backend_at_start[4]; /* TF|TFLITE|TORCH|ONNX <path> arguments */
} RAI_Config;

extern RAI_Config RAI_config;

#define RAI_MAX_WORKER_SPIN_US 100000
/* A VALUES reply of a million elements keeps the main thread ~10 ms. */
#define RAI_DEFAULT_VALUES_REPLY_LIMIT (1024 * 1024)

/* Sets defaults, then applies KEY VALUE module arguments.  Logs and returns
 * REDISMODULE_ERR on an odd count or a bad pair. */
int RAI_ConfigLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
