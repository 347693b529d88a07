/* tensor.h -- the engine's tensor: one contiguous row-major buffer, shape,
 * dtype and an atomic reference count.  Shallow copies share everything;
 * a tensor is treated as immutable once it is stored in a key or handed to a
 * run, so sharing is safe.
 *
 * The data buffer is either owned (allocated here, freed with the tensor) or
 * borrowed from an owner object that keeps it alive (a retained Redis string
 * holding a TENSORSET blob, or a backend's output value), released through
 * `release` when the last reference goes.  Borrowing is how the engine avoids
 * copying large blobs and backend outputs. */
#ifndef ENGINE_TENSOR_H
#define ENGINE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"
#include "error.h"

typedef struct RAI_Tensor {
    RAI_DTypeId dtype;
    int ndims;
    long long *dims;  /* ndims entries, NULL for a scalar */
    size_t len;       /* number of elements (1 for a scalar) */
    char *data;       /* row-major, contiguous */
    size_t nbytes;    /* numeric: len * element size; STRING: whole blob */
    uint64_t *offsets; /* STRING only: byte offset of each element */
    void *owner;       /* non-NULL when data is borrowed */
    void (*release)(void *owner);
    long refcount;
} RAI_Tensor;

/* Largest tensor the commands will allocate; larger requests get an error
 * rather than a failed allocation, which would abort the server. */
#define RAI_TENSOR_MAX_BYTES ((size_t)1 << 31)

/* Computes the element count of a shape; returns 0 on overflow or when the
 * byte size would pass RAI_TENSOR_MAX_BYTES. */
int RAI_ShapeLength(RAI_DTypeId dt, const long long *dims, int ndims, size_t *len);

/* A zero-filled tensor (empty strings for STRING), ref-count 1. */
RAI_Tensor *RAI_TensorNew(RAI_DTypeId dt, const long long *dims, int ndims);
/* A tensor whose data stays in `owner`'s memory (no copy).  For STRING the
 * blob must already be validated (RAI_TensorCheckStrings). */
RAI_Tensor *RAI_TensorNewBorrowed(RAI_DTypeId dt, const long long *dims, int ndims, char *data,
                                  size_t nbytes, void *owner, void (*release)(void *));
RAI_Tensor *RAI_TensorGetShallowCopy(RAI_Tensor *t);
void RAI_TensorFree(RAI_Tensor *t);

/* STRING blobs: counts the NUL-terminated elements and, when `offsets` is
 * not NULL, records where each starts.  Returns 1 when there are exactly
 * `len` elements and the blob ends with a NUL. */
int RAI_TensorCheckStrings(const char *blob, size_t nbytes, size_t len, uint64_t *offsets);
/* Validates a blob for this tensor's dtype and shape; on error sets `err`
 * with the TENSORSET text and returns 0. */
int RAI_TensorValidateBlob(RAI_DTypeId dt, size_t len, const char *blob, size_t nbytes,
                           RAI_Error *err);

/* Shared-API semantics (see redisai-engine.md §2.3). */
int RAI_TensorSetData(RAI_Tensor *t, const char *data, size_t len);
int RAI_TensorSetValueFromLongLong(RAI_Tensor *t, long long i, long long val);
int RAI_TensorSetValueFromDouble(RAI_Tensor *t, long long i, double val);
int RAI_TensorGetValueAsDouble(RAI_Tensor *t, long long i, double *val);
int RAI_TensorGetValueAsLongLong(RAI_Tensor *t, long long i, long long *val);
RAI_Tensor *RAI_TensorCreateByConcatenatingTensors(RAI_Tensor **ts, long long n);
RAI_Tensor *RAI_TensorCreateBySlicingTensor(RAI_Tensor *t, long long offset, long long len);
size_t RAI_TensorElementSize(RAI_Tensor *t);

#endif
