/* script_ext.h -- the engine side of the TorchScript extensions
 * (redis.execute, redisAI.model_execute): the functions the backend reaches
 * through RAI_EngineOps (backend_api.h). */
#ifndef ENGINE_SCRIPT_EXT_H
#define ENGINE_SCRIPT_EXT_H

#include "../common/rm_api.h"
#include "backend_api.h"

/* At module load, on Redis's main thread: makes the context the extensions
 * share (used only by the thread holding the Redis lock). */
void RAI_ScriptExtInit(RedisModuleCtx *ctx);

/* What the extensions run with on this thread, for the script run under
 * way: its command's database, and its client's ACL user (NULL: full
 * rights).  RAI_ScriptExtEnter returns the previous one, to put back after. */
typedef struct RAI_ScriptExtRun {
    int db;
    RedisModuleString *user;
} RAI_ScriptExtRun;
RAI_ScriptExtRun RAI_ScriptExtEnter(RAI_ScriptExtRun run);

RAI_CommandReply *RAI_ScriptExtExecute(const char *const *argv, const size_t *lens, size_t argc, char *err);
void RAI_ScriptExtReplyFree(RAI_CommandReply *reply);
int RAI_ScriptExtModelExecute(const char *key, size_t keylen, RAI_Tensor *const *inputs, size_t ninputs,
                              RAI_Tensor **outputs, size_t noutputs, char *err);

#endif
