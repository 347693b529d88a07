/* size_limits.c -- see size_limits.h. */
#include "size_limits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Copies of the server's settings, read by any thread. */
static long long proto_max_bulk_len = 512LL * 1024 * 1024;
static long long maxmemory;
/* Used memory / maxmemory as of the last server cron, for other threads:
 * computing it walks server state that only the main thread may read. */
static long long used_ppm; /* parts per million */
static pthread_t main_thread;

/* Below this no check is needed: Redis allows proto-max-bulk-len no
 * smaller, and its own deny-oom check covers small writes. */
#define CHECK_FROM_BYTES (1024 * 1024)

static void read_setting(RedisModuleCtx *ctx, const char *name, long long *out) {
    RedisModuleCallReply *r = RedisModule_Call(ctx, "CONFIG", "cc", "GET", name);
    if (!r) return;
    if (RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ARRAY && RedisModule_CallReplyLength(r) == 2) {
        size_t len;
        const char *s = RedisModule_CallReplyStringPtr(RedisModule_CallReplyArrayElement(r, 1), &len);
        char buf[32];
        if (s && len < sizeof(buf)) {
            snprintf(buf, sizeof(buf), "%.*s", (int)len, s);
            __atomic_store_n(out, strtoll(buf, NULL, 10), __ATOMIC_RELAXED);
        }
    }
    RedisModule_FreeCallReply(r);
}

static void read_settings(RedisModuleCtx *ctx) {
    read_setting(ctx, "proto-max-bulk-len", &proto_max_bulk_len);
    read_setting(ctx, "maxmemory", &maxmemory);
}

static void on_config_change(RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t subevent, void *data) {
    (void)eid, (void)subevent, (void)data;
    read_settings(ctx);
}

static void on_cron(RedisModuleCtx *ctx, RedisModuleEvent eid, uint64_t subevent, void *data) {
    (void)ctx, (void)eid, (void)subevent, (void)data;
    if (!__atomic_load_n(&maxmemory, __ATOMIC_RELAXED)) return;
    __atomic_store_n(&used_ppm, (long long)(RedisModule_GetUsedMemoryRatio() * 1e6), __ATOMIC_RELAXED);
}

void RAI_SizeLimitsInit(RedisModuleCtx *ctx) {
    main_thread = pthread_self();
    read_settings(ctx);
    RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_Config, on_config_change);
    if (RedisModule_GetUsedMemoryRatio) RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_CronLoop, on_cron);
}

static double memory_ratio(void) {
    if (pthread_equal(pthread_self(), main_thread)) return RedisModule_GetUsedMemoryRatio();
    return (double)__atomic_load_n(&used_ppm, __ATOMIC_RELAXED) / 1e6;
}

int RAI_SizeAllowed(const char *what, size_t nbytes, RAI_ErrorCode code, RAI_Error *err) {
    if (nbytes < CHECK_FROM_BYTES) return 1;
    long long bulk = __atomic_load_n(&proto_max_bulk_len, __ATOMIC_RELAXED);
    if (bulk > 0 && nbytes > (size_t)bulk) {
        RAI_SetErrorFormat(err, code, "ERR %s of %zu bytes is larger than proto-max-bulk-len (%lld bytes)", what,
                           nbytes, bulk);
        return 0;
    }
    long long limit = __atomic_load_n(&maxmemory, __ATOMIC_RELAXED);
    if (limit > 0 && RedisModule_GetUsedMemoryRatio) {
        double used = memory_ratio() * (double)limit;
        if (used + (double)nbytes > (double)limit) {
            RAI_SetErrorFormat(err, code, "OOM %s of %zu bytes would take used memory past 'maxmemory'", what,
                               nbytes);
            return 0;
        }
    }
    return 1;
}
