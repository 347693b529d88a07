/* stats.c -- the AI.INFO registry: a small array, searched linearly.  It is
 * read by AI.INFO and written by MODELSTORE/SCRIPTSTORE/DEL, all on the main
 * thread, so it needs no lock. */
#include <pthread.h>
#include <string.h>

#include "stats.h"

static RAI_RunStats **entries;
static size_t nentries, capacity;
static pthread_t owner; /* the thread that creates entries: Redis's main thread */
static int owner_known;

/* A key can have more than one entry for a while: a value being loaded
 * (RESTORE ... REPLACE) gets its own next to the stored value's, and Redis
 * may still refuse it (then only its own entry goes).  The newest entry is
 * the key's; the older one goes when its value is freed. */
static long find(RedisModuleString *key) {
    for (size_t i = nentries; i-- > 0;)
        if (RedisModule_StringCompare(entries[i]->key, key) == 0) return (long)i;
    return -1;
}

static int superseded(size_t i) {
    for (size_t j = i + 1; j < nentries; j++)
        if (entries[j]->type == entries[i]->type && RedisModule_StringCompare(entries[j]->key, entries[i]->key) == 0)
            return 1;
    return 0;
}

RAI_RunStats *RAI_StatsCreate(RedisModuleString *key, RAI_RunType type, int backend,
                              const char *devicestr, RedisModuleString *tag) {
    if (!owner_known) owner = pthread_self(), owner_known = 1;
    RAI_RunStats *s = RedisModule_Calloc(1, sizeof(*s));
    size_t len;
    const char *k = RedisModule_StringPtrLen(key, &len);
    s->key = RedisModule_CreateString(NULL, k, len); /* our own copy, not the caller's argv */
    s->type = type;
    s->backend = backend;
    s->devicestr = RedisModule_Strdup(devicestr);
    if (tag) s->tag = RedisModule_HoldString(NULL, tag);
    s->refcount = 2; /* the registry's and the caller's */
    if (nentries == capacity) {
        capacity = capacity ? capacity * 2 : 16;
        entries = RedisModule_Realloc(entries, capacity * sizeof(*entries));
    }
    entries[nentries++] = s;
    return s;
}

static void remove_at(long i) {
    RAI_RunStats *s = entries[i];
    memmove(entries + i, entries + i + 1, (nentries - i - 1) * sizeof(*entries));
    nentries--;
    RAI_StatsRelease(s);
}

/* Entries whose model or script is gone.  Redis frees values on its
 * lazy-free thread for FLUSHALL ASYNC (and UNLINK of big ones), where the
 * registry is not touched: the value only drops its reference, leaving the
 * registry's.  Readers prune them first, so AI.INFO and the scans forget a
 * flushed key as soon as it is freed. */
static void prune_orphans(void) {
    for (size_t i = nentries; i-- > 0;)
        if (__atomic_load_n(&entries[i]->refcount, __ATOMIC_ACQUIRE) == 1) remove_at((long)i);
}

RAI_RunStats *RAI_StatsGet(RedisModuleString *key) {
    prune_orphans();
    long i = find(key);
    return i < 0 ? NULL : entries[i];
}

void RAI_StatsRemove(RedisModuleString *key) {
    for (long i; (i = find(key)) >= 0;) remove_at(i);
}

void RAI_StatsRemoveEntry(RAI_RunStats *s) {
    /* Redis frees values on its lazy-free thread for FLUSHALL ASYNC: the
     * registry is not touched from there (prune_orphans drops the entry). */
    if (!s || !owner_known || !pthread_equal(pthread_self(), owner)) return;
    for (size_t i = 0; i < nentries; i++) {
        if (entries[i] == s) {
            remove_at((long)i);
            return;
        }
    }
}

void RAI_StatsRelease(RAI_RunStats *s) {
    if (!s || __atomic_sub_fetch(&s->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
    RedisModule_FreeString(NULL, s->key);
    if (s->tag) RedisModule_FreeString(NULL, s->tag);
    RedisModule_Free(s->devicestr);
    RedisModule_Free(s);
}

void RAI_StatsAddRun(RAI_RunStats *s, int ok, long long duration_us, long long samples) {
    if (!s) return; /* C-API models have no entry: nothing to count */
    __atomic_add_fetch(&s->calls, 1, __ATOMIC_RELAXED);
    if (!ok) {
        __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_add_fetch(&s->duration_us, duration_us, __ATOMIC_RELAXED);
    if (samples >= 0) __atomic_add_fetch(&s->samples, samples, __ATOMIC_RELAXED);
}

void RAI_StatsReset(RAI_RunStats *s) {
    __atomic_store_n(&s->duration_us, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->samples, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&s->errors, 0, __ATOMIC_RELAXED);
}

static void reply_scan_entry(RedisModuleCtx *ctx, RAI_RunStats *s) {
    RedisModule_ReplyWithArray(ctx, 2);
    RedisModule_ReplyWithString(ctx, s->key);
    if (s->tag) RedisModule_ReplyWithString(ctx, s->tag);
    else RedisModule_ReplyWithCString(ctx, "");
}

void RAI_StatsReplyScan(RedisModuleCtx *ctx, RAI_RunType type) {
    /* Pruned once, before counting: the lazy-free thread may orphan an entry
     * at any moment, and a prune between the count and the elements would
     * send fewer elements than the array announced (the client then waits
     * for ever). */
    prune_orphans();
    long n = 0;
    for (size_t i = 0; i < nentries; i++) n += entries[i]->type == type && !superseded(i);
    RedisModule_ReplyWithArray(ctx, n);
    for (size_t i = 0; i < nentries; i++)
        if (entries[i]->type == type && !superseded(i)) reply_scan_entry(ctx, entries[i]);
}
