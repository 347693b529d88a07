/* model_deprecated.h -- the deprecated AI.MODELSET and AI.MODELRUN. */
#ifndef ENGINE_MODEL_DEPRECATED_H
#define ENGINE_MODEL_DEPRECATED_H

#include "../common/rm_api.h"

int RAI_ModelSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
/* AI.MODELRUN's own texts, shared with its DAG op. */
#define RAI_ERR_MODELRUN_ARGS "ERR wrong number of arguments for 'AI.MODELRUN' command"
#define RAI_ERR_MODELRUN_OUTPUTS "ERR Number of keys given as OUTPUTS here does not match model definition"

int RAI_ModelRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
