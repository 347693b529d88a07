/* llapi_test_module.c -- a consumer of the engine's shared C API, loaded
 * beside the engine by the tests.  It resolves the RedisAI_* entries the way
 * a third-party module does (RedisModule_GetSharedAPI, lazily, so load order
 * does not matter) and exposes commands that exercise them:
 *
 *   LLAPI.BIND               -> number of entries resolved, or an error
 *   LLAPI.TENSOR_LIFECYCLE   -> OK, or the name of the first failed check
 *   LLAPI.STORE key          -> stores an INT32 [2,2] tensor {1,2,3,4} made
 *                               through the API under `key`
 *   LLAPI.READ key           -> the key's tensor values read through the API
 */
#include <stdio.h>
#include <string.h>

#include "../../src/common/rm_api.h"
#include "../../src/include/redisai.h"

#define DECLARE_ENTRY(ret, name, params) static ret(*RedisAI_##name) params;
REDISAI_API_LIST_CORE(DECLARE_ENTRY)
#undef DECLARE_ENTRY

static int bound = 0;

static int bind_api(RedisModuleCtx *ctx) {
    if (bound) return 1;
    int n = 0;
#define RESOLVE_ENTRY(ret, name, params)                                           \
    RedisAI_##name = RedisModule_GetSharedAPI(ctx, "RedisAI_" #name);              \
    if (!RedisAI_##name) return 0;                                                 \
    n++;
    REDISAI_API_LIST_CORE(RESOLVE_ENTRY)
#undef RESOLVE_ENTRY
    if (RedisAI_GetLLAPIVersion() < REDISAI_LLAPI_VERSION) return 0;
    bound = n;
    return 1;
}

#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) return RedisModule_ReplyWithError(ctx, "ERR check failed: " #cond); \
    } while (0)

static int cmd_bind(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    if (!bind_api(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    return RedisModule_ReplyWithLongLong(ctx, bound);
}

static int cmd_tensor_lifecycle(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    if (!bind_api(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");

    long long dims[] = {2, 3};
    CHECK(RedisAI_TensorCreate("NOSUCHTYPE", dims, 2) == NULL);
    RAI_Tensor *t = RedisAI_TensorCreate("float", dims, 2);
    CHECK(t != NULL);
    CHECK(RedisAI_TensorNumDims(t) == 2 && RedisAI_TensorDim(t, 0) == 2 && RedisAI_TensorDim(t, 1) == 3);
    CHECK(RedisAI_TensorLength(t) == 6 && RedisAI_TensorDataSize(t) == 4);
    CHECK(RedisAI_TensorByteSize(t) == 24);
    double d;
    CHECK(RedisAI_TensorGetValueAsDouble(t, 5, &d) == 1 && d == 0.0); /* zero-filled */

    float vals[6] = {1.5f, 2, 3, 4, 5, 6};
    CHECK(RedisAI_TensorSetData(t, (const char *)vals, 23) == 0); /* wrong length refused */
    CHECK(RedisAI_TensorSetData(t, (const char *)vals, sizeof(vals)) == 1);
    CHECK(memcmp(RedisAI_TensorData(t), vals, sizeof(vals)) == 0);
    CHECK(RedisAI_TensorGetValueAsDouble(t, 0, &d) == 1 && d == 1.5);
    CHECK(RedisAI_TensorSetValueFromDouble(t, 1, 7.25) == 1);
    CHECK(RedisAI_TensorGetValueAsDouble(t, 1, &d) == 1 && d == 7.25);
    long long ll;
    CHECK(RedisAI_TensorGetValueAsLongLong(t, 0, &ll) == 0); /* float: not a long long */

    /* A shallow copy is the same object; each reference is freed once. */
    RAI_Tensor *copy = RedisAI_TensorGetShallowCopy(t);
    CHECK(copy == t);
    RedisAI_TensorFree(copy);
    CHECK(RedisAI_TensorGetValueAsDouble(t, 1, &d) == 1 && d == 7.25); /* still alive */

    RAI_Tensor *rows = RedisAI_TensorCreateBySlicingTensor(t, 1, 1);
    CHECK(rows && RedisAI_TensorDim(rows, 0) == 1 && RedisAI_TensorDim(rows, 1) == 3);
    CHECK(RedisAI_TensorGetValueAsDouble(rows, 0, &d) == 1 && d == 4.0);
    RAI_Tensor *parts[] = {t, rows};
    RAI_Tensor *cat = RedisAI_TensorCreateByConcatenatingTensors(parts, 2);
    CHECK(cat && RedisAI_TensorDim(cat, 0) == 3);
    CHECK(RedisAI_TensorGetValueAsDouble(cat, 6, &d) == 1 && d == 4.0);
    RedisAI_TensorFree(cat);
    RedisAI_TensorFree(rows);
    RedisAI_TensorFree(t);

    RAI_Tensor *b = RedisAI_TensorCreate("BOOL", dims, 1);
    CHECK(RedisAI_TensorSetData(b, "\x01\x02", 2) == 0); /* BOOL must be 0/1 */
    CHECK(RedisAI_TensorSetValueFromLongLong(b, 1, 1) == 1);
    CHECK(RedisAI_TensorGetValueAsLongLong(b, 1, &ll) == 1 && ll == 1);
    RedisAI_TensorFree(b);

    RAI_Tensor *s = RedisAI_TensorCreate("STRING", dims, 1);
    CHECK(RedisAI_TensorSetData(s, "ab\0c\0", 5) == 1);
    CHECK(RedisAI_TensorSetData(s, "ab\0", 3) == 0); /* one element, two expected */
    CHECK(RedisAI_TensorGetValueAsLongLong(s, 0, &ll) == 0);
    CHECK(RedisAI_TensorByteSize(s) == 5);
    /* STRING rows: sliced and joined by their strings, whatever their sizes */
    long long grid[] = {2, 2};
    RAI_Tensor *g = RedisAI_TensorCreate("STRING", grid, 2);
    CHECK(RedisAI_TensorSetData(g, "a\0bb\0\0ccc\0", 10) == 1);
    RAI_Tensor *row = RedisAI_TensorCreateBySlicingTensor(g, 1, 1);
    CHECK(row && RedisAI_TensorDim(row, 0) == 1 && RedisAI_TensorDim(row, 1) == 2);
    CHECK(RedisAI_TensorByteSize(row) == 5 && memcmp(RedisAI_TensorData(row), "\0ccc\0", 5) == 0);
    RAI_Tensor *strs[] = {row, g};
    RAI_Tensor *joined = RedisAI_TensorCreateByConcatenatingTensors(strs, 2);
    CHECK(joined && RedisAI_TensorDim(joined, 0) == 3 && RedisAI_TensorLength(joined) == 6);
    CHECK(RedisAI_TensorByteSize(joined) == 15 && memcmp(RedisAI_TensorData(joined), "\0ccc\0a\0bb\0\0ccc\0", 15) == 0);
    RAI_Tensor *f = RedisAI_TensorCreate("FLOAT", dims, 1);
    RAI_Tensor *mixed[] = {s, f};
    CHECK(RedisAI_TensorCreateByConcatenatingTensors(mixed, 2) == NULL); /* STRING with FLOAT */
    RedisAI_TensorFree(f);
    RedisAI_TensorFree(joined);
    RedisAI_TensorFree(row);
    RedisAI_TensorFree(g);
    RedisAI_TensorFree(s);

    RAI_Error *err;
    CHECK(RedisAI_InitError(&err) == REDISMODULE_OK);
    CHECK(RedisAI_GetErrorCode(err) == RedisAI_ErrorCode_OK);
    RedisAI_FreeError(err);
    RedisAI_TensorFree(NULL);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_store(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    if (!bind_api(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    long long dims[] = {2, 2};
    RAI_Tensor *t = RedisAI_TensorCreate("INT32", dims, 2);
    for (int i = 0; i < 4; i++) RedisAI_TensorSetValueFromLongLong(t, i, i + 1);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_WRITE);
    if (RedisModule_KeyType(key) != REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        RedisAI_TensorFree(t);
        return RedisModule_ReplyWithError(ctx, "ERR key exists");
    }
    RedisModule_ModuleTypeSetValue(key, RedisAI_TensorRedisType(), t);
    RedisModule_CloseKey(key);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_read(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    if (!bind_api(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
    if (RedisModule_KeyType(key) != REDISMODULE_KEYTYPE_MODULE ||
        RedisModule_ModuleTypeGetType(key) != RedisAI_TensorRedisType()) {
        RedisModule_CloseKey(key);
        return RedisModule_ReplyWithError(ctx, "ERR not a tensor");
    }
    RAI_Tensor *t = RedisModule_ModuleTypeGetValue(key);
    size_t n = RedisAI_TensorLength(t);
    RedisModule_ReplyWithArray(ctx, (long)n);
    for (size_t i = 0; i < n; i++) {
        long long v;
        double d;
        if (RedisAI_TensorGetValueAsLongLong(t, (long long)i, &v))
            RedisModule_ReplyWithLongLong(ctx, v);
        else if (RedisAI_TensorGetValueAsDouble(t, (long long)i, &d))
            RedisModule_ReplyWithDouble(ctx, d);
        else
            RedisModule_ReplyWithNull(ctx);
    }
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}

/* ---- scripts: the REDISAI_API_LIST_SCRIPTS entries ----
 *   LLAPI.SCRIPT_BIND                 -> number of script entries resolved
 *   LLAPI.SCRIPT_RUN key fn t...      -> runs fn of the script at `key` on the
 *                                        tensors at t... synchronously, replies
 *                                        with output 0's values
 *   LLAPI.SCRIPT_RUN_ASYNC key fn t...-> the same through RedisAI_ScriptRunAsync
 *                                        (the client is blocked meanwhile)
 *   LLAPI.SCRIPT_CREATE_RUN device source fn t...
 *                                     -> compiles `source` with RedisAI_ScriptCreate,
 *                                        runs fn, frees the script; on an engine
 *                                        error replies [code, text] */
#define DECLARE_SCRIPT_ENTRY(ret, name, params) static ret(*RedisAI_##name) params;
REDISAI_API_LIST_SCRIPTS(DECLARE_SCRIPT_ENTRY)
#undef DECLARE_SCRIPT_ENTRY

static int scripts_bound = 0;

static int bind_scripts(RedisModuleCtx *ctx) {
    if (scripts_bound) return 1;
    if (!bind_api(ctx)) return 0;
    int n = 0;
#define RESOLVE_SCRIPT_ENTRY(ret, name, params)                                    \
    RedisAI_##name = RedisModule_GetSharedAPI(ctx, "RedisAI_" #name);              \
    if (!RedisAI_##name) return 0;                                                 \
    n++;
    REDISAI_API_LIST_SCRIPTS(RESOLVE_SCRIPT_ENTRY)
#undef RESOLVE_SCRIPT_ENTRY
    scripts_bound = n;
    return 1;
}

static int cmd_script_bind(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    if (!bind_scripts(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    return RedisModule_ReplyWithLongLong(ctx, scripts_bound);
}

static RAI_Tensor *tensor_at(RedisModuleCtx *ctx, RedisModuleString *name) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ);
    RAI_Tensor *t = NULL;
    if (RedisModule_KeyType(key) == REDISMODULE_KEYTYPE_MODULE &&
        RedisModule_ModuleTypeGetType(key) == RedisAI_TensorRedisType())
        t = RedisModule_ModuleTypeGetValue(key);
    RedisModule_CloseKey(key);
    return t;
}

/* Adds the tensors at argv[first..]: the first one alone, the rest as a list
 * (both calls append positional inputs).  0 if a key holds no tensor. */
static int add_inputs(RedisModuleCtx *ctx, RAI_ScriptRunCtx *sctx, RedisModuleString **argv, int first,
                      int argc, RAI_Error *err) {
    RAI_Tensor *list[16];
    int n = 0;
    for (int i = first; i < argc; i++) {
        RAI_Tensor *t = tensor_at(ctx, argv[i]);
        if (!t || n == 16) return 0;
        if (i == first) {
            if (RedisAI_ScriptRunCtxAddInput(sctx, t, err) != 1) return 0;
        } else {
            list[n++] = t;
        }
    }
    return n == 0 || RedisAI_ScriptRunCtxAddInputList(sctx, list, (size_t)n, err) == 1;
}

static void reply_values(RedisModuleCtx *ctx, RAI_Tensor *t) {
    size_t n = RedisAI_TensorLength(t);
    RedisModule_ReplyWithArray(ctx, (long)n);
    for (size_t i = 0; i < n; i++) {
        double d;
        long long v;
        if (RedisAI_TensorGetValueAsDouble(t, (long long)i, &d)) RedisModule_ReplyWithDouble(ctx, d);
        else if (RedisAI_TensorGetValueAsLongLong(t, (long long)i, &v)) RedisModule_ReplyWithLongLong(ctx, v);
        else RedisModule_ReplyWithNull(ctx);
    }
}

/* Runs sctx synchronously, replies with output 0 (kept through a shallow
 * copy after the context is gone), frees sctx. */
static int run_and_reply(RedisModuleCtx *ctx, RAI_ScriptRunCtx *sctx, RAI_Error *err) {
    if (RedisAI_ScriptRunCtxAddOutput(sctx) != 1) return RedisModule_ReplyWithError(ctx, "ERR AddOutput failed");
    if (RedisAI_ScriptRun(sctx, err) != REDISMODULE_OK) {
        RedisAI_ScriptRunCtxFree(sctx);
        return RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err));
    }
    CHECK(RedisAI_ScriptRunCtxNumOutputs(sctx) == 1);
    CHECK(RedisAI_ScriptRunCtxOutputTensor(sctx, 1) == NULL);
    RAI_Tensor *out = RedisAI_TensorGetShallowCopy(RedisAI_ScriptRunCtxOutputTensor(sctx, 0));
    RedisAI_ScriptRunCtxFree(sctx);
    reply_values(ctx, out);
    RedisAI_TensorFree(out);
    return REDISMODULE_OK;
}

static int cmd_script_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 3) return RedisModule_WrongArity(ctx);
    if (!bind_scripts(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    RAI_Error *err;
    RedisAI_InitError(&err);
    RAI_Script *script;
    int rc;
    if (RedisAI_GetScriptFromKeyspace(ctx, argv[1], &script, REDISMODULE_READ, err) != REDISMODULE_OK) {
        rc = RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err));
    } else {
        RAI_ScriptRunCtx *sctx = RedisAI_ScriptRunCtxCreate(script, RedisModule_StringPtrLen(argv[2], NULL));
        if (!add_inputs(ctx, sctx, argv, 3, argc, err)) {
            RedisAI_ScriptRunCtxFree(sctx);
            rc = RedisModule_ReplyWithError(ctx, "ERR not a tensor");
        } else {
            rc = run_and_reply(ctx, sctx, err);
        }
    }
    RedisAI_FreeError(err);
    return rc;
}

typedef struct {
    RedisModuleBlockedClient *bc;
    RAI_ScriptRunCtx *sctx;
    RAI_Error *err;
} AsyncRun;

/* Engine worker thread: take the context back, then wake the client. */
static void on_script_done(RAI_OnFinishCtx *finish, void *private_data) {
    AsyncRun *run = private_data;
    run->sctx = RedisAI_GetAsScriptRunCtx(finish, run->err);
    RedisModule_UnblockClient(run->bc, run);
}

static int reply_async(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    AsyncRun *run = RedisModule_GetBlockedClientPrivateData(ctx);
    if (RedisAI_GetErrorCode(run->err) != RedisAI_ErrorCode_OK)
        return RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(run->err));
    reply_values(ctx, RedisAI_ScriptRunCtxOutputTensor(run->sctx, 0));
    return REDISMODULE_OK;
}

static void free_async(RedisModuleCtx *ctx, void *privdata) {
    (void)ctx;
    AsyncRun *run = privdata;
    if (run->sctx) RedisAI_ScriptRunCtxFree(run->sctx);
    RedisAI_FreeError(run->err);
    RedisModule_Free(run);
}

static int cmd_script_run_async(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 3) return RedisModule_WrongArity(ctx);
    if (!bind_scripts(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    AsyncRun *run = RedisModule_Calloc(1, sizeof(*run));
    RedisAI_InitError(&run->err);
    RAI_Script *script;
    if (RedisAI_GetScriptFromKeyspace(ctx, argv[1], &script, REDISMODULE_READ, run->err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(run->err));
        free_async(ctx, run);
        return REDISMODULE_OK;
    }
    CHECK(RedisAI_ScriptRedisType() != NULL && RedisAI_ScriptRedisType() != RedisAI_TensorRedisType());
    RAI_ScriptRunCtx *sctx = RedisAI_ScriptRunCtxCreate(script, RedisModule_StringPtrLen(argv[2], NULL));
    if (!add_inputs(ctx, sctx, argv, 3, argc, run->err)) {
        RedisAI_ScriptRunCtxFree(sctx);
        free_async(ctx, run);
        return RedisModule_ReplyWithError(ctx, "ERR not a tensor");
    }
    RedisAI_ScriptRunCtxAddOutput(sctx);
    run->bc = RedisModule_BlockClient(ctx, reply_async, NULL, free_async, 0);
    if (RedisAI_ScriptRunAsync(sctx, on_script_done, run) != REDISMODULE_OK) {
        RedisModule_AbortBlock(run->bc);
        RedisAI_ScriptRunCtxFree(sctx);
        free_async(ctx, run);
        return RedisModule_ReplyWithError(ctx, "ERR could not queue the run");
    }
    return REDISMODULE_OK;
}

static int reply_code_and_text(RedisModuleCtx *ctx, RAI_Error *err) {
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithLongLong(ctx, RedisAI_GetErrorCode(err));
    return RedisModule_ReplyWithCString(ctx, RedisAI_GetErrorOneLine(err));
}

static int cmd_script_create_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 4) return RedisModule_WrongArity(ctx);
    if (!bind_scripts(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    RAI_Error *err;
    RedisAI_InitError(&err);
    /* The header declares char *; the tag really is a RedisModuleString. */
    RedisModuleString *tag = RedisModule_CreateString(ctx, "api", 3);
    RAI_Script *script = RedisAI_ScriptCreate((char *)RedisModule_StringPtrLen(argv[1], NULL), (char *)tag,
                                              RedisModule_StringPtrLen(argv[2], NULL), err);
    RedisModule_FreeString(ctx, tag); /* the script holds its own reference */
    int rc;
    if (!script) {
        rc = reply_code_and_text(ctx, err);
    } else {
        RAI_Script *copy = RedisAI_ScriptGetShallowCopy(script);
        CHECK(copy == script);
        RedisAI_ScriptFree(copy, err);
        RAI_ScriptRunCtx *sctx = RedisAI_ScriptRunCtxCreate(script, RedisModule_StringPtrLen(argv[3], NULL));
        RedisAI_ScriptFree(script, err); /* the run context keeps its own reference */
        if (!add_inputs(ctx, sctx, argv, 4, argc, err)) {
            RedisAI_ScriptRunCtxFree(sctx);
            rc = RedisModule_ReplyWithError(ctx, "ERR not a tensor");
        } else if (RedisAI_ScriptRunCtxAddOutput(sctx) != 1 || RedisAI_ScriptRun(sctx, err) != REDISMODULE_OK) {
            RedisAI_ScriptRunCtxFree(sctx);
            rc = reply_code_and_text(ctx, err);
        } else {
            reply_values(ctx, RedisAI_ScriptRunCtxOutputTensor(sctx, 0));
            RedisAI_ScriptRunCtxFree(sctx);
            rc = REDISMODULE_OK;
        }
    }
    RedisAI_FreeError(err);
    return rc;
}

static int register_script_commands(RedisModuleCtx *ctx) {
    if (RedisModule_CreateCommand(ctx, "llapi.script_bind", cmd_script_bind, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.script_run", cmd_script_run, "readonly", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.script_run_async", cmd_script_run_async, "readonly", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.script_create_run", cmd_script_create_run, "readonly", 0, 0, 0))
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}

/* ---- DAGs: the REDISAI_API_LIST_DAG entries ----
 *   LLAPI.DAG_BIND                    -> number of DAG entries resolved
 *   LLAPI.DAG_RUN model x [script fn] -> builds a DAG through the API: LOAD x,
 *        the model on x -> y (a DAGAddRunOp), TENSORGET y, then from a string
 *        "|> AI.TENSORSET z FLOAT 2 VALUES 5 6 |> AI.MODELEXECUTE <model> ...
 *        |> AI.TENSORGET z", optionally a script op fn(y, z) -> w with
 *        TENSORGET w, and an API TENSORSET k = [3] with TENSORGET k; runs it
 *        with RedisAI_DAGRun (the client is blocked) and replies with the
 *        values of every output, or with the run's error text
 *   LLAPI.DAG_ERRORS model            -> OK, or the first failed check of the
 *        synchronous error paths (builder, op strings, DAGRun validation) */
#define DECLARE_DAG_ENTRY(ret, name, params) static ret(*RedisAI_##name) params;
REDISAI_API_LIST_DAG(DECLARE_DAG_ENTRY)
#undef DECLARE_DAG_ENTRY
/* Model and script lookups under names of this block's own. */
static int (*dag_model_lookup)(RedisModuleCtx *, RedisModuleString *, RAI_Model **, int, RAI_Error *);
static int (*dag_script_lookup)(RedisModuleCtx *, RedisModuleString *, RAI_Script **, int, RAI_Error *);

static int dag_bound = 0;

/* A failed check replies and makes the helper return REDISMODULE_ERR. */
#define DAG_CHECK(cond)                                                                   \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            RedisModule_ReplyWithError(ctx, "ERR check failed: " #cond);                  \
            return REDISMODULE_ERR;                                                       \
        }                                                                                 \
    } while (0)

static int bind_dag(RedisModuleCtx *ctx) {
    if (dag_bound) return 1;
    if (!bind_api(ctx)) return 0;
    dag_model_lookup = RedisModule_GetSharedAPI(ctx, "RedisAI_GetModelFromKeyspace");
    dag_script_lookup = RedisModule_GetSharedAPI(ctx, "RedisAI_GetScriptFromKeyspace");
    if (!dag_model_lookup || !dag_script_lookup) return 0;
    int n = 0;
#define RESOLVE_DAG_ENTRY(ret, name, params)                                       \
    RedisAI_##name = RedisModule_GetSharedAPI(ctx, "RedisAI_" #name);              \
    if (!RedisAI_##name) return 0;                                                 \
    n++;
    REDISAI_API_LIST_DAG(RESOLVE_DAG_ENTRY)
#undef RESOLVE_DAG_ENTRY
    dag_bound = n;
    return 1;
}

static int cmd_dag_bind(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    if (!bind_dag(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    return RedisModule_ReplyWithLongLong(ctx, dag_bound);
}

#define DAG_MAX_OUTPUTS 8

typedef struct {
    RedisModuleBlockedClient *bc;
    RAI_DAGRunCtx *dag;
    RAI_Error *err;
    const char *check; /* a failed check in the callback */
    size_t noutputs;
    RAI_Tensor *outputs[DAG_MAX_OUTPUTS]; /* own references */
} DagRun;

/* Engine worker thread: keep the outputs, free the DAG, wake the client. */
static void on_dag_done(RAI_OnFinishCtx *finish, void *private_data) {
    DagRun *run = private_data;
    if (RedisAI_DAGRunError(finish)) {
        RedisAI_CloneError(run->err, RedisAI_DAGGetError(finish));
    } else {
        run->noutputs = RedisAI_DAGNumOutputs(finish);
        if (run->noutputs > DAG_MAX_OUTPUTS) run->noutputs = 0, run->check = "too many outputs";
        for (size_t i = 0; i < run->noutputs; i++)
            run->outputs[i] = RedisAI_TensorGetShallowCopy((RAI_Tensor *)RedisAI_DAGOutputTensor(finish, i));
        if (RedisAI_DAGOutputTensor(finish, run->noutputs) != NULL) run->check = "output past the end";
    }
    RedisAI_DAGFree(run->dag);
    run->dag = NULL;
    RedisModule_UnblockClient(run->bc, run);
}

static int reply_dag_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    DagRun *run = RedisModule_GetBlockedClientPrivateData(ctx);
    if (run->check) return RedisModule_ReplyWithError(ctx, run->check);
    if (RedisAI_GetErrorCode(run->err) != RedisAI_ErrorCode_OK)
        return RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(run->err));
    RedisModule_ReplyWithArray(ctx, (long)run->noutputs);
    for (size_t i = 0; i < run->noutputs; i++) reply_values(ctx, run->outputs[i]);
    return REDISMODULE_OK;
}

static void free_dag_run(RedisModuleCtx *ctx, void *privdata) {
    (void)ctx;
    DagRun *run = privdata;
    for (size_t i = 0; i < run->noutputs; i++) RedisAI_TensorFree(run->outputs[i]);
    if (run->dag) RedisAI_DAGFree(run->dag);
    RedisAI_FreeError(run->err);
    RedisModule_Free(run);
}

static int fails_with(RAI_Error *err, const char *text) {
    int ok = strcmp(RedisAI_GetError(err), text) == 0;
    RedisAI_ClearError(err);
    return ok;
}

/* The model op x -> y, and a refused one with two inputs. */
static int add_model_op(RedisModuleCtx *ctx, RAI_DAGRunCtx *dag, RAI_Model *model, RAI_Error *err) {
    RAI_DAGRunOp *bad = RedisAI_DAGCreateModelRunOp(model);
    DAG_CHECK(RedisAI_DAGRunOpAddInput(bad, "x") == REDISMODULE_OK && RedisAI_DAGRunOpAddInput(bad, "x") == REDISMODULE_OK);
    DAG_CHECK(RedisAI_DAGRunOpAddOutput(bad, "y") == REDISMODULE_OK);
    DAG_CHECK(RedisAI_DAGAddRunOp(dag, bad, err) == REDISMODULE_ERR);
    DAG_CHECK(RedisAI_GetErrorCode(err) == RedisAI_ErrorCode_EDAGBUILDER);
    DAG_CHECK(fails_with(err, "Number of keys given as INPUTS does not match model definition"));
    RedisAI_DAGRunOpFree(bad);
    RAI_DAGRunOp *op = RedisAI_DAGCreateModelRunOp(model);
    RedisAI_DAGRunOpAddInput(op, "x");
    RedisAI_DAGRunOpAddOutput(op, "y");
    DAG_CHECK(RedisAI_DAGAddRunOp(dag, op, err) == REDISMODULE_OK);
    return REDISMODULE_OK;
}

/* Builds the DAG of LLAPI.DAG_RUN; replies and returns ERR on a failure. */
static int build_dag(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, RAI_DAGRunCtx *dag, RAI_Error *err) {
    RAI_Tensor *x = tensor_at(ctx, argv[2]);
    RAI_Model *model;
    if (!x) return RedisModule_ReplyWithError(ctx, "ERR not a tensor"), REDISMODULE_ERR;
    if (dag_model_lookup(ctx, argv[1], &model, REDISMODULE_READ, err) != REDISMODULE_OK)
        return RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err)), REDISMODULE_ERR;
    DAG_CHECK(RedisAI_DAGLoadTensor(dag, "x", x) == REDISMODULE_OK);
    DAG_CHECK(RedisAI_DAGLoadTensor(dag, "x", x) == REDISMODULE_ERR); /* already loaded */
    if (add_model_op(ctx, dag, model, err) != REDISMODULE_OK) return REDISMODULE_ERR;
    DAG_CHECK(RedisAI_DAGAddTensorGet(dag, "y") == REDISMODULE_OK);
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, "AI.TENSORGET y", err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "DAG op should start with: '|>' "));
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, "|> AI.TENSORGET y |> AI.NOPE", err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "Unsupported command within DAG"));
    DAG_CHECK(RedisAI_DAGNumOps(dag) == 2); /* all or nothing */
    char ops[512];
    snprintf(ops, sizeof(ops),
             "|> AI.TENSORSET z FLOAT 2 VALUES 5 6 |> AI.MODELEXECUTE %s INPUTS 1 x OUTPUTS 1 y2 |> AI.TENSORGET z",
             RedisModule_StringPtrLen(argv[1], NULL));
    if (RedisAI_DAGAddOpsFromString(dag, ops, err) != REDISMODULE_OK)
        return RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err)), REDISMODULE_ERR;
    DAG_CHECK(RedisAI_DAGNumOps(dag) == 5);
    if (argc == 5) {
        RAI_Script *script;
        if (dag_script_lookup(ctx, argv[3], &script, REDISMODULE_READ, err) != REDISMODULE_OK)
            return RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err)), REDISMODULE_ERR;
        RAI_DAGRunOp *op = RedisAI_DAGCreateScriptRunOp(script, RedisModule_StringPtrLen(argv[4], NULL));
        RedisAI_DAGRunOpAddInput(op, "y");
        RedisAI_DAGRunOpAddInput(op, "z");
        RedisAI_DAGRunOpAddOutput(op, "w");
        DAG_CHECK(RedisAI_DAGAddRunOp(dag, op, err) == REDISMODULE_OK);
        DAG_CHECK(RedisAI_DAGAddTensorGet(dag, "w") == REDISMODULE_OK);
    }
    long long dims[] = {1};
    RAI_Tensor *k = RedisAI_TensorCreate("FLOAT", dims, 1);
    RedisAI_TensorSetValueFromDouble(k, 0, 3);
    DAG_CHECK(RedisAI_DAGAddTensorSet(dag, "k", k) == REDISMODULE_OK);
    RedisAI_TensorFree(k); /* the DAG holds its own reference */
    DAG_CHECK(RedisAI_DAGAddTensorGet(dag, "k") == REDISMODULE_OK);
    return REDISMODULE_OK;
}

static int cmd_dag_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 3 && argc != 5) return RedisModule_WrongArity(ctx);
    if (!bind_dag(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    DagRun *run = RedisModule_Calloc(1, sizeof(*run));
    RedisAI_InitError(&run->err);
    run->dag = RedisAI_DAGRunCtxCreate();
    if (build_dag(ctx, argv, argc, run->dag, run->err) != REDISMODULE_OK) {
        free_dag_run(ctx, run);
        return REDISMODULE_OK;
    }
    run->bc = RedisModule_BlockClient(ctx, reply_dag_run, NULL, free_dag_run, 0);
    if (RedisAI_DAGRun(run->dag, on_dag_done, run, run->err) != REDISMODULE_OK) {
        RedisModule_AbortBlock(run->bc);
        RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(run->err));
        free_dag_run(ctx, run); /* a DAG that was not queued is still ours */
    }
    return REDISMODULE_OK;
}

static void dag_never_runs(RAI_OnFinishCtx *finish, void *private_data) {
    (void)finish;
    (void)private_data;
}

/* DAGRun refuses `dag` with `text`; the DAG is freed.  (Were it queued, it
 * would belong to the engine until its callback: it is left alone.) */
static int run_refused(RAI_DAGRunCtx *dag, const char *text, RAI_Error *err) {
    if (RedisAI_DAGRun(dag, dag_never_runs, NULL, err) != REDISMODULE_ERR) return 0;
    RedisAI_DAGFree(dag);
    return fails_with(err, text);
}

static int dag_error_checks(RedisModuleCtx *ctx, RedisModuleString *model_key, RAI_Error *err) {
    DAG_CHECK(RedisAI_DAGCreateModelRunOp(NULL) == NULL);
    DAG_CHECK(run_refused(RedisAI_DAGRunCtxCreate(), "ERR DAG is empty", err));
    RAI_DAGRunCtx *dag = RedisAI_DAGRunCtxCreate();
    long long dims[] = {2};
    RAI_Tensor *t = RedisAI_TensorCreate("FLOAT", dims, 1);
    DAG_CHECK(RedisAI_DAGLoadTensor(dag, "t", t) == REDISMODULE_OK);
    RedisAI_TensorFree(t);
    DAG_CHECK(run_refused(dag, "ERR DAG is empty", err)); /* inputs alone are not ops */
    dag = RedisAI_DAGRunCtxCreate();
    RedisAI_DAGAddTensorGet(dag, "nope");
    DAG_CHECK(run_refused(dag, "ERR INPUT key cannot be found in DAG", err));

    dag = RedisAI_DAGRunCtxCreate();
    const char *model = RedisModule_StringPtrLen(model_key, NULL);
    char ops[256];
    snprintf(ops, sizeof(ops), "|> AI.MODELRUN %s INPUTS a OUTPUTS b", model);
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, ops, err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "Deprecated AI.MODELRUN cannot be used in AI.DAGEXECUTE command"));
    snprintf(ops, sizeof(ops), "|> AI.MODELEXECUTE %s INPUTS 1 a OUTPUTS 1 b TIMEOUT 5", model);
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, ops, err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "ERR TIMEOUT not allowed within a DAG command"));
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, "|> AI.MODELEXECUTE nomodel INPUTS 1 a OUTPUTS 1 b", err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "ERR model key is empty"));
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, "|> AI.TENSORSET a FLOAT 2 VALUES 1", err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "ERR wrong number of values was given in 'AI.TENSORSET' command"));
    DAG_CHECK(RedisAI_DAGAddOpsFromString(dag, "", err) == REDISMODULE_ERR);
    DAG_CHECK(fails_with(err, "DAG op should start with: '|>' "));
    DAG_CHECK(RedisAI_DAGNumOps(dag) == 0);
    RedisAI_DAGFree(dag);

    RAI_Model *m;
    DAG_CHECK(dag_model_lookup(ctx, model_key, &m, REDISMODULE_READ, err) == REDISMODULE_OK);
    RAI_DAGRunOp *op = RedisAI_DAGCreateModelRunOp(m);
    RedisAI_DAGRunOpAddInput(op, "a");
    dag = RedisAI_DAGRunCtxCreate();
    DAG_CHECK(RedisAI_DAGAddRunOp(dag, op, err) == REDISMODULE_ERR); /* no output */
    DAG_CHECK(fails_with(err, "Number of keys given as OUTPUTS does not match model definition"));
    RedisAI_DAGRunOpFree(op); /* never added: the caller frees it */
    RedisAI_DAGFree(dag);
    return REDISMODULE_OK;
}

static int cmd_dag_errors(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    if (!bind_dag(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available");
    RAI_Error *err;
    RedisAI_InitError(&err);
    int failed = dag_error_checks(ctx, argv[1], err) != REDISMODULE_OK;
    RedisAI_FreeError(err);
    return failed ? REDISMODULE_OK : RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int register_dag_commands(RedisModuleCtx *ctx) {
    if (RedisModule_CreateCommand(ctx, "llapi.dag_bind", cmd_dag_bind, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.dag_run", cmd_dag_run, "readonly", 1, 2, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.dag_errors", cmd_dag_errors, "readonly", 1, 1, 1))
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}

/* ---- models: the REDISAI_API_LIST_MODELS entries ----
 *   LLAPI.MODEL_BIND                  -> number of model entries resolved
 *   LLAPI.MODEL_RUN key nctx nout t...-> runs the model at `key` with
 *        RedisAI_ModelRun (synchronous) on nctx run contexts that share the
 *        tensors at t... evenly (nctx > 1: one batch); replies, per context,
 *        with the values of its nout outputs, or with the error text
 *   LLAPI.MODEL_RUN_ASYNC key nout t...
 *        -> one context through RedisAI_ModelRunAsync: the on-finish callback
 *        (an engine worker) takes the context back, keeps its outputs, frees
 *        it and unblocks the client, who gets the outputs' values or the
 *        run's error text
 *   LLAPI.MODEL_CREATE_RUN SYNC|ASYNC backend device blob out t...
 *        -> RedisAI_ModelCreate (TF input names: the tensor keys, output
 *        name: out), checks ModelSerialize and GetShallowCopy, frees the model
 *        (its run context keeps it alive), runs it as above; a create or run
 *        error replies [code, text]
 *   LLAPI.MODEL_SERIALIZE key         -> the blob RedisAI_ModelSerialize gives
 *   LLAPI.MODEL_ERRORS onnx_key tensor_key missing_key
 *        -> OK, or the first failed check of the synchronous error paths */
#define DECLARE_MODEL_ENTRY(ret, name, params) static ret(*RedisAI_##name) params;
REDISAI_API_LIST_MODELS(DECLARE_MODEL_ENTRY)
#undef DECLARE_MODEL_ENTRY

static int models_bound = 0;

static int bind_models(RedisModuleCtx *ctx) {
    if (models_bound) return 1;
    if (!bind_api(ctx)) return 0;
    int n = 0;
#define RESOLVE_MODEL_ENTRY(ret, name, params)                                     \
    RedisAI_##name = RedisModule_GetSharedAPI(ctx, "RedisAI_" #name);              \
    if (!RedisAI_##name) return 0;                                                 \
    n++;
    REDISAI_API_LIST_MODELS(RESOLVE_MODEL_ENTRY)
#undef RESOLVE_MODEL_ENTRY
    models_bound = n;
    return 1;
}

#define BIND_MODELS(ctx)                                                                            \
    do {                                                                                            \
        if (!bind_models(ctx)) return RedisModule_ReplyWithError(ctx, "ERR RedisAI shared API not available"); \
    } while (0)

static int cmd_model_bind(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    BIND_MODELS(ctx);
    return RedisModule_ReplyWithLongLong(ctx, models_bound);
}

static int backend_id(const char *name) {
    static const char *names[] = {"TF", "TFLITE", "TORCH", "ONNX"}; /* REDISAI_BACKEND_* order */
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

/* Adds the tensors at argv[first..last) as inputs (names are ignored by the
 * engine: order counts) and nout outputs.  0 if a key holds no tensor. */
static int fill_run_ctx(RedisModuleCtx *ctx, RAI_ModelRunCtx *mctx, RedisModuleString **argv, int first,
                        int last, long long nout) {
    for (int i = first; i < last; i++) {
        RAI_Tensor *t = tensor_at(ctx, argv[i]);
        if (!t || RedisAI_ModelRunCtxAddInput(mctx, "ignored", t) != 1) return 0;
    }
    for (long long o = 0; o < nout; o++)
        if (RedisAI_ModelRunCtxAddOutput(mctx, "ignored") != 1) return 0;
    return 1;
}

static void reply_outputs(RedisModuleCtx *ctx, RAI_Tensor **outs, size_t n) {
    RedisModule_ReplyWithArray(ctx, (long)n);
    for (size_t i = 0; i < n; i++) {
        if (outs[i]) reply_values(ctx, outs[i]);
        else RedisModule_ReplyWithNull(ctx);
    }
}

static void reply_ctx_outputs(RedisModuleCtx *ctx, RAI_ModelRunCtx *mctx) {
    size_t n = RedisAI_ModelRunCtxNumOutputs(mctx);
    RAI_Tensor *outs[16] = {0};
    for (size_t i = 0; i < n && i < 16; i++) outs[i] = RedisAI_ModelRunCtxOutputTensor(mctx, i);
    reply_outputs(ctx, outs, n < 16 ? n : 16);
}

static int cmd_model_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    long long nctx, nout;
    if (argc < 4) return RedisModule_WrongArity(ctx);
    BIND_MODELS(ctx);
    if (RedisModule_StringToLongLong(argv[2], &nctx) != REDISMODULE_OK || nctx <= 0 || nctx > 16 ||
        RedisModule_StringToLongLong(argv[3], &nout) != REDISMODULE_OK || nout < 0 || (argc - 4) % nctx)
        return RedisModule_ReplyWithError(ctx, "ERR bad counts");
    RAI_Error *err;
    RedisAI_InitError(&err);
    RAI_Model *model;
    if (RedisAI_GetModelFromKeyspace(ctx, argv[1], &model, REDISMODULE_READ, err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err));
        RedisAI_FreeError(err);
        return REDISMODULE_OK;
    }
    RAI_ModelRunCtx *ms[16];
    int per = (argc - 4) / (int)nctx, filled = 1;
    for (long long c = 0; c < nctx; c++) {
        ms[c] = RedisAI_ModelRunCtxCreate(model);
        filled = filled && fill_run_ctx(ctx, ms[c], argv, 4 + (int)c * per, 4 + (int)(c + 1) * per, nout);
    }
    if (!filled) {
        RedisModule_ReplyWithError(ctx, "ERR not a tensor");
    } else if (RedisAI_ModelRun(ms, nctx, err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err));
    } else {
        RedisModule_ReplyWithArray(ctx, nctx);
        for (long long c = 0; c < nctx; c++) reply_ctx_outputs(ctx, ms[c]);
    }
    for (long long c = 0; c < nctx; c++) RedisAI_ModelRunCtxFree(ms[c]);
    RedisAI_FreeError(err);
    return REDISMODULE_OK;
}

typedef struct {
    RedisModuleBlockedClient *bc;
    RAI_Error *err;
    int with_code; /* reply [code, text] on error */
    size_t nout;
    RAI_Tensor **outs; /* shallow copies taken by the callback */
} ModelAsync;

/* Engine worker thread, no engine lock held: take the context back, keep
 * its outputs, free it (for a model made through the API this drops the
 * model's last reference), then wake the client. */
static void on_model_done(RAI_OnFinishCtx *finish, void *private_data) {
    ModelAsync *run = private_data;
    RAI_ModelRunCtx *mctx = RedisAI_GetAsModelRunCtx(finish, run->err);
    if (mctx && RedisAI_GetErrorCode(run->err) == RedisAI_ErrorCode_OK) {
        run->nout = RedisAI_ModelRunCtxNumOutputs(mctx);
        run->outs = RedisModule_Calloc(run->nout ? run->nout : 1, sizeof(RAI_Tensor *));
        for (size_t i = 0; i < run->nout; i++) {
            RAI_Tensor *t = RedisAI_ModelRunCtxOutputTensor(mctx, i);
            run->outs[i] = t ? RedisAI_TensorGetShallowCopy(t) : NULL;
        }
    }
    RedisAI_ModelRunCtxFree(mctx);
    RedisModule_UnblockClient(run->bc, run);
}

static int reply_model_async(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    ModelAsync *run = RedisModule_GetBlockedClientPrivateData(ctx);
    if (RedisAI_GetErrorCode(run->err) != RedisAI_ErrorCode_OK)
        return run->with_code ? reply_code_and_text(ctx, run->err)
                              : RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(run->err));
    reply_outputs(ctx, run->outs, run->nout);
    return REDISMODULE_OK;
}

static void free_model_async(RedisModuleCtx *ctx, void *privdata) {
    (void)ctx;
    ModelAsync *run = privdata;
    for (size_t i = 0; i < run->nout; i++) RedisAI_TensorFree(run->outs[i]);
    RedisModule_Free(run->outs);
    RedisAI_FreeError(run->err);
    RedisModule_Free(run);
}

/* Blocks the client and queues mctx; the callback owns it from then on. */
static int start_async(RedisModuleCtx *ctx, RAI_ModelRunCtx *mctx, int with_code) {
    ModelAsync *run = RedisModule_Calloc(1, sizeof(*run));
    RedisAI_InitError(&run->err);
    run->with_code = with_code;
    run->bc = RedisModule_BlockClient(ctx, reply_model_async, NULL, free_model_async, 0);
    if (RedisAI_ModelRunAsync(mctx, on_model_done, run) != REDISMODULE_OK) {
        RedisModule_AbortBlock(run->bc);
        RedisAI_ModelRunCtxFree(mctx);
        free_model_async(ctx, run);
        return RedisModule_ReplyWithError(ctx, "ERR could not queue the run");
    }
    return REDISMODULE_OK;
}

static int cmd_model_run_async(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    long long nout;
    if (argc < 3) return RedisModule_WrongArity(ctx);
    BIND_MODELS(ctx);
    if (RedisModule_StringToLongLong(argv[2], &nout) != REDISMODULE_OK || nout < 0)
        return RedisModule_ReplyWithError(ctx, "ERR bad counts");
    RAI_Error *err;
    RedisAI_InitError(&err);
    RAI_Model *model;
    int found = RedisAI_GetModelFromKeyspace(ctx, argv[1], &model, REDISMODULE_READ, err) == REDISMODULE_OK;
    if (!found) RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err));
    RedisAI_FreeError(err);
    if (!found) return REDISMODULE_OK;
    RAI_ModelRunCtx *mctx = RedisAI_ModelRunCtxCreate(model);
    if (!fill_run_ctx(ctx, mctx, argv, 3, argc, nout)) {
        RedisAI_ModelRunCtxFree(mctx);
        return RedisModule_ReplyWithError(ctx, "ERR not a tensor");
    }
    return start_async(ctx, mctx, 0);
}

static int cmd_model_create_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 7) return RedisModule_WrongArity(ctx);
    BIND_MODELS(ctx);
    int async = strcmp(RedisModule_StringPtrLen(argv[1], NULL), "ASYNC") == 0;
    int backend = backend_id(RedisModule_StringPtrLen(argv[2], NULL));
    size_t bloblen;
    const char *blob = RedisModule_StringPtrLen(argv[4], &bloblen);
    const char *out_name = RedisModule_StringPtrLen(argv[5], NULL);
    const char *in_names[16];
    int nin = argc - 6;
    if (nin > 16) return RedisModule_ReplyWithError(ctx, "ERR too many inputs");
    for (int i = 0; i < nin; i++) in_names[i] = RedisModule_StringPtrLen(argv[6 + i], NULL);
    RAI_Error *err;
    RedisAI_InitError(&err);
    RAI_ModelOpts opts = {0};
    /* The header declares char *; the tag really is a RedisModuleString. */
    RedisModuleString *tag = RedisModule_CreateString(NULL, "api", 3);
    RAI_Model *model = RedisAI_ModelCreate(backend, (char *)RedisModule_StringPtrLen(argv[3], NULL), (char *)tag,
                                           opts, (size_t)nin, in_names, 1, &out_name, blob, bloblen, err);
    RedisModule_FreeString(NULL, tag);
    if (!model) {
        reply_code_and_text(ctx, err);
        RedisAI_FreeError(err);
        return REDISMODULE_OK;
    }
    char *copy;
    size_t len;
    CHECK(RedisAI_ModelSerialize(model, &copy, &len, err) == REDISMODULE_OK);
    int same = len == bloblen && memcmp(copy, blob, len) == 0;
    RedisModule_Free(copy);
    CHECK(same);
    CHECK(RedisAI_ModelGetShallowCopy(model) == model);
    RedisAI_ModelFree(model, err); /* the shallow copy's reference */
    RAI_ModelRunCtx *mctx = RedisAI_ModelRunCtxCreate(model);
    RedisAI_ModelFree(model, err); /* the run context holds the last reference */
    if (!fill_run_ctx(ctx, mctx, argv, 6, argc, 1)) {
        RedisAI_ModelRunCtxFree(mctx);
        RedisAI_FreeError(err);
        return RedisModule_ReplyWithError(ctx, "ERR not a tensor");
    }
    if (async) {
        RedisAI_FreeError(err);
        return start_async(ctx, mctx, 1);
    }
    if (RedisAI_ModelRun(&mctx, 1, err) != REDISMODULE_OK) reply_code_and_text(ctx, err);
    else reply_ctx_outputs(ctx, mctx);
    RedisAI_ModelRunCtxFree(mctx); /* frees the model too */
    RedisAI_FreeError(err);
    return REDISMODULE_OK;
}

static int cmd_model_serialize(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    BIND_MODELS(ctx);
    RAI_Error *err;
    RedisAI_InitError(&err);
    RAI_Model *model;
    char *blob;
    size_t len;
    if (RedisAI_GetModelFromKeyspace(ctx, argv[1], &model, REDISMODULE_READ, err) != REDISMODULE_OK ||
        RedisAI_ModelSerialize(model, &blob, &len, err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RedisAI_GetErrorOneLine(err));
    } else {
        RedisModule_ReplyWithStringBuffer(ctx, blob, len);
        RedisModule_Free(blob);
    }
    RedisAI_FreeError(err);
    return REDISMODULE_OK;
}

/* A failed call must leave exactly this code and text; the error is then cleared. */
static int failed_with(RAI_Error *err, RedisAI_ErrorCode code, const char *text) {
    int ok = RedisAI_GetErrorCode(err) == code && strcmp(RedisAI_GetErrorOneLine(err), text) == 0;
    RedisAI_ClearError(err);
    return ok;
}

static int model_error_checks(RedisModuleCtx *ctx, RedisModuleString **argv, RAI_Error *err) {
    RAI_Model *m = NULL;
    CHECK(RedisAI_GetModelFromKeyspace(ctx, argv[3], &m, REDISMODULE_READ, err) == REDISMODULE_ERR);
    CHECK(failed_with(err, (RedisAI_ErrorCode)19, "ERR model key is empty")); /* RAI_EKEYEMPTY */
    CHECK(RedisAI_GetModelFromKeyspace(ctx, argv[2], &m, REDISMODULE_READ, err) == REDISMODULE_ERR);
    CHECK(failed_with(err, RedisAI_ErrorCode_EMODELRUN, "WRONGTYPE Operation against a key holding the wrong kind of value"));
    CHECK(RedisAI_GetModelFromKeyspace(ctx, argv[1], &m, REDISMODULE_READ, err) == REDISMODULE_OK && m);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
    int typed = RedisModule_ModuleTypeGetType(key) == RedisAI_ModelRedisType();
    RedisModule_CloseKey(key);
    CHECK(typed && RedisAI_ModelRedisType() != RedisAI_TensorRedisType());

    RAI_ModelRunCtx *mctx = RedisAI_ModelRunCtxCreate(m);
    CHECK(RedisAI_ModelRun(&mctx, 0, err) == REDISMODULE_ERR && failed_with(err, RedisAI_ErrorCode_EMODELRUN, "ERR Nothing to run"));
    CHECK(fill_run_ctx(ctx, mctx, argv, 2, 3, 1));
    CHECK(RedisAI_ModelRunCtxNumOutputs(mctx) == 1);
    CHECK(RedisAI_ModelRunCtxOutputTensor(mctx, 0) == NULL && RedisAI_ModelRunCtxOutputTensor(mctx, 1) == NULL);
    /* ONNX runs only on engine workers: Redis's thread gets the spec's text */
    CHECK(RedisAI_ModelRun(&mctx, 1, err) == REDISMODULE_ERR);
    CHECK(failed_with(err, RedisAI_ErrorCode_EMODELRUN,
                      "Cannot execute onnxruntime model synchronously, use async execution instead"));
    RedisAI_ModelRunCtxFree(mctx);

    const char *out = "y";
    CHECK(RedisAI_ModelCreate(REDISAI_BACKEND_TFLITE, "CPU", NULL, (RAI_ModelOpts){0}, 0, NULL, 1, &out, "x", 1, err) == NULL);
    CHECK(failed_with(err, RedisAI_ErrorCode_EBACKENDNOTLOADED, "ERR Backend not loaded: TFLITE"));
    CHECK(RedisAI_ModelCreate(REDISAI_BACKEND_ONNXRUNTIME, "GPU:0", NULL, (RAI_ModelOpts){0}, 0, NULL, 0, NULL, "x", 1, err) == NULL);
    CHECK(RedisAI_GetErrorCode(err) != RedisAI_ErrorCode_OK && strstr(RedisAI_GetError(err), "GPU"));
    RedisAI_ClearError(err);
    CHECK(RedisAI_ModelCreate(REDISAI_BACKEND_ONNXRUNTIME, "CPU", NULL, (RAI_ModelOpts){0}, 0, NULL, 0, NULL, "junk", 4, err) == NULL);
    CHECK(RedisAI_GetErrorCode(err) == RedisAI_ErrorCode_EMODELCREATE);
    RedisAI_ClearError(err);
    RedisAI_ModelFree(NULL, err);
    RedisAI_ModelRunCtxFree(NULL);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static int cmd_model_errors(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 4) return RedisModule_WrongArity(ctx);
    BIND_MODELS(ctx);
    RAI_Error *err;
    RedisAI_InitError(&err);
    int rc = model_error_checks(ctx, argv, err);
    RedisAI_FreeError(err);
    return rc;
}

static int register_model_commands(RedisModuleCtx *ctx) {
    if (RedisModule_CreateCommand(ctx, "llapi.model_bind", cmd_model_bind, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.model_run", cmd_model_run, "readonly", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.model_run_async", cmd_model_run_async, "readonly", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.model_create_run", cmd_model_create_run, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.model_serialize", cmd_model_serialize, "readonly", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.model_errors", cmd_model_errors, "readonly", 1, 3, 1))
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}

/* llapi.server_version_supported <0xMMmmpp>: the modules' load decision
 * (src/common/rm_api.c), for servers this machine does not run. */
static int cmd_server_version_supported(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    long long version;
    if (argc != 2) return RedisModule_WrongArity(ctx);
    if (RedisModule_StringToLongLong(argv[1], &version) != REDISMODULE_OK)
        return RedisModule_ReplyWithError(ctx, "ERR version must be an integer");
    return RedisModule_ReplyWithLongLong(ctx, RMAPI_ServerVersionSupported((int)version));
}

RM_EXPORT int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    if (RMAPI_Init(ctx, "llapitest", 1, REDISMODULE_APIVER_1) != REDISMODULE_OK) return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "llapi.bind", cmd_bind, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.tensor_lifecycle", cmd_tensor_lifecycle, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.store", cmd_store, "write", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.read", cmd_read, "readonly", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.server_version_supported", cmd_server_version_supported, "readonly",
                                  0, 0, 0))
        return REDISMODULE_ERR;
    if (register_script_commands(ctx) != REDISMODULE_OK) return REDISMODULE_ERR;
    if (register_dag_commands(ctx) != REDISMODULE_OK) return REDISMODULE_ERR;
    if (register_model_commands(ctx) != REDISMODULE_OK) return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
