/* admin_commands.h -- AI.INFO and AI.CONFIG. */
#ifndef ENGINE_ADMIN_COMMANDS_H
#define ENGINE_ADMIN_COMMANDS_H

#include "../common/rm_api.h"

int RAI_InfoCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ConfigCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
