/* host_api.c -- the RG_HostAPI table (host_api.h) and the Redis lock.
 *
 * The lock is re-entrant per thread: a thread-local depth counts nested
 * lock() calls.  Redis's main thread already holds the Redis lock inside a
 * command (and whenever it runs module code), so there only the count moves.
 * Other threads take the lock with ThreadSafeContextLock and share one
 * detached context: only the thread holding the lock ever uses it. */
#include <pthread.h>

#include "host.h"
#include "host_api.h"

static int (*server_get_api)(const char *, void *);
static RedisModuleCtx *shared_ctx; /* detached; used only under the lock */
static pthread_t main_thread;

static __thread int tls_depth;
static __thread RedisModuleCtx *tls_ctx;
static __thread int tls_took_lock; /* this thread called ThreadSafeContextLock */

RedisModuleCtx *Host_Lock(void) {
    if (tls_depth++ > 0) return tls_ctx;
    if (pthread_equal(pthread_self(), main_thread)) {
        /* The main thread runs module code only with the Redis lock held. */
        tls_ctx = shared_ctx;
        tls_took_lock = 0;
        return tls_ctx;
    }
    RedisModule_ThreadSafeContextLock(shared_ctx);
    tls_ctx = shared_ctx;
    tls_took_lock = 1;
    return tls_ctx;
}

void Host_Unlock(void) {
    if (tls_depth <= 0) return; /* unbalanced unlock: ignore rather than corrupt */
    if (--tls_depth > 0) return;
    if (tls_took_lock) RedisModule_ThreadSafeContextUnlock(shared_ctx);
    tls_took_lock = 0;
    tls_ctx = NULL;
}

HostCmdScope Host_CommandEnter(RedisModuleCtx *ctx) {
    HostCmdScope saved = {tls_depth, tls_ctx};
    tls_depth++;
    tls_ctx = ctx;
    return saved;
}

void Host_CommandExit(HostCmdScope saved) {
    tls_depth = saved.depth;
    tls_ctx = saved.ctx;
}

void Host_Log(const char *level, const char *msg) {
    RedisModule_Log(shared_ctx, level ? level : "notice", "%s", msg ? msg : "");
}

static int api_get_api(const char *name, void *out) {
    if (!name || !out || !server_get_api) return REDISMODULE_ERR;
    return server_get_api(name, out);
}

static RedisModuleCtx *api_lock(void) { return Host_Lock(); }
static void api_unlock(void) { Host_Unlock(); }
static void api_log(const char *level, const char *msg) { Host_Log(level, msg); }

static int api_holds_lock_off_main(void) {
    return tls_depth > 0 && !pthread_equal(pthread_self(), main_thread);
}

static int api_run_on_main(void (*fn)(void *), void *arg) { return MainQ_Call(fn, arg); }

static const char *api_deny_keys(void *user, RedisModuleCtx *ctx, RedisModuleString **keys, size_t n, int write) {
    if (write && (RedisModule_GetContextFlags(ctx) & REDISMODULE_CTX_FLAGS_OOM)) return OOM_ERROR;
    return user ? FlowUser_DenyKeys(user, ctx, keys, n, write) : NULL;
}

static const RG_HostAPI host_api = {
    .version = RG_HOST_API_VERSION,
    .get_api = api_get_api,
    .lock = api_lock,
    .unlock = api_unlock,
    .log = api_log,
    .holds_lock_off_main = api_holds_lock_off_main,
    .run_on_main = api_run_on_main,
    .deny_keys = api_deny_keys,
};

void HostAPI_Init(RedisModuleCtx *onload_ctx) {
    /* The server keeps its GetApi function in the first word of the context. */
    server_get_api = (int (*)(const char *, void *))((void **)onload_ctx)[0];
    shared_ctx = RedisModule_GetDetachedThreadSafeContext(onload_ctx);
    main_thread = pthread_self();
}

void HostAPI_Release(void) {
    if (shared_ctx) RedisModule_FreeThreadSafeContext(shared_ctx);
    shared_ctx = NULL;
}

const void *Host_APIAddress(void) { return &host_api; }
