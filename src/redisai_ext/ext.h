/* ext.h -- internals of the redisAI cffi extension (src/redisai_ext.c).
 *
 * The extension is not a Redis module.  Everything it calls lives behind
 * two tables filled at bind time:
 *   - `rm`:  RedisModule_* entries, resolved through the host's get_api;
 *   - `rai`: RedisAI_* entries of the engine's shared C API, resolved with
 *            RedisModule_GetSharedAPI under the Redis lock.
 * Nothing links against the engine, so the same extension binds to any
 * engine exporting the RedisAI 1.2.7 shared API. */
#ifndef REDISAI_EXT_H
#define REDISAI_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/rm_api.h" /* types and constants only; its globals are never used */
#include "../host/host_api.h"
#include "../include/redisai.h"

#include "cdef.h"

/* rx_err codes; the Python layer turns them into redisgears.GearsError
 * (redisai/_api.py: _raise). */
#define RX_OK 0
#define RX_ERROR 1    /* msg holds the text */
#define RX_NOTBOUND 2 /* the engine is not loaded */

int rx_fail(rx_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Dtype ids (the extension's own; the shared API has no dtype entry). */
enum {
    RX_DT_UNKNOWN = -1,
    RX_DT_FLOAT = 0, RX_DT_DOUBLE, RX_DT_INT8, RX_DT_INT16, RX_DT_INT32, RX_DT_INT64,
    RX_DT_UINT8, RX_DT_UINT16, RX_DT_BOOL, RX_DT_STRING, RX_DT_COUNT
};
extern const char *const rx_dtype_names[RX_DT_COUNT];

/* RedisModule_* entries the extension uses (all mandatory). */
#define RX_RM_LIST(X)                                                                   \
    X(void *, OpenKey, (RedisModuleCtx * ctx, RedisModuleString * keyname, int mode))   \
    X(void, CloseKey, (RedisModuleKey * kp))                                            \
    X(int, KeyType, (RedisModuleKey * kp))                                              \
    X(RedisModuleType *, ModuleTypeGetType, (RedisModuleKey * key))                     \
    X(void *, ModuleTypeGetValue, (RedisModuleKey * key))                               \
    X(int, ModuleTypeSetValue, (RedisModuleKey * key, RedisModuleType * mt, void *value)) \
    X(RedisModuleString *, CreateString, (RedisModuleCtx * ctx, const char *ptr, size_t len)) \
    X(RedisModuleString *, CreateStringFromLongLong, (RedisModuleCtx * ctx, long long ll)) \
    X(void, FreeString, (RedisModuleCtx * ctx, RedisModuleString * str))                \
    X(int, Replicate, (RedisModuleCtx * ctx, const char *cmdname, const char *fmt, ...)) \
    X(int, NotifyKeyspaceEvent, (RedisModuleCtx * ctx, int type, const char *event,     \
                                 RedisModuleString *key))                               \
    X(int, GetContextFlags, (RedisModuleCtx * ctx))                                     \
    X(void *, GetSharedAPI, (RedisModuleCtx * ctx, const char *apiname))                \
    X(RedisModuleCallReply *, Call, (RedisModuleCtx * ctx, const char *cmdname,         \
                                     const char *fmt, ...))                             \
    X(void, FreeCallReply, (RedisModuleCallReply * reply))                              \
    X(int, CallReplyType, (RedisModuleCallReply * reply))                               \
    X(size_t, CallReplyLength, (RedisModuleCallReply * reply))                          \
    X(RedisModuleCallReply *, CallReplyArrayElement, (RedisModuleCallReply * reply, size_t i)) \
    X(const char *, CallReplyStringPtr, (RedisModuleCallReply * reply, size_t * len))

#define RX_DECLARE_FIELD(ret, name, params) ret(*name) params;
typedef struct rx_rm_table {
    RX_RM_LIST(RX_DECLARE_FIELD)
} rx_rm_table;
typedef struct rx_rai_table {
    REDISAI_API_LIST(RX_DECLARE_FIELD)
} rx_rai_table;
#undef RX_DECLARE_FIELD

extern rx_rm_table rm;
extern rx_rai_table rai;
extern const RG_HostAPI *rx_host;

/* keyspace.c */
int rx_probe_dtype(RAI_Tensor *t, RedisModuleCtx *ctx, RedisModuleString *key);

/* runners.c: fills `res` with a shallow copy of each of the n outputs. */
typedef RAI_Tensor *(*rx_output_fn)(void *src, size_t index);
int rx_result_collect(rx_result *res, size_t n, rx_output_fn get, void *src);

/* runners.c: where a queued run's outcome goes.  The engine's callback fills
 * the delivery's result, then rx_deliver (engine worker) hands it to
 * rx_run_done, on Redis's main thread if asked, and frees the delivery. */
typedef struct rx_delivery rx_delivery;
rx_delivery *rx_delivery_new(void *handle, int on_main, rx_err *err);
rx_result *rx_delivery_result(rx_delivery *d);
void rx_deliver(rx_delivery *d);

/* Completion of a queued run (see rx_deliver for the thread): defined in Python
 * (redisai/_runners.py, cffi `extern "Python+C"`, declared in build_ffi.py);
 * takes the GIL for the duration of the call. */
void rx_run_done(void *handle, rx_result *res);

#endif
