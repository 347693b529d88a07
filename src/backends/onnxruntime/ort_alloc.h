/* ort_alloc.h -- the allocator the ONNX Runtime sessions share (ort_alloc.c). */
#ifndef ORT_ALLOC_H
#define ORT_ALLOC_H

#include <stddef.h>

#include "../../engine/backend_api.h"
#include "ort_api.h"

/* Registers the allocator in `env` (once, at backend init).  `limit_mb` is
 * BACKEND_MEMORY_LIMIT (0: none).  0 on success, -1 with `err` set. */
int ort_alloc_init(const OrtFns *ort, const RAI_EngineOps *engine, OrtEnv *env, const OrtMemoryInfo *cpu,
                   long long limit_mb, char *err);
/* Around each load or run, on the thread that calls ORT: end returns 1
 * when an allocation took the memory held past the limit meanwhile, on
 * this thread or on one of ORT's own (the call must then fail). */
typedef struct {
    size_t own, pool;
} OrtAllocScope;
OrtAllocScope ort_alloc_begin(void);
int ort_alloc_end(OrtAllocScope scope);
/* 1 when BACKEND_MEMORY_LIMIT is set. */
int ort_alloc_limited(void);
/* Bytes held now, and allocations + frees so far (INFO). */
size_t ort_alloc_in_use(void);
size_t ort_alloc_accesses(void);

#define ORT_MEMORY_LIMIT_ERR "Onnxruntime memory limit exceeded, memory allocation failed."

#endif
