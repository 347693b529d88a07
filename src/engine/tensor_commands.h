/* tensor_commands.h -- AI.TENSORSET / AI.TENSORGET, and the argument parser
 * and reply writer that DAG ops reuse. */
#ifndef ENGINE_TENSOR_COMMANDS_H
#define ENGINE_TENSOR_COMMANDS_H

#include "../common/rm_api.h"
#include "error.h"
#include "tensor.h"

/* Reply formats, combinable. */
#define RAI_REPLY_META (1 << 1)
#define RAI_REPLY_VALUES (1 << 0)
#define RAI_REPLY_BLOB (1 << 2)

/* Parses `<type> [shape...] [BLOB data | VALUES v...]` (argv[0] is the type).
 * Returns a new tensor (ref-count 1) or NULL with `err` set. */
RAI_Tensor *RAI_TensorCreateFromArgs(RedisModuleString **argv, int argc, RAI_Error *err);
/* Parses the TENSORGET options in argv[0..argc); -1 with `err` set on error. */
int RAI_TensorParseReplyFormat(RedisModuleString **argv, int argc, RAI_Error *err);
void RAI_TensorReply(RedisModuleCtx *ctx, int fmt, RAI_Tensor *t);

int RAI_TensorSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
int RAI_TensorGetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

#endif
