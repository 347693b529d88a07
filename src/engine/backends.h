/* backends.h -- loading backend libraries and finding their operations. */
#ifndef ENGINE_BACKENDS_H
#define ENGINE_BACKENDS_H

#include "../common/rm_api.h"
#include "backend_api.h"
#include "error.h"

typedef enum { RAI_BACKEND_TF = 0, RAI_BACKEND_TFLITE = 1, RAI_BACKEND_TORCH = 2, RAI_BACKEND_ONNX = 3,
               RAI_BACKEND_COUNT } RAI_Backend;

/* "TF", "TFLITE", "TORCH", "ONNX" (case-insensitive) -> id, -1 if unknown. */
int RAI_BackendFromString(const char *name);
const char *RAI_BackendName(RAI_Backend b);
/* The loaded operations of a backend, NULL if it is not loaded. */
const RAI_BackendOps *RAI_BackendGet(RAI_Backend b);
/* Loads from `path` (relative paths are under BACKENDSPATH). */
int RAI_LoadBackend(RedisModuleCtx *ctx, RAI_Backend b, const char *path);
/* Loads <BACKENDSPATH>/redisai_<x>/redisai_<x>.so unless already loaded. */
int RAI_LoadDefaultBackend(RedisModuleCtx *ctx, RAI_Backend b);
void RAI_BackendsInfo(RedisModuleInfoCtx *ctx);

#endif
