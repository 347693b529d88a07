/* backends.c -- dlopen of backend libraries (RTLD_LOCAL), one per runtime. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "backends.h"
#include "config.h"
#include "run_queue.h"
#include "script_ext.h"

static const struct {
    const char *name; /* as in commands and INFO */
    const char *dir;  /* redisai_<dir>/redisai_<dir>.so under BACKENDSPATH */
    const char *info; /* INFO field: ai_<info>_version */
} backend_names[RAI_BACKEND_COUNT] = {
    [RAI_BACKEND_TF] = {"TF", "tensorflow", "TensorFlow"},
    [RAI_BACKEND_TFLITE] = {"TFLITE", "tflite", "TensorFlowLite"},
    [RAI_BACKEND_TORCH] = {"TORCH", "torch", "Torch"},
    [RAI_BACKEND_ONNX] = {"ONNX", "onnxruntime", "onnxruntime"},
};

static const RAI_BackendOps *loaded[RAI_BACKEND_COUNT];

int RAI_BackendFromString(const char *name) {
    for (int i = 0; i < RAI_BACKEND_COUNT; i++)
        if (strcasecmp(name, backend_names[i].name) == 0) return i;
    return -1;
}

const char *RAI_BackendName(RAI_Backend b) { return backend_names[b].name; }
const RAI_BackendOps *RAI_BackendGet(RAI_Backend b) { return loaded[b]; }

static RAI_Tensor *engine_tensor_new(RAI_DTypeId dt, const long long *dims, int ndims) {
    return RAI_TensorNew(dt, dims, ndims);
}
static void *engine_alloc(size_t n) { return RedisModule_Alloc(n); }
static void engine_free(void *p) { RedisModule_Free(p); }
static void engine_log(const char *level, const char *msg) { RedisModule_Log(NULL, level, "%s", msg); }

static const RAI_EngineOps engine_ops = {
    .tensor_new = engine_tensor_new,
    .tensor_wrap = RAI_TensorNewBorrowed,
    .tensor_free = RAI_TensorFree,
    .alloc = engine_alloc,
    .free = engine_free,
    .log = engine_log,
    .execute = RAI_ScriptExtExecute,
    .reply_free = RAI_ScriptExtReplyFree,
    .model_execute = RAI_ScriptExtModelExecute,
};

int RAI_LoadBackend(RedisModuleCtx *ctx, RAI_Backend b, const char *path) {
    if (loaded[b]) {
        RedisModule_Log(ctx, "warning", "Could not load %s backend: backend already loaded",
                        backend_names[b].name);
        return REDISMODULE_OK;
    }
    char full[4096];
    if (path[0] == '/') snprintf(full, sizeof(full), "%s", path);
    else snprintf(full, sizeof(full), "%s/%s", RAI_config.backends_path, path);
    void *lib = dlopen(full, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        RedisModule_Log(ctx, "warning", "Could not load %s backend from %s: %s", backend_names[b].name,
                        full, dlerror());
        return REDISMODULE_ERR;
    }
    RAI_BackendGetOpsFn get_ops = (RAI_BackendGetOpsFn)dlsym(lib, "RAI_BackendGetOps");
    const RAI_BackendOps *ops = get_ops ? get_ops() : NULL;
    char err[RAI_ERRLEN] = "";
    RAI_BackendConfig cfg = {
        .intra_op_parallelism = RAI_config.intra_op_parallelism,
        .inter_op_parallelism = RAI_config.inter_op_parallelism,
        .backend_memory_limit = RAI_config.backend_memory_limit,
        .model_execution_timeout = RAI_config.model_execution_timeout,
    };
    if (!ops || ops->abi_version != RAI_BACKEND_ABI_VERSION) {
        RedisModule_Log(ctx, "warning", "Backend does not export RAI_BackendGetOps. %s backend was not loaded from %s",
                        backend_names[b].name, full);
        dlclose(lib);
        return REDISMODULE_ERR;
    }
    if (!ops->name || strcasecmp(ops->name, backend_names[b].name) != 0) {
        /* One entry point for every backend: the library says which it is. */
        RedisModule_Log(ctx, "warning", "%s is the %s backend, not %s: not loaded", full,
                        ops->name ? ops->name : "(unnamed)", backend_names[b].name);
        dlclose(lib);
        return REDISMODULE_ERR;
    }
    if (ops->init(&engine_ops, &cfg, err) != 0) {
        RedisModule_Log(ctx, "warning", "Could not initialize %s backend: %s", backend_names[b].name, err);
        dlclose(lib);
        return REDISMODULE_ERR;
    }
    loaded[b] = ops; /* the library stays loaded for the life of the process */
    RedisModule_Log(ctx, "notice", "%s backend loaded from %s", backend_names[b].name, full);
    return REDISMODULE_OK;
}

int RAI_LoadDefaultBackend(RedisModuleCtx *ctx, RAI_Backend b) {
    if (loaded[b]) return REDISMODULE_OK;
    char rel[256];
    snprintf(rel, sizeof(rel), "redisai_%s/redisai_%s.so", backend_names[b].dir, backend_names[b].dir);
    return RAI_LoadBackend(ctx, b, rel);
}

static void add_info_field(void *ctx, const char *field, long long value) {
    RedisModule_InfoAddFieldLongLong(ctx, field, value);
}

void RAI_BackendsInfo(RedisModuleInfoCtx *ctx) {
    for (int b = 0; b < RAI_BACKEND_COUNT; b++) {
        if (!loaded[b]) continue;
        char field[64];
        snprintf(field, sizeof(field), "%s_version", backend_names[b].info);
        RedisModule_InfoAddFieldCString(ctx, field, loaded[b]->version());
        if (loaded[b]->info) loaded[b]->info(add_info_field, ctx);
        if (b == RAI_BACKEND_ONNX) {
            /* RedisAI's table of ONNX runs in progress has a slot per worker
             * thread; ours is a list, and the same number bounds the runs
             * the queues start at once. */
            RedisModule_InfoAddFieldLongLong(ctx, "onnxruntime_maximum_run_sessions_number", RAI_QueuesWorkers());
        }
    }
}
