/* model_commands.h -- AI.MODELSTORE/GET/DEL/EXECUTE, AI._MODELSCAN. */
#ifndef ENGINE_MODEL_COMMANDS_H
#define ENGINE_MODEL_COMMANDS_H

#include "../common/rm_api.h"

int RAI_ModelStoreCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
/* AI.MODELSTORE without its arity check (argc >= 4): AI.MODELSET, which
 * is rewritten into it, has RedisAI's shorter arity. */
int RAI_ModelStoreFromArgs(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ModelGetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ModelDelCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ModelExecuteCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ModelScanCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
