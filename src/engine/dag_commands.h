/* dag_commands.h -- AI.DAGEXECUTE, AI.DAGEXECUTE_RO, and the deprecated
 * AI.DAGRUN / AI.DAGRUN_RO. */
#ifndef ENGINE_DAG_COMMANDS_H
#define ENGINE_DAG_COMMANDS_H

#include "../common/rm_api.h"

int RAI_DAGExecuteCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_DAGExecuteROCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_DAGRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_DAGRunROCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
