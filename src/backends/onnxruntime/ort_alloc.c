/* ort_alloc.c -- the allocator the ONNX Runtime sessions share.
 *
 * Registered in the OrtEnv; every session uses it (session.use_env_allocators
 * = 1, no CPU arena), so model weights, intermediate values and outputs:
 * - come from RedisModule_Alloc, which Redis counts in used_memory;
 * - are aligned to 64 bytes, as ORT's own CPU allocator aligns them;
 * - are counted for INFO (ai_onnxruntime_memory, ..._memory_access_num);
 * - are checked against BACKEND_MEMORY_LIMIT.  An allocation past it is
 *   still made, and counted as an overrun: ORT 1.32 does not check for a
 *   NULL block everywhere (a model load crashed on one of its threads), and
 *   C cannot throw the exception it expects.  The backend fails the load or
 *   run that made an overrun (ORT_MEMORY_LIMIT_ERR), which frees what it
 *   took; the limit can be passed by that much for that long.  An overrun is
 *   the call's own when made on the thread that called ORT (see
 *   ort_alloc_begin); one made on another of ORT's threads (its intra-op
 *   pool) cannot be told apart and fails every call in progress.
 * ORT calls it from any of its threads: the shared counters are atomic. */
#include "ort_alloc.h"

#include <stdint.h>
#include <stdio.h>

#define ALIGN 64

/* The first members of ORT's OrtAllocator, which are all this allocator
 * fills.  `version` tells ORT which later members exist: 13, the API
 * version requested, has none of them. */
typedef struct RedisOrtAllocator {
    uint32_t version;
    void *(*Alloc)(struct RedisOrtAllocator *self, size_t size);
    void (*Free)(struct RedisOrtAllocator *self, void *p);
    const OrtMemoryInfo *(*Info)(const struct RedisOrtAllocator *self);
} RedisOrtAllocator;

/* Just before each block: its size and where the allocation starts. */
typedef struct BlockHead {
    size_t size;
    void *start;
} BlockHead;

static const RAI_EngineOps *eng;
static const OrtMemoryInfo *cpu_info;
static size_t limit_bytes, in_use, accesses, pool_overruns;
static __thread int in_call;          /* this thread is inside a load or run */
static __thread size_t call_overruns; /* made by this thread inside one */

static void *alloc_block(RedisOrtAllocator *self, size_t size) {
    (void)self;
    __atomic_add_fetch(&accesses, 1, __ATOMIC_RELAXED);
    if (size > SIZE_MAX - ALIGN - sizeof(BlockHead)) return NULL; /* no allocator could: ORT reports it */
    size_t now = __atomic_add_fetch(&in_use, size, __ATOMIC_RELAXED);
    if (limit_bytes && now > limit_bytes) {
        if (in_call) call_overruns++;
        else __atomic_add_fetch(&pool_overruns, 1, __ATOMIC_RELAXED);
    }
    char *start = eng->alloc(size + ALIGN + sizeof(BlockHead));
    uintptr_t p = ((uintptr_t)start + sizeof(BlockHead) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    BlockHead *head = (BlockHead *)p - 1;
    head->size = size;
    head->start = start;
    return (void *)p;
}

static void free_block(RedisOrtAllocator *self, void *p) {
    (void)self;
    if (!p) return;
    BlockHead *head = (BlockHead *)p - 1;
    __atomic_sub_fetch(&in_use, head->size, __ATOMIC_RELAXED);
    __atomic_add_fetch(&accesses, 1, __ATOMIC_RELAXED);
    eng->free(head->start);
}

static const OrtMemoryInfo *block_info(const RedisOrtAllocator *self) {
    (void)self;
    return cpu_info;
}

static RedisOrtAllocator allocator = {
    .version = ORT_API_VERSION_USED, .Alloc = alloc_block, .Free = free_block, .Info = block_info};

int ort_alloc_init(const OrtFns *ort, const RAI_EngineOps *engine, OrtEnv *env, const OrtMemoryInfo *cpu,
                   long long limit_mb, char *err) {
    eng = engine;
    cpu_info = cpu;
    limit_bytes = limit_mb > 0 && (unsigned long long)limit_mb < SIZE_MAX / (1024 * 1024)
                      ? (size_t)limit_mb * 1024 * 1024 : 0;
    OrtStatus *st = ort->RegisterAllocator(env, (OrtAllocator *)&allocator);
    if (!st) return 0;
    snprintf(err, RAI_ERRLEN, "ERR ONNX backend: cannot register the allocator: %s", ort->GetErrorMessage(st));
    ort->ReleaseStatus(st);
    return -1;
}

OrtAllocScope ort_alloc_begin(void) {
    in_call = 1;
    return (OrtAllocScope){call_overruns, __atomic_load_n(&pool_overruns, __ATOMIC_RELAXED)};
}

int ort_alloc_end(OrtAllocScope scope) {
    in_call = 0;
    return call_overruns != scope.own || __atomic_load_n(&pool_overruns, __ATOMIC_RELAXED) != scope.pool;
}

int ort_alloc_limited(void) { return limit_bytes > 0; }
size_t ort_alloc_in_use(void) { return __atomic_load_n(&in_use, __ATOMIC_RELAXED); }
size_t ort_alloc_accesses(void) { return __atomic_load_n(&accesses, __ATOMIC_RELAXED); }
