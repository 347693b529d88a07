/* module.c -- the Python host's entry point: module "rg".
 *
 * Arguments (all optional; the defaults are the interpreter and venv the
 * module was built against, or the runtime/ and venv/ beside an installed one):
 *   PYTHON_HOME <dir>   CPython's prefix (PyConfig.home)
 *   VENV <dir>          a venv whose site-packages flows can import
 *   RUNTIME <dir>       where gears_runtime.py lives
 *   PYTHONPATH <a:b>    extra entries for sys.path
 *   THREADS <n>         execution pool size (default 3; RedisGears' ExecutionThreads too)
 *   PythonAttemptTraceback <0|1>  error records of sync steps: the
 *                       traceback (1, the default) or 'Error type: ..., Value: ...'
 *   NUMPY_LEGACY_PRINT <0|1>  numpy prints as 1.x did inside flows (1, the
 *                       default; gears_numpy_print.py)
 * and RedisGears 1.2's arguments (spec §4, gears_config.py). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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

/* RedisGears 1.2's arguments that mean nothing here (no cluster, no
 * download, one environment): accepted, with a warning, so that its
 * redis.conf lines load; RG.CONFIGGET shows their values. */
static const char *const ignored_gears_args[] = {
    "MaxExecutionsPerRegistration", "ProfileExecutions", "ExecutionMaxIdleTime", "SendMsgRetries", "Plugin",
    "OverridePythonAllocators", "DownloadDeps", "ForeceDownloadDepsOnEnterprise", "DependenciesUrl",
    "DependenciesSha256", "PythonInstallationDir", "CreateVenv", "PythonInstallReqMaxIdleTime",
};

static int is_ignored_gears_arg(const char *name) {
    for (size_t i = 0; i < sizeof(ignored_gears_args) / sizeof(*ignored_gears_args); i++)
        if (!strcasecmp(name, ignored_gears_args[i])) return 1;
    return 0;
}

/* A whole number in [min, max], or -1. */
static long parse_count(const char *value, long min, long max) {
    char *end;
    long n = strtol(value, &end, 10);
    return *value && !*end && n >= min && n <= max ? n : -1;
}

/* Checks one argument and takes what C needs from it; the runtime
 * (gears_config.py) gets them all (host_config.args). */
static int parse_arg(RedisModuleCtx *ctx, const char *name, const char *value) {
    if (!strcasecmp(name, "PYTHON_HOME")) host_config.python_home = value;
    else if (!strcasecmp(name, "VENV")) host_config.venv = value;
    else if (!strcasecmp(name, "RUNTIME")) host_config.runtime_dir = value;
    else if (!strcasecmp(name, "PYTHONPATH")) host_config.python_path = value;
    else if (!strcasecmp(name, "REQUIREMENTS_DIR")) host_config.requirements_dir = value;
    else if (!strcasecmp(name, "REQUIREMENTS_INDEX")) host_config.requirements_index = value;
    else if (!strcasecmp(name, "THREADS") || !strcasecmp(name, "ExecutionThreads")) {
        long n = parse_count(value, 1, 256);
        if (n < 0) {
            RedisModule_Log(ctx, "warning", "rg: %s must be 1..256, got %s", name, value);
            return REDISMODULE_ERR;
        }
        host_config.threads = (int)n;
    } else if (!strcasecmp(name, "MaxExecutions")) {
        if (parse_count(value, 1, 1000000000) < 0) {
            RedisModule_Log(ctx, "warning", "rg: MaxExecutions must be a positive number, got %s", value);
            return REDISMODULE_ERR;
        }
    } else if (!strcasecmp(name, "PythonAttemptTraceback") || !strcasecmp(name, "NUMPY_LEGACY_PRINT")) {
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0) {
            RedisModule_Log(ctx, "warning", "rg: %s must be 0 or 1, got %s", name, value);
            return REDISMODULE_ERR;
        }
    } else if (is_ignored_gears_arg(name))
        RedisModule_Log(ctx, "warning", "rg: RedisGears argument %s %s is ignored by this host", name, value);
    else { /* RedisGears kept these for gearsConfigGet; a typo here would go unseen */
        RedisModule_Log(ctx, "warning", "rg: unknown argument %s", name);
        return REDISMODULE_ERR;
    }
    return REDISMODULE_OK;
}

static int parse_args(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc % 2) {
        RedisModule_Log(ctx, "warning", "rg: argument %s needs a value",
                        RedisModule_StringPtrLen(argv[argc - 1], NULL));
        return REDISMODULE_ERR;
    }
    host_config.args = calloc((size_t)argc + 1, sizeof(*host_config.args));
    if (!host_config.args) return REDISMODULE_ERR;
    for (int i = 0; i < argc; i++) host_config.args[i] = RedisModule_StringPtrLen(argv[i], NULL);
    host_config.nargs = argc;
    /* The strings of argv live as long as the module: Redis keeps them. */
    for (int i = 0; i < argc; i += 2)
        if (parse_arg(ctx, host_config.args[i], host_config.args[i + 1]) != REDISMODULE_OK) return REDISMODULE_ERR;
    return REDISMODULE_OK;
}

/* Runaway flows: how a flow that never ends is stopped.
 *
 * Nothing interrupts a running step from outside (CPython can not stop a
 * thread).  What that costs depends on where the step runs:
 * - async / async_local steps run on a pool thread.  A step that loops or
 *   blocks keeps that thread (one of THREADS) for good; the server goes on
 *   serving every client (the main thread never waits for a flow, and the
 *   GIL is handed over every few ms), other flows run on the other threads,
 *   and `async def` steps keep running on the loop thread.  Once all THREADS
 *   are stuck, new async executions queue and their clients stay blocked.
 * - sync steps run on Redis's main thread, and `with atomic():` holds the
 *   Redis lock: a step that never ends there stops the whole server.
 * To stop it, restart the server.  SHUTDOWN (or SIGTERM) exits at once
 * even with pool threads busy: they are not joined and the interpreter is
 * not finalized.  When the main thread is stuck (sync step, atomic block),
 * SHUTDOWN can not be read: send SIGTERM, then SIGINT (Redis's "You
 * insist... exiting now"), or SIGKILL.  Then fix the flow, and re-register it
 * (RG.PYEXECUTE with ID ... UPGRADE replaces a session's registrations). */

/* Redis fires the shutdown event once its data is saved, then exits with
 * exit(0).  exit() would run the destructors of every loaded library while
 * flows still run on pool threads, and some wait for threads that never end
 * (OpenBLAS joins its workers while a flow's matmul holds them: the process
 * hung there).  The last atexit handler registered runs first, so this one
 * ends the process before any destructor, after Redis's own clean-up. */
static void exit_now(void) { _exit(0); }

/* SHUTDOWN: stop handing out work.  Running flows are not joined, so a
 * runaway flow cannot keep the server from exiting; the interpreter is not
 * finalized either (threads may still be inside it when the process ends). */
static void on_shutdown(RedisModuleCtx *ctx, RedisModuleEvent e, uint64_t sub, void *data) {
    (void)ctx;
    (void)e;
    (void)sub;
    (void)data;
    Pool_Stop();
    LoopQ_Stop();
    MainQ_Stop();
    atexit(exit_now);
}

/* A load refused before the interpreter runs: Redis unloads this library,
 * so what the load allocated goes too (the eventfd stays: LoopQ_Start keeps
 * it for a later load).  Once CPython runs, its threads may hold what the
 * load made: the rarer refusals after that leave it. */
static int refuse_load(void) {
    HostAPI_Release();
    free(host_config.args);
    host_config.args = NULL;
    host_config.nargs = 0;
    return REDISMODULE_ERR;
}

RM_EXPORT int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RMAPI_Init(ctx, "rg", RG_VERSION_NUM, REDISMODULE_APIVER_1) != REDISMODULE_OK ||
        RMAPI_CheckServerVersion(ctx, "rg") != REDISMODULE_OK)
        return REDISMODULE_ERR;
    HostConfig_UseInstalledDirs();
    if (parse_args(ctx, argv, argc) != REDISMODULE_OK) return refuse_load();
    HostAPI_Init(ctx);
    if (LoopQ_Start() != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: could not make the loop thread's eventfd");
        return refuse_load();
    }
    const char *err = NULL;
    if (PyHost_Start(&err) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: %s (PYTHON_HOME=%s)", err, host_config.python_home);
        return refuse_load();
    }
    if (Pool_Start(host_config.threads) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: could not start the execution pool");
        return REDISMODULE_ERR;
    }
    if (Commands_Register(ctx) != REDISMODULE_OK || ToolingCommands_Register(ctx) != REDISMODULE_OK ||
        Requirements_Register(ctx) != REDISMODULE_OK)
        return REDISMODULE_ERR;
    if (ScriptStore_Start(ctx) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: could not register the aux-data type rg-pyhost");
        return REDISMODULE_ERR;
    }
    if (CommandHooks_Start(ctx) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: could not register the command hooks' filter");
        return REDISMODULE_ERR;
    }
    if (KeyEvents_Subscribe(ctx) != REDISMODULE_OK) {
        RedisModule_Log(ctx, "warning", "rg: could not subscribe to keyspace events");
        return REDISMODULE_ERR;
    }
    RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_Shutdown, on_shutdown);
    RedisModule_Log(ctx, "notice", "rg: Python host ready (home %s, venv %s, %d threads)",
                    host_config.python_home, host_config.venv ? host_config.venv : "-",
                    host_config.threads);
    return REDISMODULE_OK;
}

/* MODULE UNLOAD is refused: the interpreter, its threads and the flows keep
 * pointers into this library, and CPython can not be finalized and started
 * again in one process. */
RM_EXPORT int RedisModule_OnUnload(RedisModuleCtx *ctx) {
    RedisModule_Log(ctx, "warning", "rg: the Python host can not be unloaded; restart the server");
    return REDISMODULE_ERR;
}
