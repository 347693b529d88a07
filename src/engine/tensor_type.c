/* tensor_type.c -- AI_TENSOR: RDB (RedisAI v4 layout), AOF, memory, copy. */
#include <limits.h>
#include <string.h>

#include "tensor_type.h"

RedisModuleType *RAI_TensorType = NULL;

/* v4 layout: code, bits, ndims, dims..., data, and for STRING one offset per
 * element. */
static void tensor_rdb_save(RedisModuleIO *io, void *value) {
    RAI_Tensor *t = value;
    RAI_DType dt = RAI_DTypeOf(t->dtype);
    RedisModule_SaveUnsigned(io, dt.code);
    RedisModule_SaveUnsigned(io, dt.bits);
    RedisModule_SaveSigned(io, t->ndims);
    for (int i = 0; i < t->ndims; i++) RedisModule_SaveSigned(io, t->dims[i]);
    RedisModule_SaveStringBuffer(io, t->data, t->nbytes);
    if (t->dtype == RAI_DT_STRING)
        for (size_t i = 0; i < t->len; i++) RedisModule_SaveUnsigned(io, t->offsets[i]);
}

/* Reads the dtype and rank.  v4 writes code, bits, ndims.  v0-v3 (RedisAI
 * before 1.2) wrote the DLPack fields in their order: device type, device
 * id, bits, code, lanes, ndims; tensors were always on the CPU with one
 * lane. */
static int load_header(RedisModuleIO *io, int encver, RAI_DTypeId *dt, int64_t *ndims) {
    uint64_t code, bits, lanes = 1;
    if (encver < 4) {
        RedisModule_LoadUnsigned(io); /* device type */
        RedisModule_LoadUnsigned(io); /* device id */
        bits = RedisModule_LoadUnsigned(io);
        code = RedisModule_LoadUnsigned(io);
        lanes = RedisModule_LoadUnsigned(io);
    } else {
        code = RedisModule_LoadUnsigned(io);
        bits = RedisModule_LoadUnsigned(io);
    }
    *ndims = RedisModule_LoadSigned(io);
    *dt = code < 256 && bits < 256 ? RAI_DTypeFromCodeBits((unsigned)code, (unsigned)bits)
                                   : RAI_DT_INVALID;
    /* AI.TENSORSET accepts any number of dims, so any rank that fits an
     * int must load back. */
    return !RedisModule_IsIOError(io) && *dt != RAI_DT_INVALID && lanes == 1 && *ndims >= 0 &&
           *ndims <= INT_MAX;
}

/* Reads `ndims` dims (each > 0) into a heap array grown as they are read,
 * so a corrupt rank cannot make us allocate absurd amounts; NULL on error. */
static long long *load_dims(RedisModuleIO *io, int64_t ndims) {
    size_t cap = 64;
    long long *dims = RedisModule_Alloc(sizeof(long long) * cap);
    for (int64_t i = 0; i < ndims; i++) {
        if ((size_t)i == cap) {
            long long *more = RedisModule_Alloc(sizeof(long long) * cap * 2);
            memcpy(more, dims, sizeof(long long) * cap);
            RedisModule_Free(dims);
            dims = more;
            cap *= 2;
        }
        dims[i] = RedisModule_LoadSigned(io);
        if (RedisModule_IsIOError(io) || dims[i] <= 0) {
            RedisModule_Free(dims);
            return NULL;
        }
    }
    return dims;
}

/* v0-v3 then wrote the strides and byte_offset.  The data was always
 * C-contiguous from offset 0, which is how it is kept here. */
static int skip_old_layout(RedisModuleIO *io, int64_t ndims) {
    for (int64_t i = 0; i < ndims; i++) RedisModule_LoadSigned(io); /* strides */
    uint64_t byte_offset = RedisModule_LoadUnsigned(io);
    return !RedisModule_IsIOError(io) && byte_offset == 0;
}

static void *tensor_rdb_load(RedisModuleIO *io, int encver) {
    if (encver > RAI_ENC_VER) {
        RedisModule_LogIOError(io, "warning", "AI_TENSOR: unsupported encoding version %d", encver);
        return NULL;
    }
    RAI_DTypeId dt;
    int64_t ndims;
    if (!load_header(io, encver, &dt, &ndims)) {
        RedisModule_LogIOError(io, "warning", "AI_TENSOR: bad dtype or rank in RDB");
        return NULL;
    }
    long long *dims = load_dims(io, ndims);
    if (!dims || (encver < 4 && !skip_old_layout(io, ndims))) {
        RedisModule_Free(dims);
        RedisModule_LogIOError(io, "warning", "AI_TENSOR: bad shape in RDB");
        return NULL;
    }
    size_t nbytes = 0;
    char *data = RedisModule_LoadStringBuffer(io, &nbytes);
    size_t len;
    RAI_Error err = {0};
    if (!data || !RAI_ShapeLength(dt, dims, (int)ndims, &len) ||
        !RAI_TensorValidateBlob(dt, len, data, nbytes, &err)) {
        RAI_ClearError(&err);
        RedisModule_Free(data);
        RedisModule_Free(dims);
        RedisModule_LogIOError(io, "warning", "AI_TENSOR: data does not match shape in RDB");
        return NULL;
    }
    /* The loaded buffer is ours: the tensor takes it as its own data. */
    RAI_Tensor *t = RAI_TensorNewBorrowed(dt, dims, (int)ndims, data, nbytes, data, RedisModule_Free);
    RedisModule_Free(dims);
    if (encver >= 4 && dt == RAI_DT_STRING)
        for (size_t i = 0; i < len; i++) RedisModule_LoadUnsigned(io); /* recomputed above */
    if (RedisModule_IsIOError(io)) {
        RAI_TensorFree(t);
        RedisModule_LogIOError(io, "warning", "AI_TENSOR: truncated string offsets in RDB");
        return NULL;
    }
    return t;
}

/* Builds "dtype dim..." as Redis strings, for AOF and replication. */
static RedisModuleString **tensor_dims_as_strings(RAI_Tensor *t) {
    RedisModuleString **dims = RedisModule_Alloc(sizeof(*dims) * (t->ndims + 1));
    for (int i = 0; i < t->ndims; i++) dims[i] = RedisModule_CreateStringFromLongLong(NULL, t->dims[i]);
    return dims;
}

static void free_strings(RedisModuleString **s, int n) {
    for (int i = 0; i < n; i++) RedisModule_FreeString(NULL, s[i]);
    RedisModule_Free(s);
}

static void tensor_aof_rewrite(RedisModuleIO *aof, RedisModuleString *key, void *value) {
    RAI_Tensor *t = value;
    RedisModuleString **dims = tensor_dims_as_strings(t);
    RedisModule_EmitAOF(aof, "AI.TENSORSET", "scvcb", key, RAI_DTypeName(t->dtype), dims,
                        (size_t)t->ndims, "BLOB", t->data, t->nbytes);
    free_strings(dims, t->ndims);
}

void RAI_TensorReplicate(RedisModuleCtx *ctx, RedisModuleString *keyname, RAI_Tensor *t) {
    RedisModuleString **dims = tensor_dims_as_strings(t);
    RedisModule_Replicate(ctx, "AI.TENSORSET", "scvcb", keyname, RAI_DTypeName(t->dtype), dims,
                          (size_t)t->ndims, "BLOB", t->data, t->nbytes);
    free_strings(dims, t->ndims);
}

static size_t tensor_mem_usage(const void *value) {
    const RAI_Tensor *t = value;
    return sizeof(*t) + t->nbytes + sizeof(long long) * t->ndims +
           (t->offsets ? sizeof(uint64_t) * t->len : 0);
}

/* COPY shares the tensor: tensors are immutable once stored. */
static void *tensor_copy(RedisModuleString *from, RedisModuleString *to, const void *value) {
    (void)from;
    (void)to;
    return RAI_TensorGetShallowCopy((RAI_Tensor *)value);
}

static void tensor_free(void *value) { RAI_TensorFree(value); }

int RAI_TensorTypeRegister(RedisModuleCtx *ctx) {
    RedisModuleTypeMethods tm = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = tensor_rdb_load,
        .rdb_save = tensor_rdb_save,
        .aof_rewrite = tensor_aof_rewrite,
        .mem_usage = tensor_mem_usage,
        .free = tensor_free,
        .copy = tensor_copy,
    };
    RAI_TensorType = RedisModule_CreateDataType(ctx, "AI_TENSOR", RAI_ENC_VER, &tm);
    return RAI_TensorType ? REDISMODULE_OK : REDISMODULE_ERR;
}

int RAI_TensorGetFromKeyspace(RedisModuleCtx *ctx, RedisModuleString *keyname, RAI_Tensor **t,
                              RAI_Error *err) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, keyname, REDISMODULE_READ);
    int type = RedisModule_KeyType(key);
    if (type == REDISMODULE_KEYTYPE_EMPTY) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_EKEYEMPTY, "ERR tensor key is empty or in a different shard");
        return REDISMODULE_ERR;
    }
    if (type != REDISMODULE_KEYTYPE_MODULE || RedisModule_ModuleTypeGetType(key) != RAI_TensorType) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_ETENSORGET, REDISMODULE_ERRORMSG_WRONGTYPE);
        return REDISMODULE_ERR;
    }
    *t = RedisModule_ModuleTypeGetValue(key);
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}

int RAI_TensorStore(RedisModuleCtx *ctx, RedisModuleString *keyname, RAI_Tensor *t,
                    RAI_Error *err) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, keyname, REDISMODULE_READ | REDISMODULE_WRITE);
    int type = RedisModule_KeyType(key);
    if (type != REDISMODULE_KEYTYPE_EMPTY &&
        !(type == REDISMODULE_KEYTYPE_MODULE && RedisModule_ModuleTypeGetType(key) == RAI_TensorType)) {
        RedisModule_CloseKey(key);
        RAI_SetError(err, RAI_ETENSORSET, REDISMODULE_ERRORMSG_WRONGTYPE);
        return REDISMODULE_ERR;
    }
    RedisModule_ModuleTypeSetValue(key, RAI_TensorType, t);
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}
