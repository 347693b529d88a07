/* host_api.h -- what the Python host hands to the redisAI extension.
 *
 * The redisAI cffi extension is not a Redis module, so it cannot call the
 * module API on its own.  The host publishes this table; Python code gets its
 * address from `redisgears._host_api_address()` (an int) and the extension
 * binds to it.  Through `get_api` the extension resolves any RedisModule_*
 * entry by name (the server's own GetApi), and with `lock` it gets a context
 * for keyspace access and for RedisModule_GetSharedAPI.
 *
 * Locking rules (the host enforces them; the extension relies on them):
 * - `lock` takes the Redis lock, re-entrant per thread (a per-thread count;
 *   on Redis's main thread inside a command it is already held and only the
 *   count moves).  It returns the context to use until the matching unlock.
 * - The caller must NOT hold the Python GIL while calling `lock` (cffi
 *   releases the GIL around calls into C, so this holds by construction).
 * - Writes made under the lock through the returned context are replicated
 *   and reach the AOF when RedisModule_Replicate is called on it. */
#ifndef HOST_API_H
#define HOST_API_H

#define RG_HOST_API_VERSION 4

typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleString RedisModuleString;

typedef struct RG_HostAPI {
    unsigned version; /* RG_HOST_API_VERSION */
    int (*get_api)(const char *name, void *out); /* REDISMODULE_OK/ERR */
    RedisModuleCtx *(*lock)(void);
    void (*unlock)(void);
    void (*log)(const char *level, const char *msg);
    /* Version 2: nonzero when the calling thread, not Redis's main thread,
     * holds the Redis lock (lock() or atomic()).  Code that may want the
     * lock again through another path (a TorchScript redis.execute, which
     * the engine locks for itself off the main thread) must not start. */
    int (*holds_lock_off_main)(void);
    /* Version 3: calls fn(arg) soon on Redis's main thread, from any thread
     * (REDISMODULE_ERR when the server is shutting down: fn is then never
     * called).  The extension delivers the outcome of a run that a sync
     * flow awaits there, so the engine worker never takes the GIL. */
    int (*run_on_main)(void (*fn)(void *arg), void *arg);
    /* Version 4: may the flow code that asked touch these n keys, to read
     * them, or with `write` to write them?  `user` is what that code's
     * redisgears._current_user_address() gave (NULL: full rights); a write
     * is also refused while the server is over maxmemory.  Called with the
     * Redis lock held (ctx from `lock`).  NULL if it may, else the error
     * text to give (as redis.call gives it in Lua). */
    const char *(*deny_keys)(void *user, RedisModuleCtx *ctx, RedisModuleString **keys, size_t n, int write);
} RG_HostAPI;

#endif
