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

RM_EXPORT int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    if (RMAPI_Init(ctx, "llapitest", 1, REDISMODULE_APIVER_1) != REDISMODULE_OK) return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "llapi.bind", cmd_bind, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.tensor_lifecycle", cmd_tensor_lifecycle, "readonly", 0, 0, 0) ||
        RedisModule_CreateCommand(ctx, "llapi.store", cmd_store, "write", 1, 1, 1) ||
        RedisModule_CreateCommand(ctx, "llapi.read", cmd_read, "readonly", 1, 1, 1))
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
