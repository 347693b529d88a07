/* script_commands.h -- AI.SCRIPTSTORE/SET/GET/DEL/EXECUTE/RUN, AI._SCRIPTSCAN. */
#ifndef ENGINE_SCRIPT_COMMANDS_H
#define ENGINE_SCRIPT_COMMANDS_H

#include "../common/rm_api.h"

int RAI_ScriptStoreCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ScriptSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ScriptGetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ScriptDelCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ScriptScanCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ScriptExecuteCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_ScriptRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
