/* stats.h -- AI.INFO run statistics, one entry per model/script key.
 * The registry is touched only on Redis's main thread; counters are updated
 * atomically by worker threads through the entry a model or script holds. */
#ifndef ENGINE_STATS_H
#define ENGINE_STATS_H

#include "../common/rm_api.h"

typedef enum { RAI_RUN_MODEL = 0, RAI_RUN_SCRIPT = 1 } RAI_RunType;

typedef struct RAI_RunStats {
    RedisModuleString *key;
    RAI_RunType type;
    int backend;
    char *devicestr;
    RedisModuleString *tag; /* NULL = "" */
    long long duration_us, samples, calls, errors;
    long refcount;
} RAI_RunStats;

/* Creates an entry for `key` (replacing an older one) and returns it with
 * one reference for the caller, besides the registry's own. */
RAI_RunStats *RAI_StatsCreate(RedisModuleString *key, RAI_RunType type, int backend,
                              const char *devicestr, RedisModuleString *tag);
RAI_RunStats *RAI_StatsGet(RedisModuleString *key);
void RAI_StatsRemove(RedisModuleString *key);
/* Removes `s` itself if the registry still holds it (not a newer entry for
 * the same key): called when a model or script leaves the keyspace. */
void RAI_StatsRemoveEntry(RAI_RunStats *s);
void RAI_StatsRelease(RAI_RunStats *s);
/* Counts one run: on success its duration and samples, on failure an error. */
void RAI_StatsAddRun(RAI_RunStats *s, int ok, long long duration_us, long long samples);
void RAI_StatsReset(RAI_RunStats *s);
/* The reply of AI._MODELSCAN / AI._SCRIPTSCAN: [[key, tag], ...] of one type. */
void RAI_StatsReplyScan(RedisModuleCtx *ctx, RAI_RunType type);

#endif
