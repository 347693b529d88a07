/* module.c -- the engine's entry point: registers the module "ai", its data
 * types, commands, INFO sections and shared C API. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdio.h>
#include <sys/resource.h>

#include "../common/command_acl.h"
#include "../common/rm_api.h"
#include "../include/redisai.h"
#include "admin_commands.h"
#include "backends.h"
#include "config.h"
#include "dag_commands.h"
#include "model.h"
#include "model_commands.h"
#include "model_deprecated.h"
#include "run_queue.h"
#include "script.h"
#include "script_commands.h"
#include "script_ext.h"
#include "shared_api.h"
#include "size_limits.h"
#include "tensor_commands.h"
#include "tensor_type.h"

#ifndef REDISAI_EXT_VERSION
#define REDISAI_EXT_VERSION "1.3.0"
#endif
#ifndef REDISAI_EXT_VERSION_NUM
#define REDISAI_EXT_VERSION_NUM 10300
#endif
#ifndef GIT_SHA
#define GIT_SHA "unknown"
#endif

static void add_cpu_seconds(RedisModuleInfoCtx *ctx, const char *field, struct timeval tv) {
    char value[32];
    snprintf(value, sizeof(value), "%lld.%06ld", (long long)tv.tv_sec, (long)tv.tv_usec);
    RedisModule_InfoAddFieldCString(ctx, field, value);
}

/* INFO MODULES: RedisAI's five sections, in its order (tools pick them by
 * position as well as by name); our own fields end the section they belong
 * to. */
static void info_func(RedisModuleInfoCtx *ctx, int for_crash_report) {
    (void)for_crash_report;
    RedisModule_InfoAddSection(ctx, "versions");
    RedisModule_InfoAddFieldCString(ctx, "RedisAI_version", REDISAI_EXT_VERSION);
    RedisModule_InfoAddFieldLongLong(ctx, "low_level_API_version", REDISAI_LLAPI_VERSION);
    RedisModule_InfoAddFieldLongLong(ctx, "rdb_version", RAI_ENC_VER);

    RedisModule_InfoAddSection(ctx, "git");
    RedisModule_InfoAddFieldCString(ctx, "git_sha", GIT_SHA);

    RedisModule_InfoAddSection(ctx, "load_time_configs");
    RedisModule_InfoAddFieldLongLong(ctx, "threads_per_queue", RAI_config.threads_per_queue);
    RedisModule_InfoAddFieldLongLong(ctx, "inter_op_parallelism", RAI_config.inter_op_parallelism);
    RedisModule_InfoAddFieldLongLong(ctx, "intra_op_parallelism", RAI_config.intra_op_parallelism);
    RedisModule_InfoAddFieldLongLong(ctx, "model_execution_timeout", RAI_config.model_execution_timeout);
    RedisModule_InfoAddFieldLongLong(ctx, "backend_memory_limit", RAI_config.backend_memory_limit);
    RedisModule_InfoAddFieldCString(ctx, "backends_path", RAI_config.backends_path);
    RedisModule_InfoAddFieldLongLong(ctx, "worker_spin_us", RAI_config.worker_spin_us);
    RedisModule_InfoAddFieldLongLong(ctx, "values_reply_limit", RAI_config.values_reply_limit);

    RedisModule_InfoAddSection(ctx, "backends_info");
    RAI_BackendsInfo(ctx);

    /* The process's CPU time, as RedisAI reported it next to Redis's own,
     * the main thread's (INFO runs on it), and each worker thread's. */
    RedisModule_InfoAddSection(ctx, "cpu");
    struct rusage self, children, main_thread;
    /* The thread first: read after it, the process's time includes it. */
    getrusage(RUSAGE_THREAD, &main_thread);
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    add_cpu_seconds(ctx, "self_used_cpu_sys", self.ru_stime);
    add_cpu_seconds(ctx, "self_used_cpu_user", self.ru_utime);
    add_cpu_seconds(ctx, "children_used_cpu_sys", children.ru_stime);
    add_cpu_seconds(ctx, "children_used_cpu_user", children.ru_utime);
    add_cpu_seconds(ctx, "main_thread_used_cpu_sys", main_thread.ru_stime);
    add_cpu_seconds(ctx, "main_thread_used_cpu_user", main_thread.ru_utime);
    RAI_QueuesInfo(ctx);
}

/* ACL categories: code a user sends to be run by the server (models,
 * scripts) and the server's configuration (AI.CONFIG loads libraries from a
 * path it is given) are "dangerous"; running stored scripts is "scripting",
 * as EVALSHA and FCALL are. */
static const RMCommandSpec commands[] = {
    {"ai.tensorset", RAI_TensorSetCommand, "write deny-oom", 1, 1, 1, "write slow"},
    {"ai.tensorget", RAI_TensorGetCommand, "readonly", 1, 1, 1, "read slow"},
    {"ai.modelstore", RAI_ModelStoreCommand, "write deny-oom", 1, 1, 1, "write dangerous slow"},
    {"ai.modelset", RAI_ModelSetCommand, "write deny-oom", 1, 1, 1, "write dangerous slow"},
    {"ai.modelget", RAI_ModelGetCommand, "readonly", 1, 1, 1, "read slow"},
    {"ai.modeldel", RAI_ModelDelCommand, "write", 1, 1, 1, "write slow"},
    {"ai.modelexecute", RAI_ModelExecuteCommand, "write deny-oom getkeys-api", 4, 4, 1, "write slow"},
    {"ai.modelrun", RAI_ModelRunCommand, "write deny-oom getkeys-api", 3, 3, 1, "write slow"},
    {"ai._modelscan", RAI_ModelScanCommand, "readonly", 0, 0, 0, "read slow"},
    {"ai.scriptstore", RAI_ScriptStoreCommand, "write deny-oom", 1, 1, 1, "write dangerous scripting slow"},
    {"ai.scriptset", RAI_ScriptSetCommand, "write deny-oom", 1, 1, 1, "write dangerous scripting slow"},
    {"ai.scriptget", RAI_ScriptGetCommand, "readonly", 1, 1, 1, "read slow"},
    {"ai.scriptdel", RAI_ScriptDelCommand, "write", 1, 1, 1, "write scripting slow"},
    {"ai.scriptexecute", RAI_ScriptExecuteCommand, "write deny-oom getkeys-api", 5, 5, 1, "write scripting slow"},
    {"ai.scriptrun", RAI_ScriptRunCommand, "write deny-oom getkeys-api", 4, 4, 1, "write scripting slow"},
    {"ai._scriptscan", RAI_ScriptScanCommand, "readonly", 0, 0, 0, "read slow"},
    {"ai.dagexecute", RAI_DAGExecuteCommand, "write deny-oom getkeys-api", 3, 3, 1, "write scripting slow"},
    {"ai.dagexecute_ro", RAI_DAGExecuteROCommand, "readonly getkeys-api", 3, 3, 1, "read scripting slow"},
    {"ai.dagrun", RAI_DAGRunCommand, "write deny-oom getkeys-api", 3, 3, 1, "write scripting slow"},
    {"ai.dagrun_ro", RAI_DAGRunROCommand, "readonly getkeys-api", 3, 3, 1, "read scripting slow"},
    {"ai.info", RAI_InfoCommand, "readonly", 1, 1, 1, "read slow"},
    {"ai.config", RAI_ConfigCommand, "write", 0, 0, 0, "admin dangerous slow"},
};

RM_EXPORT int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RMAPI_Init(ctx, "ai", REDISAI_EXT_VERSION_NUM, REDISMODULE_APIVER_1) != REDISMODULE_OK ||
        RMAPI_CheckServerVersion(ctx, "ai") != REDISMODULE_OK)
        return REDISMODULE_ERR;
    if (RAI_ConfigLoad(ctx, argv, argc) != REDISMODULE_OK) return REDISMODULE_ERR;
    /* A malformed value (RESTORE of a crafted payload) must come back as an
     * error from our rdb_load, not make Redis panic inside RedisModule_Load*.
     * So every rdb_load of the module must check RedisModule_IsIOError. */
    RedisModule_SetModuleOptions(ctx, REDISMODULE_OPTIONS_HANDLE_IO_ERRORS);
    if (RAI_TensorTypeRegister(ctx) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "can not initialize tensor dt");
        return REDISMODULE_ERR;
    }
    if (RAI_ModelTypeRegister(ctx) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "can not initialize model dt");
        return REDISMODULE_ERR;
    }
    if (RAI_ScriptTypeRegister(ctx) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "can not initialize script dt");
        return REDISMODULE_ERR;
    }
    RAI_QueuesInit(ctx);
    if (RAI_QueueEnsure("CPU") != REDISMODULE_OK) return REDISMODULE_ERR;
    RAI_ScriptExtInit(ctx);
    RAI_SizeLimitsInit(ctx);
    if (RMCommand_CreateAll(ctx, commands, sizeof(commands) / sizeof(commands[0])) != REDISMODULE_OK)
        return REDISMODULE_ERR;
    for (int b = 0; b < RAI_BACKEND_COUNT; b++) {
        if (RAI_config.backend_at_start[b] &&
            RAI_LoadBackend(ctx, (RAI_Backend)b, RAI_config.backend_at_start[b]) != REDISMODULE_OK)
            return REDISMODULE_ERR;
    }
    RedisModule_RegisterInfoFunc(ctx, info_func);
    RAI_ExportSharedAPI(ctx);
    return REDISMODULE_OK;
}
