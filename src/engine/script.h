/* script.h -- a TorchScript script: the backend's compiled handle plus what
 * is needed to persist it (device, tag, source, entry points).  Ref-counted
 * like models; a run context holds its own reference. */
#ifndef ENGINE_SCRIPT_H
#define ENGINE_SCRIPT_H

#include "../common/rm_api.h"
#include "../include/redisai.h"
#include "backends.h"
#include "error.h"
#include "stats.h"

struct RAI_Script {
    char *devicestr;
    RedisModuleString *tag; /* NULL = empty tag */
    char *source;           /* as stored: SCRIPTGET, RDB and AOF return it */
    size_t nentry_points;   /* 0 for AI.SCRIPTSET / C-API / pre-v3 scripts */
    char **entry_points;
    void *handle;
    const RAI_BackendOps *ops;
    RAI_RunStats *stats; /* NULL for scripts made through the C API */
    long refcount;
};

extern RedisModuleType *RAI_ScriptType;

/* Compiles `source` on the TORCH backend, which must be loaded; each entry
 * point must exist with the (tensors, keys, args) signature.  `tag` is a
 * RedisModuleString or NULL. */
RAI_Script *RAI_ScriptCompile(const char *devicestr, RedisModuleString *tag, const char *source,
                              const char **entry_points, size_t nentry_points, RAI_Error *err);
/* The C API's create: no entry points. */
RAI_Script *RAI_ScriptCreate(const char *devicestr, RedisModuleString *tag, const char *source,
                             RAI_Error *err);
void RAI_ScriptFree(RAI_Script *script, RAI_Error *err);
RAI_Script *RAI_ScriptGetShallowCopy(RAI_Script *script);
/* The script is borrowed from the keyspace.  Errors: "ERR script key is
 * empty" (RAI_EKEYEMPTY), WRONGTYPE. */
int RAI_GetScriptFromKeyspace(RedisModuleCtx *ctx, RedisModuleString *keyName, RAI_Script **script,
                              int mode, RAI_Error *err);
int RAI_ScriptTypeRegister(RedisModuleCtx *ctx);

#endif
