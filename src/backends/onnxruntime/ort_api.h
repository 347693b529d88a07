/* ort_api.h -- the project's own declarations of the ONNX Runtime C API
 * entries this backend calls.  No registry ships onnxruntime_c_api.h
 * (dependencies.md §7.2), so we declare only what we use:
 *
 * - OrtGetApiBase() returns {GetApi(version), GetVersionString()};
 * - OrtApi is an append-only table of function pointers, so each entry is
 *   picked by its index (dependencies.md §7.3, every index below is in the
 *   spec's verified tables) and bound to a typed pointer in `ort`.
 *
 * On Linux ORT_API_CALL is empty, so the plain C calling convention applies.
 * Every entry that returns OrtStatus* returns NULL on success. */
#ifndef ORT_API_H
#define ORT_API_H

#include <stddef.h>
#include <stdint.h>

/* Requesting an older API version from a newer library works (§7.3); 13 is
 * the version the indices were confirmed against. */
#define ORT_API_VERSION_USED 13

typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtRunOptions OrtRunOptions;
typedef struct OrtValue OrtValue;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtAllocator OrtAllocator;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;

typedef enum {
    ORT_TYPE_UNDEFINED = 0, ORT_TYPE_FLOAT = 1, ORT_TYPE_UINT8 = 2, ORT_TYPE_INT8 = 3,
    ORT_TYPE_UINT16 = 4, ORT_TYPE_INT16 = 5, ORT_TYPE_INT32 = 6, ORT_TYPE_INT64 = 7,
    ORT_TYPE_STRING = 8, ORT_TYPE_BOOL = 9, ORT_TYPE_FLOAT16 = 10, ORT_TYPE_DOUBLE = 11,
    ORT_TYPE_UINT32 = 12, ORT_TYPE_UINT64 = 13, ORT_TYPE_COMPLEX64 = 14, ORT_TYPE_COMPLEX128 = 15,
    ORT_TYPE_BFLOAT16 = 16
} OrtElementType;

enum { ORT_LOGGING_LEVEL_WARNING = 2 };
enum { ORT_ENABLE_BASIC = 1 };
enum { ORT_DEVICE_ALLOCATOR = 0, ORT_ARENA_ALLOCATOR = 1 };
enum { ORT_MEM_TYPE_DEFAULT = 0 };

typedef struct OrtApi OrtApi;
typedef struct OrtApiBase {
    const OrtApi *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;
typedef const OrtApiBase *(*OrtGetApiBaseFn)(void);

/* Typed view of the entries used; filled by ort_bind() from the table. */
typedef struct OrtFns {
    const char *(*GetErrorMessage)(const OrtStatus *status);                           /* 2 */
    OrtStatus *(*CreateEnv)(int level, const char *logid, OrtEnv **out);             /* 3 */
    OrtStatus *(*CreateSessionFromArray)(const OrtEnv *env, const void *data, size_t len,
                                         const OrtSessionOptions *opts, OrtSession **out); /* 8 */
    OrtStatus *(*Run)(OrtSession *s, const OrtRunOptions *ro, const char *const *in_names,
                      const OrtValue *const *inputs, size_t nin, const char *const *out_names,
                      size_t nout, OrtValue **outputs);                                 /* 9 */
    OrtStatus *(*CreateSessionOptions)(OrtSessionOptions **out);                       /* 10 */
    OrtStatus *(*DisableCpuMemArena)(OrtSessionOptions *o);                            /* 19 */
    OrtStatus *(*SetSessionGraphOptimizationLevel)(OrtSessionOptions *o, int level);   /* 23 */
    OrtStatus *(*SetIntraOpNumThreads)(OrtSessionOptions *o, int n);                   /* 24 */
    OrtStatus *(*SetInterOpNumThreads)(OrtSessionOptions *o, int n);                   /* 25 */
    OrtStatus *(*SessionGetInputCount)(const OrtSession *s, size_t *out);              /* 30 */
    OrtStatus *(*SessionGetOutputCount)(const OrtSession *s, size_t *out);             /* 31 */
    OrtStatus *(*SessionGetInputName)(const OrtSession *s, size_t i, OrtAllocator *a,
                                      char **out);                                      /* 36 */
    OrtStatus *(*SessionGetOutputName)(const OrtSession *s, size_t i, OrtAllocator *a,
                                       char **out);                                     /* 37 */
    OrtStatus *(*CreateRunOptions)(OrtRunOptions **out);                               /* 39 */
    OrtStatus *(*RunOptionsSetTerminate)(OrtRunOptions *o);                            /* 46 */
    OrtStatus *(*CreateTensorAsOrtValue)(OrtAllocator *a, const int64_t *shape, size_t ndims,
                                         OrtElementType type, OrtValue **out);          /* 48 */
    OrtStatus *(*CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo *info, void *data,
                                                 size_t nbytes, const int64_t *shape,
                                                 size_t ndims, OrtElementType type,
                                                 OrtValue **out);                       /* 49 */
    OrtStatus *(*IsTensor)(const OrtValue *v, int *out);                               /* 50 */
    OrtStatus *(*GetTensorMutableData)(OrtValue *v, void **out);                       /* 51 */
    OrtStatus *(*FillStringTensor)(OrtValue *v, const char *const *s, size_t n);       /* 52 */
    OrtStatus *(*GetStringTensorDataLength)(const OrtValue *v, size_t *len);           /* 53 */
    OrtStatus *(*GetStringTensorContent)(const OrtValue *v, void *s, size_t s_len,
                                         size_t *offsets, size_t n);                    /* 54 */
    OrtStatus *(*GetTensorElementType)(const OrtTensorTypeAndShapeInfo *i,
                                       OrtElementType *out);                            /* 60 */
    OrtStatus *(*GetDimensionsCount)(const OrtTensorTypeAndShapeInfo *i, size_t *out);  /* 61 */
    OrtStatus *(*GetDimensions)(const OrtTensorTypeAndShapeInfo *i, int64_t *dims,
                                size_t n);                                              /* 62 */
    OrtStatus *(*GetTensorShapeElementCount)(const OrtTensorTypeAndShapeInfo *i,
                                             size_t *out);                              /* 64 */
    OrtStatus *(*GetTensorTypeAndShape)(const OrtValue *v, OrtTensorTypeAndShapeInfo **out); /* 65 */
    OrtStatus *(*CreateCpuMemoryInfo)(int alloc_type, int mem_type, OrtMemoryInfo **out); /* 69 */
    OrtStatus *(*AllocatorFree)(OrtAllocator *a, void *p);                             /* 76 */
    OrtStatus *(*GetAllocatorWithDefaultOptions)(OrtAllocator **out);                  /* 78 */
    void (*ReleaseEnv)(OrtEnv *e);                                                     /* 92 */
    void (*ReleaseStatus)(OrtStatus *s);                                               /* 93 */
    void (*ReleaseMemoryInfo)(OrtMemoryInfo *m);                                       /* 94 */
    void (*ReleaseSession)(OrtSession *s);                                             /* 95 */
    void (*ReleaseValue)(OrtValue *v);                                                 /* 96 */
    void (*ReleaseRunOptions)(OrtRunOptions *o);                                       /* 97 */
    void (*ReleaseTensorTypeAndShapeInfo)(OrtTensorTypeAndShapeInfo *i);               /* 99 */
    void (*ReleaseSessionOptions)(OrtSessionOptions *o);                               /* 100 */
    OrtStatus *(*AddSessionConfigEntry)(OrtSessionOptions *o, const char *key,
                                        const char *value);                             /* 130 */
    OrtStatus *(*RegisterAllocator)(OrtEnv *env, OrtAllocator *a);                     /* 176 */
} OrtFns;

/* Generic function pointer: casting it to a typed one is exempt from
 * -Wcast-function-type. */
typedef void (*OrtAnyFn)(void);

#define ORT_BIND(fns, table, name, index) ((fns)->name = (__typeof__((fns)->name))(table)[index])

static inline void ort_bind(OrtFns *f, const OrtAnyFn *t) {
    ORT_BIND(f, t, GetErrorMessage, 2);
    ORT_BIND(f, t, CreateEnv, 3);
    ORT_BIND(f, t, CreateSessionFromArray, 8);
    ORT_BIND(f, t, Run, 9);
    ORT_BIND(f, t, CreateSessionOptions, 10);
    ORT_BIND(f, t, DisableCpuMemArena, 19);
    ORT_BIND(f, t, SetSessionGraphOptimizationLevel, 23);
    ORT_BIND(f, t, SetIntraOpNumThreads, 24);
    ORT_BIND(f, t, SetInterOpNumThreads, 25);
    ORT_BIND(f, t, SessionGetInputCount, 30);
    ORT_BIND(f, t, SessionGetOutputCount, 31);
    ORT_BIND(f, t, SessionGetInputName, 36);
    ORT_BIND(f, t, SessionGetOutputName, 37);
    ORT_BIND(f, t, CreateRunOptions, 39);
    ORT_BIND(f, t, RunOptionsSetTerminate, 46);
    ORT_BIND(f, t, CreateTensorAsOrtValue, 48);
    ORT_BIND(f, t, CreateTensorWithDataAsOrtValue, 49);
    ORT_BIND(f, t, IsTensor, 50);
    ORT_BIND(f, t, GetTensorMutableData, 51);
    ORT_BIND(f, t, FillStringTensor, 52);
    ORT_BIND(f, t, GetStringTensorDataLength, 53);
    ORT_BIND(f, t, GetStringTensorContent, 54);
    ORT_BIND(f, t, GetTensorElementType, 60);
    ORT_BIND(f, t, GetDimensionsCount, 61);
    ORT_BIND(f, t, GetDimensions, 62);
    ORT_BIND(f, t, GetTensorShapeElementCount, 64);
    ORT_BIND(f, t, GetTensorTypeAndShape, 65);
    ORT_BIND(f, t, CreateCpuMemoryInfo, 69);
    ORT_BIND(f, t, AllocatorFree, 76);
    ORT_BIND(f, t, GetAllocatorWithDefaultOptions, 78);
    ORT_BIND(f, t, ReleaseEnv, 92);
    ORT_BIND(f, t, ReleaseStatus, 93);
    ORT_BIND(f, t, ReleaseMemoryInfo, 94);
    ORT_BIND(f, t, ReleaseSession, 95);
    ORT_BIND(f, t, ReleaseValue, 96);
    ORT_BIND(f, t, ReleaseRunOptions, 97);
    ORT_BIND(f, t, ReleaseTensorTypeAndShapeInfo, 99);
    ORT_BIND(f, t, ReleaseSessionOptions, 100);
    ORT_BIND(f, t, AddSessionConfigEntry, 130); /* API 5 on; every ONNX model load calls it */
    ORT_BIND(f, t, RegisterAllocator, 176);     /* API 11 on; called at every backend init */
}

#endif
