/* shared_api.h -- publishes the RedisAI_* entries to other modules. */
#ifndef ENGINE_SHARED_API_H
#define ENGINE_SHARED_API_H

#include "../common/rm_api.h"

/* Exports every implemented entry with RedisModule_ExportSharedAPI. */
void RAI_ExportSharedAPI(RedisModuleCtx *ctx);

#endif
