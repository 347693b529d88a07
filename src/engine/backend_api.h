/* backend_api.h -- the contract between the engine and a backend library.
 *
 * Each backend (ONNX Runtime, libtorch, TensorFlow) is its own shared
 * library, dlopen'ed RTLD_LOCAL by the engine at first use, at start-up or by
 * AI.CONFIG LOADBACKEND.  It exports one symbol:
 *
 *     const RAI_BackendOps *RAI_BackendGetOps(void);
 *
 * and gets from the engine, at init, the few engine functions it may call
 * (RAI_EngineOps): the backend cannot link against the engine, which Redis
 * loads RTLD_LOCAL.
 *
 * Rules for backends:
 * - No C++ exception crosses this interface: every entry catches and returns
 *   an error.  Errors are written to the caller's buffer `err` (RAI_ERRLEN
 *   bytes, NUL-terminated) in the text the user should see.
 * - Runs are called on engine worker threads, several at once for different
 *   models (and for the same model when THREADS_PER_QUEUE > 1).
 * - Inputs are passed without copying (the backend wraps tensor->data);
 *   outputs are returned as tensors that borrow the backend's own output
 *   memory (engine->tensor_wrap) wherever the runtime allows it.  Say in a
 *   comment where a copy cannot be avoided.
 * - Input data may be unaligned (large TENSORSET blobs are kept in the
 *   Redis argument string, see tensor_commands.c). */
#ifndef ENGINE_BACKEND_API_H
#define ENGINE_BACKEND_API_H

#include <stddef.h>

#include "../include/redisai.h"
#include "dtype.h"
#include "tensor.h"

#define RAI_BACKEND_ABI_VERSION 3
#define RAI_ERRLEN 1024

/* A Redis command's reply as handed to a backend (redis.execute in
 * TorchScript).  RESP2 shapes: status and bulk replies are both STRING
 * (binary-safe, NUL-terminated for convenience), a null bulk or array is NIL.
 * Error replies never reach the backend: execute() returns them as errors. */
typedef enum { RAI_REPLY_NIL = 0, RAI_REPLY_STRING, RAI_REPLY_INTEGER, RAI_REPLY_ARRAY } RAI_CommandReplyType;

typedef struct RAI_CommandReply {
    RAI_CommandReplyType type;
    long long integer;                 /* INTEGER */
    char *str;                         /* STRING */
    size_t len;                        /* STRING: bytes; ARRAY: elements */
    struct RAI_CommandReply *elements; /* ARRAY */
} RAI_CommandReply;

/* Engine functions a backend may call. */
typedef struct RAI_EngineOps {
    RAI_Tensor *(*tensor_new)(RAI_DTypeId dt, const long long *dims, int ndims);
    RAI_Tensor *(*tensor_wrap)(RAI_DTypeId dt, const long long *dims, int ndims, char *data,
                               size_t nbytes, void *owner, void (*release)(void *owner));
    void (*tensor_free)(RAI_Tensor *t);
    void *(*alloc)(size_t bytes); /* RedisModule_Alloc: counted in used_memory */
    void (*free)(void *ptr);
    void (*log)(const char *level, const char *msg);

    /* TorchScript extensions, called from inside a script run on the thread
     * running the script (script_ext.c).  execute runs argv[0] with the other
     * arguments as a Redis command, taking the Redis lock unless the caller
     * is Redis's main thread, and returns its reply (free with reply_free), or
     * NULL with `err` set to the error reply.  model_execute runs the model
     * stored at `key` on the calling thread (the lock is held only to find
     * it) and fills `outputs` with `noutputs` new tensors owned by the
     * caller; 0 on success, -1 with `err` set. */
    RAI_CommandReply *(*execute)(const char *const *argv, const size_t *lens, size_t argc, char *err);
    void (*reply_free)(RAI_CommandReply *reply);
    int (*model_execute)(const char *key, size_t keylen, RAI_Tensor *const *inputs, size_t ninputs,
                         RAI_Tensor **outputs, size_t noutputs, char *err);
} RAI_EngineOps;

/* Settings handed over at init (module arguments / AI.CONFIG). */
typedef struct RAI_BackendConfig {
    long long intra_op_parallelism; /* 0 = runtime default */
    long long inter_op_parallelism; /* 0 = runtime default */
    long long backend_memory_limit; /* MB, 0 = unlimited (ONNX) */
    long long model_execution_timeout; /* ms (ONNX) */
} RAI_BackendConfig;

/* Names a model reports for AI.MODELGET META; owned by the backend model. */
typedef struct RAI_ModelSignature {
    size_t ninputs;
    const char **inputs;
    size_t noutputs;
    const char **outputs;
} RAI_ModelSignature;

typedef struct RAI_BackendOps {
    unsigned abi_version;  /* RAI_BACKEND_ABI_VERSION */
    const char *name;      /* "ONNX", "TORCH", "TF" */
    int (*init)(const RAI_EngineOps *engine, const RAI_BackendConfig *config, char *err);
    const char *(*version)(void); /* runtime version for INFO */

    /* Models.  `device` is "CPU" or "CPU:<n>" (GPU is refused by the engine
     * before this is called on a CPU-only build).  `opts` carries batching and
     * per-model parallelism.  `inputs`/`outputs` are the INPUTS/OUTPUTS names
     * (TF only, NULL otherwise). */
    void *(*model_create)(const char *device, const RAI_ModelOpts *opts, size_t ninputs,
                          const char *const *inputs, size_t noutputs, const char *const *outputs,
                          const char *blob, size_t len, char *err);
    void (*model_free)(void *model);
    const RAI_ModelSignature *(*model_signature)(void *model);
    /* Runs once.  `outputs` has `noutputs` slots the backend fills with new
     * tensors (ref-count 1, owned by the caller); a slot stays NULL for an
     * output that is no tensor (ONNX sequences and maps), which the engine
     * skips.  Returns 0 on success, -1 with `err` set. */
    int (*model_run)(void *model, RAI_Tensor *const *inputs, size_t ninputs, RAI_Tensor **outputs,
                     size_t noutputs, char *err);

    /* TorchScript scripts (TORCH only; NULL elsewhere). */
    void *(*script_create)(const char *device, const char *source, const char *const *entry_points,
                           size_t n_entry_points, char *err);
    void (*script_free)(void *script);
    /* Calls `fn`.  With the new-style signature (tensors, keys, args) the
     * three lists are passed as such; otherwise inputs map by position, and
     * with `variadic` >= 0 the inputs from that index on go as one list
     * (AI.SCRIPTRUN's `$`).  Writes up to `max_outputs` new tensors and
     * their count to *noutputs (0 when the function returns None). */
    int (*script_run)(void *script, const char *fn, RAI_Tensor *const *inputs, size_t ninputs, long variadic,
                      const char *const *keys, size_t nkeys, const char *const *args, size_t nargs,
                      RAI_Tensor **outputs, size_t max_outputs, size_t *noutputs, char *err);

    /* More INFO fields (named without the "ai_" prefix), or NULL. */
    void (*info)(void (*add)(void *info_ctx, const char *field, long long value), void *info_ctx);
} RAI_BackendOps;

typedef const RAI_BackendOps *(*RAI_BackendGetOpsFn)(void);

#endif
