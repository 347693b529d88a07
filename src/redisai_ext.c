/* redisai_ext.c -- C core of the `redisAI` Python API (cffi, API mode).
 *
 * Built by build_ffi.py into redisai._redisai_ext.  This file holds the lazy
 * binding to the host and the engine, dtype names, and the tensor entry
 * points; src/redisai_ext/keyspace.c holds the keyspace reads and writes.
 *
 * The engine is reached ONLY through its shared C API (RedisAI_* entries
 * resolved with RedisModule_GetSharedAPI), so the extension has no link-time
 * dependency on it and binds equally to the original RedisAI 1.2.7.
 * cffi releases the GIL around every call into this file, so waiting for the
 * Redis lock never holds the GIL. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "redisai_ext/ext.h"

rx_rm_table rm;
rx_rai_table rai;
const RG_HostAPI *rx_host;

static pthread_mutex_t bind_mutex = PTHREAD_MUTEX_INITIALIZER;
static int rm_ready;  /* rm and rx_host filled (under bind_mutex) */
static int rai_ready; /* rai filled; read lock-free with acquire semantics */

const char *const rx_dtype_names[RX_DT_COUNT] = {"FLOAT", "DOUBLE", "INT8", "INT16", "INT32",
                                                 "INT64", "UINT8", "UINT16", "BOOL", "STRING"};

int rx_fail(rx_err *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

static void host_log(const char *level, const char *msg) {
    if (rx_host && rx_host->log) rx_host->log(level, msg);
}

#define NOT_LOADED "RedisAI is not loaded, it is not possible to use AI interface."

static int bind_redis(const RG_HostAPI *h, rx_err *err) {
    void *probe = NULL;
    if (h->get_api("RedisModule_GetDetachedThreadSafeContext", &probe) != REDISMODULE_OK ||
        !probe) {
        if (h->log) h->log("warning", "Redis version is to old, please upgrade to a newer version.");
        return rx_fail(err, RX_NOTBOUND, NOT_LOADED);
    }
    rx_rm_table t;
    memset(&t, 0, sizeof(t));
#define RESOLVE_RM(ret, name, params)                                               \
    if (h->get_api("RedisModule_" #name, (void *)&t.name) != REDISMODULE_OK || !t.name) \
        return rx_fail(err, RX_ERROR, "the host does not provide RedisModule_%s", #name);
    RX_RM_LIST(RESOLVE_RM)
#undef RESOLVE_RM
    rm = t;
    rx_host = h;
    rm_ready = 1;
    return RX_OK;
}

static int bind_engine(rx_err *err) {
    rx_rai_table t;
    memset(&t, 0, sizeof(t));
    const char *missing = NULL;
    RedisModuleCtx *ctx = rx_host->lock();
    if (!ctx) return rx_fail(err, RX_ERROR, "could not take the Redis lock");
    /* Core entries (errors + tensors) are mandatory ... */
#define RESOLVE_CORE(ret, name, params)                                      \
    t.name = (ret(*) params)rm.GetSharedAPI(ctx, "RedisAI_" #name);           \
    if (!t.name && !missing) missing = "RedisAI_" #name;
    REDISAI_API_LIST_CORE(RESOLVE_CORE)
#undef RESOLVE_CORE
    /* ... models, scripts and DAG are optional: NULL until the engine has them. */
#define RESOLVE_OPT(ret, name, params) t.name = (ret(*) params)rm.GetSharedAPI(ctx, "RedisAI_" #name);
    REDISAI_API_LIST_MODELS(RESOLVE_OPT)
    REDISAI_API_LIST_SCRIPTS(RESOLVE_OPT)
    REDISAI_API_LIST_DAG(RESOLVE_OPT)
#undef RESOLVE_OPT
    int version = missing ? 0 : t.GetLLAPIVersion();
    rx_host->unlock();
    if (missing) {
        char msg[128];
        snprintf(msg, sizeof(msg), "could not initialize %s", missing);
        host_log("verbose", msg);
        return rx_fail(err, RX_NOTBOUND, NOT_LOADED);
    }
    if (version < 1) return rx_fail(err, RX_NOTBOUND, NOT_LOADED);
    rai = t;
    __atomic_store_n(&rai_ready, 1, __ATOMIC_RELEASE);
    return RX_OK;
}

int rx_bind(uintptr_t host_api_address, rx_err *err) {
    if (__atomic_load_n(&rai_ready, __ATOMIC_ACQUIRE)) return RX_OK;
    const RG_HostAPI *h = (const RG_HostAPI *)host_api_address;
    if (!h || h->version < RG_HOST_API_VERSION || !h->get_api || !h->lock || !h->unlock ||
        !h->holds_lock_off_main || !h->run_on_main || !h->deny_keys)
        return rx_fail(err, RX_ERROR, "invalid host API table");
    pthread_mutex_lock(&bind_mutex);
    int rc = RX_OK;
    if (!rm_ready) rc = bind_redis(h, err);
    if (rc == RX_OK && !__atomic_load_n(&rai_ready, __ATOMIC_ACQUIRE)) rc = bind_engine(err);
    pthread_mutex_unlock(&bind_mutex);
    return rc;
}

int rx_lock_redis(void) { return rm_ready && rx_host->lock() ? RX_OK : RX_ERROR; }

void rx_unlock_redis(void) {
    if (rm_ready) rx_host->unlock();
}

int rx_has_entry(const char *name) {
    if (!__atomic_load_n(&rai_ready, __ATOMIC_ACQUIRE) || !name) return 0;
#define HAS(ret, n, params) if (!strcmp(name, #n)) return rai.n != NULL;
    REDISAI_API_LIST(HAS)
#undef HAS
    return 0;
}

int rx_dtype_parse(const char *s) {
    if (!s) return RX_DT_UNKNOWN;
    /* Case-insensitive like the engine; the bit-width suffixes are digits,
     * so they still have to match exactly. */
    for (int i = 0; i < RX_DT_COUNT; i++)
        if (!strcasecmp(s, rx_dtype_names[i])) return i;
    return RX_DT_UNKNOWN;
}

const char *rx_dtype_name(int id) { return id >= 0 && id < RX_DT_COUNT ? rx_dtype_names[id] : NULL; }

/* ---- tensors ---------------------------------------------------------- */

RAI_Tensor *rx_tensor_create(const char *dtype, const long long *dims, int ndims, rx_err *err) {
    int id = rx_dtype_parse(dtype);
    if (id == RX_DT_STRING) {
        rx_fail(err, RX_ERROR, "STRING tensors are not supported by the redisAI Python API");
        return NULL;
    }
    for (int i = 0; i < ndims; i++) {
        if (dims[i] <= 0) {
            rx_fail(err, RX_ERROR, "dims arguments must be positive");
            return NULL;
        }
    }
    RAI_Tensor *t = rai.TensorCreate(dtype, (long long *)dims, ndims);
    if (!t) {
        if (id == RX_DT_UNKNOWN)
            rx_fail(err, RX_ERROR, "Failed creating tensor, make sure you put the right data type.");
        else
            rx_fail(err, RX_ERROR, "Failed creating tensor, the tensor is too large");
    }
    return t;
}

static int check_count(RAI_Tensor *t, size_t n, rx_err *err) {
    if (rai.TensorLength(t) != n)
        return rx_fail(err, RX_ERROR, "number of values does not match tensor shape");
    return RX_OK;
}

static int not_stored(RAI_Tensor *t, rx_err *err) {
    const char *name = rx_dtype_name(rx_tensor_dtype(t));
    return rx_fail(err, RX_ERROR,
                   "values can not be stored in a tensor of type %s, use createTensorFromBlob",
                   name ? name : "UNKNOWN");
}

int rx_tensor_set_doubles(RAI_Tensor *t, const double *values, size_t n, rx_err *err) {
    if (check_count(t, n, err)) return RX_ERROR;
    for (size_t i = 0; i < n; i++)
        if (rai.TensorSetValueFromDouble(t, (long long)i, values[i]) != 1) return not_stored(t, err);
    return RX_OK;
}

int rx_tensor_set_longs(RAI_Tensor *t, const long long *values, size_t n, rx_err *err) {
    if (check_count(t, n, err)) return RX_ERROR;
    for (size_t i = 0; i < n; i++)
        if (rai.TensorSetValueFromLongLong(t, (long long)i, values[i]) != 1) return not_stored(t, err);
    return RX_OK;
}

int rx_tensor_set_blob(RAI_Tensor *t, int dtype, const char *data, size_t len, rx_err *err) {
    if (len != rai.TensorByteSize(t))
        return rx_fail(err, RX_ERROR, "ERR data length does not match tensor shape and type");
    /* Copy #1 (the only one for a contiguous blob): the shared API has no way
     * to create a tensor over a caller's buffer, so the engine copies the
     * bytes into the buffer it owns. */
    if (rai.TensorSetData(t, data, len) != 1) {
        if (dtype == RX_DT_BOOL) return rx_fail(err, RX_ERROR, "ERR BOOL tensor elements must be 0 or 1");
        return rx_fail(err, RX_ERROR, "ERR could not set the tensor data");
    }
    return RX_OK;
}

void rx_tensor_free(RAI_Tensor *t) {
    if (t && __atomic_load_n(&rai_ready, __ATOMIC_ACQUIRE)) rai.TensorFree(t);
}

int rx_tensor_ndims(RAI_Tensor *t) { return rai.TensorNumDims(t); }
long long rx_tensor_dim(RAI_Tensor *t, int i) { return rai.TensorDim(t, i); }
size_t rx_tensor_length(RAI_Tensor *t) { return rai.TensorLength(t); }
size_t rx_tensor_bytesize(RAI_Tensor *t) { return rai.TensorByteSize(t); }
char *rx_tensor_data(RAI_Tensor *t) { return rai.TensorData(t); }
int rx_tensor_dtype(RAI_Tensor *t) { return rx_probe_dtype(t, NULL, NULL); }
