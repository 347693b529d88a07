/* keyspace.c -- tensor keys: read, write (replicated + notified), and the
 * dtype probe.
 *
 * The Redis lock is held only around keyspace access: key names and the
 * replication arguments are prepared before taking it.  RedisModuleStrings
 * are freed while the lock is still held, because Replicate and OpenKey may
 * have retained them and Redis reference counts are not atomic. */
#include <stdlib.h>
#include <string.h>

#include "ext.h"

static int bound(rx_err *err) {
    if (!rx_host || !rai.TensorRedisType)
        return rx_fail(err, RX_NOTBOUND, "RedisAI is not loaded, it is not possible to use AI interface.");
    return RX_OK;
}

/* Asks the engine for the dtype of `key` (AI.TENSORGET key META), for the
 * cases the shared API alone cannot decide.  Needs the lock (ctx). */
static int dtype_from_meta(RedisModuleCtx *ctx, RedisModuleString *key) {
    int id = RX_DT_UNKNOWN;
    RedisModuleCallReply *r = rm.Call(ctx, "AI.TENSORGET", "sc", key, "META");
    if (!r) return id;
    if (rm.CallReplyType(r) == REDISMODULE_REPLY_ARRAY) {
        size_t n = rm.CallReplyLength(r);
        for (size_t i = 0; i + 1 < n; i += 2) {
            size_t len;
            const char *f = rm.CallReplyStringPtr(rm.CallReplyArrayElement(r, i), &len);
            if (!f || len != 5 || strncasecmp(f, "dtype", 5)) continue;
            const char *v = rm.CallReplyStringPtr(rm.CallReplyArrayElement(r, i + 1), &len);
            char name[16];
            if (v && len < sizeof(name)) {
                memcpy(name, v, len);
                name[len] = '\0';
                id = rx_dtype_parse(name);
            }
            break;
        }
    }
    rm.FreeCallReply(r);
    return id;
}

/* The shared API has no dtype entry, so the dtype is derived:
 * - the float getter succeeds only for FLOAT/DOUBLE: the element size tells which;
 * - other 4- and 8-byte elements are INT32 / INT64 (there is no UINT32/64);
 * - 1- and 2-byte elements (INT8/UINT8/BOOL/STRING, INT16/UINT16) are told
 *   apart on a one-row deep copy (RedisAI_TensorCreateBySlicingTensor; the
 *   copy is what lets us write a probe value without touching shared data):
 *   storing -1 reads back as -1 for signed types, wraps for unsigned ones,
 *   and is refused by BOOL (which takes 1) and STRING (which takes nothing);
 * - a scalar cannot be sliced: then the engine is asked (needs ctx + key);
 * - before slicing, a STRING tensor shows itself by its byte size: the NUL
 *   terminators alone make it at least one byte an element, so more bytes
 *   than elements is STRING (a tensor of empty strings is not told apart
 *   this way; the probes above then fail and it stays unknown).
 * Tensors created by this API never need the probe: the wrapper keeps the
 * dtype it was created with. */
int rx_probe_dtype(RAI_Tensor *t, RedisModuleCtx *ctx, RedisModuleString *key) {
    if (!t || rai.TensorLength(t) == 0) return RX_DT_UNKNOWN;
    size_t size = rai.TensorDataSize(t);
    double d;
    if (rai.TensorGetValueAsDouble(t, 0, &d) == 1)
        return size == 4 ? RX_DT_FLOAT : size == 8 ? RX_DT_DOUBLE : RX_DT_UNKNOWN;
    if (size == 4) return RX_DT_INT32;
    if (size == 8) return RX_DT_INT64;
    if (size != 1 && size != 2) return RX_DT_UNKNOWN;
    if (size == 1 && rai.TensorByteSize(t) != rai.TensorLength(t)) return RX_DT_STRING;
    if (rai.TensorNumDims(t) == 0 || rai.TensorDim(t, 0) < 1)
        return ctx && key ? dtype_from_meta(ctx, key) : RX_DT_UNKNOWN;
    RAI_Tensor *row = rai.TensorCreateBySlicingTensor(t, 0, 1);
    if (!row) return ctx && key ? dtype_from_meta(ctx, key) : RX_DT_UNKNOWN;
    int id = RX_DT_UNKNOWN;
    long long v = 0;
    if (rai.TensorSetValueFromLongLong(row, 0, -1) == 1) {
        if (rai.TensorGetValueAsLongLong(row, 0, &v) == 1)
            id = v == -1 ? (size == 1 ? RX_DT_INT8 : RX_DT_INT16) : (size == 1 ? RX_DT_UINT8 : RX_DT_UINT16);
    } else if (size == 1) {
        id = rai.TensorSetValueFromLongLong(row, 0, 1) == 1 ? RX_DT_BOOL : RX_DT_STRING;
    }
    rai.TensorFree(row);
    return id;
}

static RedisModuleString **make_names(size_t n, const char *keys, const size_t *lens) {
    RedisModuleString **names = calloc(n ? n : 1, sizeof(*names));
    if (!names) return NULL;
    /* No keyspace access: safe without the lock (NULL ctx = no auto memory). */
    for (size_t i = 0; i < n; keys += lens[i], i++) names[i] = rm.CreateString(NULL, keys, lens[i]);
    return names;
}

static void free_names(RedisModuleString **names, size_t n) { /* lock held */
    for (size_t i = 0; i < n; i++)
        if (names[i]) rm.FreeString(NULL, names[i]);
    free(names);
}

/* Propagates one write as AI.TENSORSET <key> <dtype> <dims...> BLOB <data>.
 * Redis copies the blob into its propagation buffer (necessarily: the
 * command is sent later); the tensor itself is not copied here. */
static int replicate_tensor(RedisModuleCtx *ctx, RedisModuleString *key, RAI_Tensor *t, int dtype) {
    int nd = rai.TensorNumDims(t);
    RedisModuleString *dims[nd > 0 ? nd : 1];
    for (int i = 0; i < nd; i++) dims[i] = rm.CreateStringFromLongLong(NULL, rai.TensorDim(t, i));
    int rc = rm.Replicate(ctx, "AI.TENSORSET", "scvcb", key, rx_dtype_names[dtype], dims, (size_t)nd,
                          "BLOB", rai.TensorData(t), rai.TensorByteSize(t));
    for (int i = 0; i < nd; i++) rm.FreeString(NULL, dims[i]);
    return rc;
}

int rx_keys_set(size_t n, const char *keys, const size_t *keylens, RAI_Tensor *const *tensors,
                const int *dtypes, uintptr_t user, rx_err *err) {
    if (bound(err)) return RX_NOTBOUND;
    const char *key = keys;
    for (size_t i = 0; i < n; key += keylens[i], i++)
        if (dtypes[i] < 0 || dtypes[i] >= RX_DT_STRING)
            return rx_fail(err, RX_ERROR, "can not determine the data type of the tensor for key %.*s",
                           (int)(keylens[i] > 200 ? 200 : keylens[i]), key);
    RedisModuleString **names = make_names(n, keys, keylens);
    RedisModuleKey **opened = calloc(n ? n : 1, sizeof(*opened));
    if (!names || !opened) {
        free(names);
        free(opened);
        return rx_fail(err, RX_ERROR, "out of memory");
    }
    int rc = RX_OK;
    RedisModuleCtx *ctx = rx_host->lock();
    RedisModuleType *tt = rai.TensorRedisType();
    const char *denied = rx_host->deny_keys((void *)user, ctx, names, n, 1);
    if (denied) rc = rx_fail(err, RX_ERROR, "%s", denied);
    /* All-or-nothing: every key is opened and checked before any is written. */
    for (size_t i = 0; i < n && rc == RX_OK; i++) {
        opened[i] = rm.OpenKey(ctx, names[i], REDISMODULE_READ | REDISMODULE_WRITE);
        int kt = opened[i] ? rm.KeyType(opened[i]) : -1;
        if (kt == REDISMODULE_KEYTYPE_EMPTY) continue;
        if (kt != REDISMODULE_KEYTYPE_MODULE || rm.ModuleTypeGetType(opened[i]) != tt)
            rc = rx_fail(err, RX_ERROR, "ERR Key is already set with non tensor values.");
    }
    for (size_t i = 0; i < n && rc == RX_OK; i++) {
        /* Shallow copy: the key shares the tensor (ref-count + 1, no data copy). */
        RAI_Tensor *shared = rai.TensorGetShallowCopy(tensors[i]);
        if (rm.ModuleTypeSetValue(opened[i], tt, shared) != REDISMODULE_OK) {
            rai.TensorFree(shared); /* cannot happen after the checks above */
            rc = rx_fail(err, RX_ERROR, "ERR could not write the tensor key");
            break;
        }
        if (replicate_tensor(ctx, names[i], tensors[i], dtypes[i]) != REDISMODULE_OK)
            rc = rx_fail(err, RX_ERROR, "ERR could not replicate the tensor write");
        rm.NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_MODULE, "ai.tensorset", names[i]);
    }
    for (size_t i = 0; i < n; i++)
        if (opened[i]) rm.CloseKey(opened[i]);
    free_names(names, n);
    rx_host->unlock();
    free(opened);
    return rc;
}

int rx_keys_get(size_t n, const char *keys, const size_t *keylens, RAI_Tensor **out, int *dtypes,
                uintptr_t user, rx_err *err) {
    if (bound(err)) return RX_NOTBOUND;
    RedisModuleString **names = make_names(n, keys, keylens);
    if (!names) return rx_fail(err, RX_ERROR, "out of memory");
    for (size_t i = 0; i < n; i++) out[i] = NULL;
    int rc = RX_OK;
    RedisModuleCtx *ctx = rx_host->lock();
    RedisModuleType *tt = rai.TensorRedisType();
    const char *denied = rx_host->deny_keys((void *)user, ctx, names, n, 0);
    if (denied) rc = rx_fail(err, RX_ERROR, "%s", denied);
    for (size_t i = 0; i < n && rc == RX_OK; i++) {
        RedisModuleKey *k = rm.OpenKey(ctx, names[i], REDISMODULE_READ);
        int kt = k ? rm.KeyType(k) : REDISMODULE_KEYTYPE_EMPTY;
        if (kt == REDISMODULE_KEYTYPE_EMPTY) {
            rc = rx_fail(err, RX_ERROR, "ERR tensor key is empty");
        } else if (kt != REDISMODULE_KEYTYPE_MODULE || rm.ModuleTypeGetType(k) != tt) {
            rc = rx_fail(err, RX_ERROR, "ERR key is not a tensor");
        } else {
            RAI_Tensor *t = rm.ModuleTypeGetValue(k);
            /* Shallow copy: the PyTensor shares the stored tensor, no data copy. */
            out[i] = rai.TensorGetShallowCopy(t);
            dtypes[i] = rx_probe_dtype(t, ctx, names[i]);
        }
        if (k) rm.CloseKey(k);
    }
    free_names(names, n);
    rx_host->unlock();
    if (rc != RX_OK) /* all-or-nothing: drop the references already taken */
        for (size_t i = 0; i < n; i++) {
            if (out[i]) rai.TensorFree(out[i]);
            out[i] = NULL;
        }
    return rc;
}

int rx_key_get(const char *key, size_t keylen, uintptr_t user, rx_got *got) {
    return rx_keys_get(1, key, &keylen, &got->tensor, &got->dtype, user, &got->err);
}

int rx_key_set(const char *key, size_t keylen, RAI_Tensor *t, int dtype, uintptr_t user, rx_err *err) {
    return rx_keys_set(1, key, &keylen, &t, &dtype, user, err);
}
