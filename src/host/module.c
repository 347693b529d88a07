/* module.c -- the Python host's entry point: module "rg".
 *
 * Arguments (all optional; the defaults are the interpreter and venv the
 * module was built against):
 *   PYTHON_HOME <dir>   CPython's prefix (PyConfig.home)
 *   VENV <dir>          a venv whose site-packages flows can import
 *   RUNTIME <dir>       where gears_runtime.py lives
 *   PYTHONPATH <a:b>    extra entries for sys.path
 *   THREADS <n>         execution pool size (default 3) */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"

#ifndef RG_DEFAULT_PYTHON_HOME
#error "RG_DEFAULT_PYTHON_HOME must be set by the build (src/host/host.mk)"
#endif

#define RG_VERSION_NUM 10200 /* the Gears API level flows expect (1.2) */

HostConfig host_config = {
    .python_home = RG_DEFAULT_PYTHON_HOME,
    .venv = RG_DEFAULT_VENV,
    .runtime_dir = RG_DEFAULT_RUNTIME,
    .python_path = NULL,
    .threads = 3,
};

static int parse_args(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    for (int i = 0; i < argc; i++) {
        const char *name = RedisModule_StringPtrLen(argv[i], NULL);
        if (i + 1 >= argc) {
            RedisModule_Log(ctx, "warning", "rg: argument %s needs a value", name);
            return REDISMODULE_ERR;
        }
        /* The strings of argv live as long as the module: Redis keeps them. */
        const char *value = RedisModule_StringPtrLen(argv[++i], NULL);
        if (!strcasecmp(name, "PYTHON_HOME")) host_config.python_home = value;
        else if (!strcasecmp(name, "VENV")) host_config.venv = value;
        else if (!strcasecmp(name, "RUNTIME")) host_config.runtime_dir = value;
        else if (!strcasecmp(name, "PYTHONPATH")) host_config.python_path = value;
        else if (!strcasecmp(name, "THREADS")) {
            char *end;
            long n = strtol(value, &end, 10);
            if (*end || n < 1 || n > 256) {
                RedisModule_Log(ctx, "warning", "rg: THREADS must be 1..256, got %s", value);
                return REDISMODULE_ERR;
            }
            host_config.threads = (int)n;
        } else {
            RedisModule_Log(ctx, "warning", "rg: unknown argument %s", name);
            return REDISMODULE_ERR;
        }
    }
    return REDISMODULE_OK;
}

/* SHUTDOWN: stop handing out work.  Running flows are not joined, so a
 * runaway flow cannot keep the server from exiting; the interpreter is not
 * finalized either (threads may still be inside it when the process ends). */
static void on_shutdown(RedisModuleCtx *ctx, RedisModuleEvent e, uint64_t sub, void *data) {
    (void)ctx;
    (void)e;
    (void)sub;
    (void)data;
    Pool_Stop();
}

RM_EXPORT int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RMAPI_Init(ctx, "rg", RG_VERSION_NUM, REDISMODULE_APIVER_1) != REDISMODULE_OK)
        return REDISMODULE_ERR;
    if (parse_args(ctx, argv, argc) != REDISMODULE_OK) return REDISMODULE_ERR;
    HostAPI_Init(ctx);
    const char *err = NULL;
    if (PyHost_Start(&err) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: %s (PYTHON_HOME=%s)", err, host_config.python_home);
        return REDISMODULE_ERR;
    }
    if (Pool_Start(host_config.threads) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: could not start the execution pool");
        return REDISMODULE_ERR;
    }
    if (Commands_Register(ctx) != REDISMODULE_OK) return REDISMODULE_ERR;
    RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_Shutdown, on_shutdown);
    RedisModule_Log(ctx, "notice", "rg: Python host ready (home %s, venv %s, %d threads)",
                    host_config.python_home, host_config.venv ? host_config.venv : "-",
                    host_config.threads);
    return REDISMODULE_OK;
}
