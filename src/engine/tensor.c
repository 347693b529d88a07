/* tensor.c -- tensor objects: creation, sharing, element access. */
#include <string.h>

#include "../common/rm_api.h"
#include "tensor.h"

int RAI_ShapeLength(RAI_DTypeId dt, const long long *dims, int ndims, size_t *len) {
    size_t n = 1, elem = RAI_DTypeSize(dt);
    for (int i = 0; i < ndims; i++) {
        if (dims[i] <= 0) return 0;
        if ((size_t)dims[i] > RAI_TENSOR_MAX_BYTES / elem / n) return 0;
        n *= (size_t)dims[i];
    }
    *len = n;
    return 1;
}

/* Allocates the header and shape; data is left to the caller. */
static RAI_Tensor *tensor_alloc(RAI_DTypeId dt, const long long *dims, int ndims, size_t len) {
    RAI_Tensor *t = RedisModule_Calloc(1, sizeof(*t));
    t->dtype = dt;
    t->ndims = ndims;
    t->len = len;
    t->refcount = 1;
    if (ndims > 0) {
        t->dims = RedisModule_Alloc(sizeof(long long) * ndims);
        memcpy(t->dims, dims, sizeof(long long) * ndims);
    }
    if (dt == RAI_DT_STRING) t->offsets = RedisModule_Calloc(len, sizeof(uint64_t));
    return t;
}

RAI_Tensor *RAI_TensorNew(RAI_DTypeId dt, const long long *dims, int ndims) {
    size_t len;
    if (dt >= RAI_DT_INVALID || !RAI_ShapeLength(dt, dims, ndims, &len)) return NULL;
    RAI_Tensor *t = tensor_alloc(dt, dims, ndims, len);
    t->nbytes = len * RAI_DTypeSize(dt);
    t->data = RedisModule_Calloc(1, t->nbytes); /* empty strings: one NUL each */
    if (dt == RAI_DT_STRING)
        for (size_t i = 0; i < len; i++) t->offsets[i] = i;
    return t;
}

RAI_Tensor *RAI_TensorNewBorrowed(RAI_DTypeId dt, const long long *dims, int ndims, char *data,
                                  size_t nbytes, void *owner, void (*release)(void *)) {
    size_t len;
    if (dt >= RAI_DT_INVALID || !RAI_ShapeLength(dt, dims, ndims, &len)) return NULL;
    RAI_Tensor *t = tensor_alloc(dt, dims, ndims, len);
    t->data = data;
    t->nbytes = nbytes;
    t->owner = owner;
    t->release = release;
    if (dt == RAI_DT_STRING) RAI_TensorCheckStrings(data, nbytes, len, t->offsets);
    return t;
}

RAI_Tensor *RAI_TensorGetShallowCopy(RAI_Tensor *t) {
    __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED);
    return t;
}

void RAI_TensorFree(RAI_Tensor *t) {
    if (!t) return;
    if (__atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) > 0) return;
    if (t->release)
        t->release(t->owner);
    else
        RedisModule_Free(t->data);
    RedisModule_Free(t->dims);
    RedisModule_Free(t->offsets);
    RedisModule_Free(t);
}

int RAI_TensorCheckStrings(const char *blob, size_t nbytes, size_t len, uint64_t *offsets) {
    if (nbytes == 0 || blob[nbytes - 1] != '\0') return 0;
    size_t count = 0, start = 0;
    for (size_t i = 0; i < nbytes; i++) {
        if (blob[i] != '\0') continue;
        if (count == len) return 0;
        if (offsets) offsets[count] = start;
        count++;
        start = i + 1;
    }
    return count == len;
}

int RAI_TensorValidateBlob(RAI_DTypeId dt, size_t len, const char *blob, size_t nbytes,
                           RAI_Error *err) {
    if (dt == RAI_DT_STRING) {
        if (!RAI_TensorCheckStrings(blob, nbytes, len, NULL)) {
            RAI_SetError(err, RAI_ETENSORSET,
                         "ERR Number of string elements in data blob does not match tensor length");
            return 0;
        }
        return 1;
    }
    if (nbytes != len * RAI_DTypeSize(dt)) {
        RAI_SetError(err, RAI_ETENSORSET, "ERR data length does not match tensor shape and type");
        return 0;
    }
    if (dt == RAI_DT_BOOL) {
        for (size_t i = 0; i < nbytes; i++) {
            if ((unsigned char)blob[i] > 1) {
                RAI_SetError(err, RAI_ETENSORSET, "ERR BOOL tensor elements must be 0 or 1");
                return 0;
            }
        }
    }
    return 1;
}

/* Deep copy into the tensor.  Unlike the original, a numeric length that is
 * not exactly the tensor's byte size is refused (returns 0). */
int RAI_TensorSetData(RAI_Tensor *t, const char *data, size_t len) {
    if (!t || !data) return 0;
    if (t->dtype == RAI_DT_STRING) {
        uint64_t *offsets = RedisModule_Alloc(sizeof(uint64_t) * (t->len ? t->len : 1));
        if (!RAI_TensorCheckStrings(data, len, t->len, offsets)) {
            RedisModule_Free(offsets);
            return 0;
        }
        char *blob = RedisModule_Alloc(len);
        memcpy(blob, data, len);
        if (t->release) t->release(t->owner); else RedisModule_Free(t->data);
        t->owner = NULL;
        t->release = NULL;
        RedisModule_Free(t->offsets);
        t->offsets = offsets;
        t->data = blob;
        t->nbytes = len;
        return 1;
    }
    RAI_Error err = {0};
    if (!RAI_TensorValidateBlob(t->dtype, t->len, data, len, &err)) {
        RAI_ClearError(&err);
        return 0;
    }
    memcpy(t->data, data, len);
    return 1;
}

int RAI_TensorSetValueFromLongLong(RAI_Tensor *t, long long i, long long v) {
    if (i < 0 || (size_t)i >= t->len) return 0;
    switch (t->dtype) {
    case RAI_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)v; return 1;
    case RAI_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)v; return 1;
    case RAI_DT_INT32: ((int32_t *)t->data)[i] = (int32_t)v; return 1;
    case RAI_DT_INT64: ((int64_t *)t->data)[i] = (int64_t)v; return 1;
    case RAI_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; return 1;
    case RAI_DT_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)v; return 1;
    case RAI_DT_BOOL:
        if (v != 0 && v != 1) return 0;
        ((uint8_t *)t->data)[i] = (uint8_t)v;
        return 1;
    default: return 0;
    }
}

int RAI_TensorSetValueFromDouble(RAI_Tensor *t, long long i, double v) {
    if (i < 0 || (size_t)i >= t->len) return 0;
    if (t->dtype == RAI_DT_FLOAT) ((float *)t->data)[i] = (float)v;
    else if (t->dtype == RAI_DT_DOUBLE) ((double *)t->data)[i] = v;
    else return 0;
    return 1;
}

int RAI_TensorGetValueAsDouble(RAI_Tensor *t, long long i, double *v) {
    if (i < 0 || (size_t)i >= t->len) return 0;
    if (t->dtype == RAI_DT_FLOAT) *v = ((float *)t->data)[i];
    else if (t->dtype == RAI_DT_DOUBLE) *v = ((double *)t->data)[i];
    else return 0;
    return 1;
}

/* Unlike 1.2.7, STRING (and float) tensors report failure: no garbage. */
int RAI_TensorGetValueAsLongLong(RAI_Tensor *t, long long i, long long *v) {
    if (i < 0 || (size_t)i >= t->len) return 0;
    switch (t->dtype) {
    case RAI_DT_INT8: *v = ((int8_t *)t->data)[i]; return 1;
    case RAI_DT_INT16: *v = ((int16_t *)t->data)[i]; return 1;
    case RAI_DT_INT32: *v = ((int32_t *)t->data)[i]; return 1;
    case RAI_DT_INT64: *v = ((int64_t *)t->data)[i]; return 1;
    case RAI_DT_UINT8: case RAI_DT_BOOL: *v = ((uint8_t *)t->data)[i]; return 1;
    case RAI_DT_UINT16: *v = ((uint16_t *)t->data)[i]; return 1;
    default: return 0;
    }
}

size_t RAI_TensorElementSize(RAI_Tensor *t) { return RAI_DTypeSize(t->dtype); }

/* A tensor owning `data` (freed with it, or here when the shape is refused). */
static RAI_Tensor *tensor_owning(RAI_DTypeId dt, const long long *dims, int ndims, char *data, size_t nbytes) {
    RAI_Tensor *t = RAI_TensorNewBorrowed(dt, dims, ndims, data, nbytes, NULL, NULL);
    if (!t) RedisModule_Free(data);
    return t;
}

/* Byte offset of element i (i == len: the end of the data).  STRING
 * elements vary in size: their offsets say where each starts. */
static size_t element_start(const RAI_Tensor *t, size_t i) {
    if (t->dtype != RAI_DT_STRING) return i * RAI_DTypeSize(t->dtype);
    return i < t->len ? t->offsets[i] : t->nbytes;
}

/* Concatenates along dim 0, taking the trailing dims of ts[0].  Tensors
 * whose dtype or trailing dims differ are refused (NULL), where the original
 * would read past their buffers.  STRING blobs are NUL-terminated strings
 * one after the other, so theirs join as they are. */
RAI_Tensor *RAI_TensorCreateByConcatenatingTensors(RAI_Tensor **ts, long long n) {
    if (!ts || n <= 0 || ts[0]->ndims == 0) return NULL;
    RAI_Tensor *first = ts[0];
    long long rows = 0;
    size_t nbytes = 0;
    for (long long i = 0; i < n; i++) {
        if (ts[i]->dtype != first->dtype || ts[i]->ndims != first->ndims) return NULL;
        for (int d = 1; d < first->ndims; d++)
            if (ts[i]->dims[d] != first->dims[d]) return NULL;
        rows += ts[i]->dims[0];
        nbytes += ts[i]->nbytes;
    }
    if (nbytes > RAI_TENSOR_MAX_BYTES) return NULL;
    char *data = RedisModule_Alloc(nbytes);
    size_t at = 0;
    for (long long i = 0; i < n; i++) {
        memcpy(data + at, ts[i]->data, ts[i]->nbytes);
        at += ts[i]->nbytes;
    }
    /* The shape goes on the heap: ranks are unbounded (see TENSORSET). */
    long long *dims = RedisModule_Alloc(sizeof(long long) * first->ndims);
    memcpy(dims, first->dims, sizeof(long long) * first->ndims);
    dims[0] = rows;
    RAI_Tensor *out = tensor_owning(first->dtype, dims, first->ndims, data, nbytes);
    RedisModule_Free(dims);
    return out;
}

/* Deep copy of rows [offset, offset+len) along dim 0. */
RAI_Tensor *RAI_TensorCreateBySlicingTensor(RAI_Tensor *t, long long offset, long long len) {
    if (!t || t->ndims == 0 || offset < 0 || len <= 0 || offset + len > t->dims[0]) return NULL;
    size_t per_row = t->len / (size_t)t->dims[0];
    size_t from = element_start(t, per_row * (size_t)offset);
    size_t to = element_start(t, per_row * (size_t)(offset + len));
    char *data = RedisModule_Alloc(to - from);
    memcpy(data, t->data + from, to - from);
    long long *dims = RedisModule_Alloc(sizeof(long long) * t->ndims);
    memcpy(dims, t->dims, sizeof(long long) * t->ndims);
    dims[0] = len;
    RAI_Tensor *out = tensor_owning(t->dtype, dims, t->ndims, data, to - from);
    RedisModule_Free(dims);
    return out;
}
