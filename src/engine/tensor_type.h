/* tensor_type.h -- the AI_TENSOR Redis data type and keyspace access. */
#ifndef ENGINE_TENSOR_TYPE_H
#define ENGINE_TENSOR_TYPE_H

#include "../common/rm_api.h"
#include "error.h"
#include "tensor.h"

#define RAI_ENC_VER 4

extern RedisModuleType *RAI_TensorType;

int RAI_TensorTypeRegister(RedisModuleCtx *ctx);

/* Reads a tensor key.  The tensor is borrowed from the keyspace (no ref
 * taken).  Errors: "ERR tensor key is empty or in a different shard",
 * WRONGTYPE. */
int RAI_TensorGetFromKeyspace(RedisModuleCtx *ctx, RedisModuleString *keyname, RAI_Tensor **t,
                              RAI_Error *err);
/* Stores `t` under `keyname`, taking over one reference; replaces an
 * existing tensor, refuses (WRONGTYPE, REDISMODULE_ERR) any other value. */
int RAI_TensorStore(RedisModuleCtx *ctx, RedisModuleString *keyname, RAI_Tensor *t,
                    RAI_Error *err);
/* Propagates `t` to replicas and the AOF as AI.TENSORSET key dtype dims BLOB. */
void RAI_TensorReplicate(RedisModuleCtx *ctx, RedisModuleString *keyname, RAI_Tensor *t);

#endif
