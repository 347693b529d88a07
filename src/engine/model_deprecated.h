/* model_deprecated.h -- the deprecated AI.MODELSET and AI.MODELRUN. */
#ifndef ENGINE_MODEL_DEPRECATED_H
#define ENGINE_MODEL_DEPRECATED_H

#include "../common/rm_api.h"

int RAI_ModelSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ModelRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
