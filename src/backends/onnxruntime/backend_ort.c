/* backend_ort.c -- the ONNX Runtime backend (backend_api.h contract).
 *
 * ONNX Runtime is dlopen'ed RTLD_LOCAL from lib/libonnxruntime.so.1 beside
 * this library and reached only through OrtGetApiBase (ort_api.h), never
 * linked: its symbols are versioned (dependencies.md §7.4).
 *
 * One OrtEnv for the process; one OrtSession per model.  OrtSession::Run is
 * thread-safe, so concurrent runs of one model from several engine workers
 * need no lock here.  Run is synchronous: it executes on the calling worker
 * thread (plus ORT's own intra-op pool). */
#define _GNU_SOURCE /* dladdr */
#include <ctype.h>
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/backend_api.h"
#include "ort_alloc.h"
#include "ort_api.h"
#include "ort_timeout.h"

#define EXPORT __attribute__((visibility("default")))

static const RAI_EngineOps *eng;
static RAI_BackendConfig cfg;
static OrtFns ort;
static const OrtApiBase *api_base;
static OrtEnv *env;
static OrtMemoryInfo *cpu_info;
static OrtAllocator *default_alloc;

typedef struct OrtModel {
    OrtSession *session;
    RAI_ModelSignature sig;
    int skip_logged; /* a non-tensor output was skipped and said so (atomic) */
} OrtModel;

/* Writes a one-line message into the caller's buffer: replies cannot carry
 * newlines, and ORT messages sometimes do. */
static void set_err(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, RAI_ERRLEN, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

/* Returns 0 for a NULL (success) status; otherwise copies ORT's own text
 * into err, releases the status and returns -1. */
static int check(OrtStatus *st, char *err) {
    if (!st) return 0;
    set_err(err, "%s", ort.GetErrorMessage(st));
    ort.ReleaseStatus(st);
    return -1;
}

static OrtElementType ort_type_of(RAI_DTypeId dt) {
    switch (dt) {
    case RAI_DT_FLOAT: return ORT_TYPE_FLOAT;
    case RAI_DT_DOUBLE: return ORT_TYPE_DOUBLE;
    case RAI_DT_INT8: return ORT_TYPE_INT8;
    case RAI_DT_INT16: return ORT_TYPE_INT16;
    case RAI_DT_INT32: return ORT_TYPE_INT32;
    case RAI_DT_INT64: return ORT_TYPE_INT64;
    case RAI_DT_UINT8: return ORT_TYPE_UINT8;
    case RAI_DT_UINT16: return ORT_TYPE_UINT16;
    case RAI_DT_BOOL: return ORT_TYPE_BOOL; /* both one byte, 0/1 */
    case RAI_DT_STRING: return ORT_TYPE_STRING;
    default: return ORT_TYPE_UNDEFINED;
    }
}

/* Own table: the backend cannot link against the engine's dtype.c. */
static size_t elem_size(RAI_DTypeId dt) {
    switch (dt) {
    case RAI_DT_DOUBLE: case RAI_DT_INT64: return 8;
    case RAI_DT_FLOAT: case RAI_DT_INT32: return 4;
    case RAI_DT_INT16: case RAI_DT_UINT16: return 2;
    default: return 1;
    }
}

static RAI_DTypeId rai_type_of(OrtElementType t) {
    for (int dt = 0; dt < RAI_DT_INVALID; dt++)
        if (ort_type_of((RAI_DTypeId)dt) == t) return (RAI_DTypeId)dt;
    return RAI_DT_INVALID;
}

static const char *ort_type_name(OrtElementType t) {
    static const char *names[] = {"UNDEFINED", "FLOAT",  "UINT8",   "INT8",      "UINT16",
                                  "INT16",     "INT32",  "INT64",   "STRING",    "BOOL",
                                  "FLOAT16",   "DOUBLE", "UINT32",  "UINT64",    "COMPLEX64",
                                  "COMPLEX128", "BFLOAT16"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

/* ---- loading ---------------------------------------------------------- */

/* Directory of this library, so the runtime is found in its lib/ sibling
 * wherever BACKENDSPATH points. */
static int own_dir(char *buf, size_t size) {
    Dl_info info;
    if (!dladdr((void *)&own_dir, &info) || !info.dli_fname) return -1;
    const char *slash = strrchr(info.dli_fname, '/');
    size_t n = slash ? (size_t)(slash - info.dli_fname) : 1;
    if (n + 1 > size) return -1;
    memcpy(buf, slash ? info.dli_fname : ".", n);
    buf[n] = '\0';
    return 0;
}

static int load_runtime(char *err) {
    char dir[4096], path[4200];
    if (own_dir(dir, sizeof(dir))) {
        set_err(err, "ERR ONNX backend: cannot locate its own library");
        return -1;
    }
    snprintf(path, sizeof(path), "%s/lib/libonnxruntime.so.1", dir);
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        set_err(err, "ERR ONNX backend: cannot load %s: %s", path, dlerror());
        return -1;
    }
    OrtGetApiBaseFn get_base = (OrtGetApiBaseFn)dlsym(lib, "OrtGetApiBase");
    api_base = get_base ? get_base() : NULL;
    const OrtApi *api = api_base ? api_base->GetApi(ORT_API_VERSION_USED) : NULL;
    if (!api) {
        set_err(err, "ERR ONNX backend: %s does not provide ORT API version %d", path,
                ORT_API_VERSION_USED);
        api_base = NULL;
        return -1;
    }
    ort_bind(&ort, (const OrtAnyFn *)api);
    return 0;
}

static int ort_init(const RAI_EngineOps *engine, const RAI_BackendConfig *config, char *err) {
    if (env) return 0; /* one OrtEnv per process */
    eng = engine;
    cfg = *config;
    if (!api_base && load_runtime(err)) return -1;
    if (check(ort.CreateEnv(ORT_LOGGING_LEVEL_WARNING, "redisai", &env), err)) return -1;
    if (check(ort.CreateCpuMemoryInfo(ORT_DEVICE_ALLOCATOR, ORT_MEM_TYPE_DEFAULT, &cpu_info), err) ||
        check(ort.GetAllocatorWithDefaultOptions(&default_alloc), err) ||
        ort_alloc_init(&ort, eng, env, cpu_info, cfg.backend_memory_limit, err) ||
        ort_timeout_init(&ort, cfg.model_execution_timeout, err)) {
        /* Not initialized: a later init starts over (an env left set would
         * make it return 0 on a backend without its allocator). */
        if (cpu_info) ort.ReleaseMemoryInfo(cpu_info);
        ort.ReleaseEnv(env); /* its registered allocator goes with it */
        env = NULL;
        cpu_info = NULL;
        return -1;
    }
    return 0;
}

static const char *ort_version(void) { return api_base ? api_base->GetVersionString() : "unknown"; }

/* ---- models ----------------------------------------------------------- */

/* "CPU" or "CPU:<digits>"; the engine refuses GPU first, this is a backstop. */
static int device_ok(const char *device) {
    if (!device || strncasecmp(device, "CPU", 3) != 0) return 0;
    if (device[3] == '\0') return 1;
    if (device[3] != ':' || !device[4]) return 0;
    for (const char *p = device + 4; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

static void free_names(const char **names, size_t n) {
    if (!names) return;
    for (size_t i = 0; i < n; i++) eng->free((void *)names[i]);
    eng->free(names);
}

static void ort_model_free(void *m) {
    OrtModel *model = m;
    if (!model) return;
    if (model->session) ort.ReleaseSession(model->session);
    free_names(model->sig.inputs, model->sig.ninputs);
    free_names(model->sig.outputs, model->sig.noutputs);
    eng->free(model);
}

typedef OrtStatus *(*NameFn)(const OrtSession *, size_t, OrtAllocator *, char **);

/* Copies the session's input or output names into engine memory, so the
 * signature does not depend on ORT's allocator. */
static int read_names(OrtSession *s, NameFn get, size_t n, const char ***out, char *err) {
    const char **names = eng->alloc(sizeof(char *) * (n ? n : 1));
    memset(names, 0, sizeof(char *) * (n ? n : 1));
    *out = names;
    for (size_t i = 0; i < n; i++) {
        char *name = NULL;
        if (check(get(s, i, default_alloc, &name), err)) return -1;
        size_t len = strlen(name) + 1;
        char *copy = eng->alloc(len);
        memcpy(copy, name, len);
        names[i] = copy;
        if (check(ort.AllocatorFree(default_alloc, name), err)) return -1;
    }
    return 0;
}

static int configure(OrtSessionOptions *so, const RAI_ModelOpts *opts, char *err) {
    /* Per-model settings win; the backend-wide ones are the fallback. */
    long long intra = opts && opts->backends_intra_op_parallelism > 0
                          ? opts->backends_intra_op_parallelism
                          : cfg.intra_op_parallelism;
    long long inter = opts && opts->backends_inter_op_parallelism > 0
                          ? opts->backends_inter_op_parallelism
                          : cfg.inter_op_parallelism;
    if (check(ort.SetSessionGraphOptimizationLevel(so, ORT_ENABLE_BASIC), err)) return -1;
    /* The env's allocator (ort_alloc.c) rather than a private arena per session. */
    if (check(ort.DisableCpuMemArena(so), err) ||
        check(ort.AddSessionConfigEntry(so, "session.use_env_allocators", "1"), err))
        return -1;
    if (intra > 0 && check(ort.SetIntraOpNumThreads(so, (int)intra), err)) return -1;
    if (inter > 0 && check(ort.SetInterOpNumThreads(so, (int)inter), err)) return -1;
    /* ORT's intra-op pool threads busy-wait after each parallel op by
     * default.  Beside redis-server's own threads that spinning takes the
     * CPU they need (measured: a batched run of the bench MLP kept a pool
     * thread busy 23 us per request): park them instead. */
    if (check(ort.AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), err)) return -1;
    return 0;
}

static void *ort_model_create(const char *device, const RAI_ModelOpts *opts, size_t ninputs,
                              const char *const *inputs, size_t noutputs,
                              const char *const *outputs, const char *blob, size_t len,
                              char *err) {
    (void)ninputs, (void)inputs, (void)noutputs, (void)outputs; /* TF only */
    if (!env) {
        set_err(err, "ERR ONNX backend is not initialized");
        return NULL;
    }
    if (!device_ok(device)) {
        set_err(err, "ERR unsupported device");
        return NULL;
    }
    OrtSessionOptions *so = NULL;
    if (check(ort.CreateSessionOptions(&so), err)) return NULL;
    OrtAllocScope mem = ort_alloc_begin();
    OrtModel *model = eng->alloc(sizeof(*model));
    memset(model, 0, sizeof(*model));
    int rc = configure(so, opts, err);
    if (!rc) rc = check(ort.CreateSessionFromArray(env, blob, len, so, &model->session), err);
    ort.ReleaseSessionOptions(so);
    if (!rc) rc = check(ort.SessionGetInputCount(model->session, &model->sig.ninputs), err);
    if (!rc) rc = check(ort.SessionGetOutputCount(model->session, &model->sig.noutputs), err);
    if (!rc)
        rc = read_names(model->session, ort.SessionGetInputName, model->sig.ninputs,
                        &model->sig.inputs, err);
    if (!rc)
        rc = read_names(model->session, ort.SessionGetOutputName, model->sig.noutputs,
                        &model->sig.outputs, err);
    if (ort_alloc_end(mem)) rc = -1, set_err(err, ORT_MEMORY_LIMIT_ERR);
    if (rc) {
        ort_model_free(model);
        return NULL;
    }
    return model;
}

static const RAI_ModelSignature *ort_model_signature(void *m) { return &((OrtModel *)m)->sig; }

/* ---- running ---------------------------------------------------------- */

/* Wraps an engine tensor as an OrtValue.  Numeric data is not copied: ORT
 * reads the engine's buffer in place (it does not require alignment; see
 * tests/backends/test_onnxruntime.py::test_unaligned_input).  STRING must be
 * copied: ORT keeps strings as std::string objects, filled by
 * FillStringTensor. */
static int input_value(RAI_Tensor *t, size_t index, OrtValue **out, char *err) {
    OrtElementType type = ort_type_of(t->dtype);
    if (type == ORT_TYPE_UNDEFINED) {
        set_err(err, "ERR ONNX backend: unsupported type for input %zu", index);
        return -1;
    }
    int64_t shape[t->ndims > 0 ? t->ndims : 1];
    for (int d = 0; d < t->ndims; d++) shape[d] = t->dims[d];
    if (type != ORT_TYPE_STRING)
        return check(ort.CreateTensorWithDataAsOrtValue(cpu_info, t->data, t->nbytes, shape,
                                                        (size_t)t->ndims, type, out),
                     err);
    if (check(ort.CreateTensorAsOrtValue(default_alloc, shape, (size_t)t->ndims, type, out), err))
        return -1;
    const char **strs = eng->alloc(sizeof(char *) * (t->len ? t->len : 1));
    for (size_t i = 0; i < t->len; i++) strs[i] = t->data + t->offsets[i];
    int rc = check(ort.FillStringTensor(*out, strs, t->len), err);
    eng->free(strs);
    return rc;
}

static void release_value(void *value) { ort.ReleaseValue(value); }

/* STRING output: ORT returns the characters without terminators plus start
 * offsets; the engine wants NUL-terminated elements, so this one is copied. */
static RAI_Tensor *string_output(OrtValue *v, const long long *dims, int ndims, size_t count,
                                 char *err) {
    size_t chars = 0;
    if (check(ort.GetStringTensorDataLength(v, &chars), err)) return NULL;
    char *content = eng->alloc(chars ? chars : 1);
    size_t *offs = eng->alloc(sizeof(size_t) * (count ? count : 1));
    char *blob = NULL;
    if (!check(ort.GetStringTensorContent(v, content, chars, offs, count), err)) {
        blob = eng->alloc(chars + count);
        char *p = blob;
        for (size_t i = 0; i < count; i++) {
            size_t end = i + 1 < count ? offs[i + 1] : chars;
            memcpy(p, content + offs[i], end - offs[i]);
            p += end - offs[i];
            *p++ = '\0';
        }
    }
    eng->free(content);
    eng->free(offs);
    if (!blob) return NULL;
    RAI_Tensor *t = eng->tensor_wrap(RAI_DT_STRING, dims, ndims, blob, chars + count, blob, eng->free);
    if (!t) {
        eng->free(blob);
        set_err(err, "ERR ONNX backend: output too large");
    }
    return t;
}

/* A sequence or map output (a classifier's ZipMap probabilities) has no
 * tensor form: it is dropped and its slot left NULL, so the engine writes
 * the other outputs.  Said once per model: the log would repeat it on
 * every run. */
static int skip_non_tensor(OrtModel *model, OrtValue **v, size_t index, char *err) {
    int is_tensor = 0;
    if (check(ort.IsTensor(*v, &is_tensor), err)) return -1;
    if (is_tensor) return 0;
    if (!__atomic_exchange_n(&model->skip_logged, 1, __ATOMIC_RELAXED) && eng->log) {
        char msg[512];
        snprintf(msg, sizeof msg, "ONNX output %zu (%s) is not a tensor: skipped, its key is not written", index,
                 model->sig.outputs[index]);
        eng->log("warning", msg);
    }
    ort.ReleaseValue(*v);
    *v = NULL;
    return 1;
}

/* Turns one ORT output into an engine tensor.  Numeric outputs borrow ORT's
 * memory (without a BACKEND_MEMORY_LIMIT): the tensor owns the OrtValue and
 * releases it when freed.  On
 * success the value is consumed; on failure the caller still owns it. */
static RAI_Tensor *output_tensor(OrtValue *v, size_t index, int *consumed, char *err) {
    *consumed = 0;
    OrtTensorTypeAndShapeInfo *info = NULL;
    if (check(ort.GetTensorTypeAndShape(v, &info), err)) return NULL;
    OrtElementType type = ORT_TYPE_UNDEFINED;
    size_t ndims = 0, count = 0;
    int64_t dims64[64];
    long long dims[64];
    int rc = check(ort.GetTensorElementType(info, &type), err);
    if (!rc) rc = check(ort.GetDimensionsCount(info, &ndims), err);
    if (!rc && ndims > 64) rc = -1, set_err(err, "ERR ONNX backend: output %zu has too many dims", index);
    if (!rc) rc = check(ort.GetDimensions(info, dims64, ndims), err);
    if (!rc) rc = check(ort.GetTensorShapeElementCount(info, &count), err);
    ort.ReleaseTensorTypeAndShapeInfo(info);
    if (rc) return NULL;
    for (size_t d = 0; d < ndims; d++) dims[d] = dims64[d];
    RAI_DTypeId dt = rai_type_of(type);
    if (dt == RAI_DT_INVALID) {
        set_err(err, "ERR ONNX backend: unsupported output type %s for output %zu",
                ort_type_name(type), index);
        return NULL;
    }
    if (dt == RAI_DT_STRING && count > 0) {
        RAI_Tensor *t = string_output(v, dims, (int)ndims, count, err);
        if (t) ort.ReleaseValue(v), *consumed = 1;
        return t;
    }
    for (size_t d = 0; d < ndims; d++) {
        if (dims[d] == 0) { /* the engine's tensors have no zero dims */
            set_err(err, "ERR ONNX backend: output %zu is empty (a zero dimension)", index);
            return NULL;
        }
    }
    void *data = NULL;
    if (check(ort.GetTensorMutableData(v, &data), err)) return NULL;
    size_t bytes = count * elem_size(dt); /* > 0: no zero dims here */
    void *owner = v;
    void (*release)(void *) = release_value;
    if (ort_alloc_limited()) {
        /* Copied under BACKEND_MEMORY_LIMIT: an output kept in ORT's memory
         * would count against the limit for as long as a key holds it, so
         * stored outputs would end up failing every run (RedisAI copies
         * them always). */
        owner = eng->alloc(bytes);
        memcpy(owner, data, bytes);
        data = owner;
        release = eng->free;
    }
    RAI_Tensor *t = eng->tensor_wrap(dt, dims, (int)ndims, data, bytes, owner, release);
    if (owner != v) {
        if (!t) eng->free(owner);
        else ort.ReleaseValue(v);
    }
    if (!t) {
        set_err(err, "ERR ONNX backend: output %zu too large", index);
        return NULL;
    }
    *consumed = 1;
    return t;
}

static int ort_model_run(void *m, RAI_Tensor *const *inputs, size_t ninputs, RAI_Tensor **outputs,
                         size_t noutputs, char *err) {
    OrtModel *model = m;
    if (ninputs != model->sig.ninputs) {
        set_err(err, "Number of keys given as INPUTS here does not match model definition");
        return -1;
    }
    if (noutputs != model->sig.noutputs) {
        set_err(err, "Number of keys given as OUTPUTS here does not match model definition");
        return -1;
    }
    size_t nin = ninputs ? ninputs : 1, nout = noutputs ? noutputs : 1;
    OrtValue *in[nin], *out[nout];
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));
    for (size_t i = 0; i < noutputs; i++) outputs[i] = NULL;
    int rc = 0;
    for (size_t i = 0; i < ninputs && !rc; i++) rc = input_value(inputs[i], i, &in[i], err);
    /* Run options per run: the timeout watchdog terminates through them. */
    OrtRunSlot slot = {0};
    if (!rc) rc = check(ort.CreateRunOptions(&slot.options), err);
    if (!rc) {
        ort_timeout_begin(&slot);
        OrtAllocScope mem = ort_alloc_begin();
        rc = check(ort.Run(model->session, slot.options, model->sig.inputs,
                           (const OrtValue *const *)in, ninputs, model->sig.outputs, noutputs, out),
                   err);
        if (ort_alloc_end(mem)) rc = -1, set_err(err, ORT_MEMORY_LIMIT_ERR);
        ort_timeout_end(&slot);
    }
    if (slot.options) ort.ReleaseRunOptions(slot.options);
    for (size_t i = 0; i < ninputs; i++)
        if (in[i]) ort.ReleaseValue(in[i]);
    for (size_t i = 0; i < noutputs && !rc; i++) {
        int skipped = skip_non_tensor(model, &out[i], i, err);
        if (skipped) {
            rc = skipped < 0 ? -1 : 0;
            continue;
        }
        int consumed = 0;
        outputs[i] = output_tensor(out[i], i, &consumed, err);
        if (consumed) out[i] = NULL;
        if (!outputs[i]) rc = -1;
    }
    if (!rc) return 0;
    /* Failure: nothing half-made leaks to the caller. */
    for (size_t i = 0; i < noutputs; i++) {
        if (outputs[i]) eng->tensor_free(outputs[i]);
        outputs[i] = NULL;
        if (out[i]) ort.ReleaseValue(out[i]);
    }
    return -1;
}

static void ort_info(void (*add)(void *info_ctx, const char *field, long long value), void *info_ctx) {
    add(info_ctx, "onnxruntime_memory", (long long)ort_alloc_in_use());
    add(info_ctx, "onnxruntime_memory_access_num", (long long)ort_alloc_accesses());
}

static const RAI_BackendOps ops = {
    .abi_version = RAI_BACKEND_ABI_VERSION,
    .name = "ONNX",
    .init = ort_init,
    .version = ort_version,
    .model_create = ort_model_create,
    .model_free = ort_model_free,
    .model_signature = ort_model_signature,
    .model_run = ort_model_run,
    .info = ort_info,
};

EXPORT const RAI_BackendOps *RAI_BackendGetOps(void) { return &ops; }
