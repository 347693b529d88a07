/* tensor_commands.c -- AI.TENSORSET and AI.TENSORGET. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "size_limits.h"
#include "tensor_commands.h"
#include "tensor_type.h"

/* Blobs at least this large are kept in the command's own argument string
 * (retained, not copied): Redis already made the one copy from the socket.
 * Smaller blobs are copied into an aligned buffer, which costs little. */
#define BORROW_MIN_BYTES 4096

static int arg_is(RedisModuleString *arg, const char *word) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(arg, &len);
    return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

static void release_string(void *s) { RedisModule_FreeString(NULL, s); }

static RAI_Tensor *tensor_from_blob(RAI_DTypeId dt, long long *dims, int ndims, size_t len,
                                    RedisModuleString *blob_arg, RAI_Error *err) {
    size_t nbytes;
    const char *blob = RedisModule_StringPtrLen(blob_arg, &nbytes);
    if (!RAI_TensorValidateBlob(dt, len, blob, nbytes, err)) return NULL;
    if (nbytes >= BORROW_MIN_BYTES) {
        /* No copy: the tensor keeps the argument string alive instead.  Its
         * spare room is trimmed first: Redis trims a retained argument when
         * the command returns (a realloc that may move the bytes), and the
         * tensor points into them. */
        RedisModule_TrimStringAllocation(blob_arg);
        blob = RedisModule_StringPtrLen(blob_arg, &nbytes);
        RedisModule_RetainString(NULL, blob_arg);
        return RAI_TensorNewBorrowed(dt, dims, ndims, (char *)blob, nbytes, blob_arg, release_string);
    }
    RAI_Tensor *t = RAI_TensorNew(dt, dims, ndims);
    if (dt == RAI_DT_STRING) {
        RAI_TensorSetData(t, blob, nbytes);
    } else {
        memcpy(t->data, blob, nbytes); /* small blob: copy into aligned memory */
    }
    return t;
}

static int set_value(RAI_Tensor *t, size_t i, RedisModuleString *arg, RAI_Error *err) {
    if (RAI_DTypeIsFloat(t->dtype)) {
        double d;
        if (RedisModule_StringToDouble(arg, &d) != REDISMODULE_OK) goto invalid;
        RAI_TensorSetValueFromDouble(t, (long long)i, d);
        return 1;
    }
    long long v, min, max;
    if (RedisModule_StringToLongLong(arg, &v) != REDISMODULE_OK) goto invalid;
    RAI_DTypeIntRange(t->dtype, &min, &max);
    if (v < min || v > max) goto invalid;
    RAI_TensorSetValueFromLongLong(t, (long long)i, v);
    return 1;
invalid:
    RAI_SetError(err, RAI_ETENSORSET, "ERR invalid value");
    return 0;
}

/* A STRING value as a C string: one trailing NUL may end it (clients that
 * send C strings do), a NUL before the end is refused.  NULL if refused. */
static const char *string_value(RedisModuleString *val, size_t *n) {
    const char *s = RedisModule_StringPtrLen(val, n);
    if (*n > 0 && s[*n - 1] == '\0') (*n)--;
    return memchr(s, '\0', *n) ? NULL : s;
}

static RAI_Tensor *tensor_from_string_values(long long *dims, int ndims, size_t len,
                                             RedisModuleString **vals, RAI_Error *err) {
    size_t total = 0;
    for (size_t i = 0; i < len; i++) {
        size_t n;
        if (!string_value(vals[i], &n)) {
            RAI_SetError(err, RAI_ETENSORSET, "ERR C-string value contains null character");
            return NULL;
        }
        total += n + 1;
    }
    char *blob = RedisModule_Alloc(total);
    size_t at = 0;
    for (size_t i = 0; i < len; i++) {
        size_t n;
        const char *s = string_value(vals[i], &n);
        memcpy(blob + at, s, n);
        blob[at + n] = '\0';
        at += n + 1;
    }
    return RAI_TensorNewBorrowed(RAI_DT_STRING, dims, ndims, blob, total, blob, RedisModule_Free);
}

/* Builds the tensor from the arguments after the dims; `dims` are parsed. */
static RAI_Tensor *tensor_from_data_args(RAI_DTypeId dt, long long *dims, int ndims,
                                         RedisModuleString **argv, int argc, RAI_Error *err) {
    size_t len;
    if (!RAI_ShapeLength(dt, dims, ndims, &len)) {
        RAI_SetError(err, RAI_ETENSORSET, "ERR invalid or negative value found in tensor shape");
        return NULL;
    }
    if (!RAI_SizeAllowed("tensor", len * RAI_DTypeSize(dt), RAI_ETENSORSET, err)) return NULL;
    if (argc == 0) return RAI_TensorNew(dt, dims, ndims); /* zero-filled */

    int remaining = argc - 1;
    if (arg_is(argv[0], "BLOB")) {
        if (remaining != 1) {
            RAI_SetError(err, RAI_ETENSORSET,
                         "ERR a single binary string should come after the BLOB argument in "
                         "'AI.TENSORSET' command");
            return NULL;
        }
        return tensor_from_blob(dt, dims, ndims, len, argv[1], err);
    }
    if ((size_t)remaining != len) {
        RAI_SetError(err, RAI_ETENSORSET,
                     "ERR wrong number of values was given in 'AI.TENSORSET' command");
        return NULL;
    }
    if (dt == RAI_DT_STRING) return tensor_from_string_values(dims, ndims, len, argv + 1, err);
    RAI_Tensor *t = RAI_TensorNew(dt, dims, ndims);
    for (size_t j = 0; j < len; j++) {
        if (!set_value(t, j, argv[1 + j], err)) {
            RAI_TensorFree(t);
            return NULL;
        }
    }
    return t;
}

RAI_Tensor *RAI_TensorCreateFromArgs(RedisModuleString **argv, int argc, RAI_Error *err) {
    size_t tlen;
    const char *tname = RedisModule_StringPtrLen(argv[0], &tlen);
    RAI_DTypeId dt = RAI_DTypeFromString(tname, tlen);
    if (dt == RAI_DT_INVALID) {
        RAI_SetError(err, RAI_ETENSORSET, "ERR invalid data type");
        return NULL;
    }
    /* On the heap: the rank has no limit but the argument count, and a
     * million dims would overflow the main thread's stack. */
    long long *dims = RedisModule_Alloc(sizeof(long long) * argc);
    int ndims = 0, i = 1;
    for (; i < argc; i++) {
        if (arg_is(argv[i], "BLOB") || arg_is(argv[i], "VALUES")) break;
        long long d;
        if (RedisModule_StringToLongLong(argv[i], &d) != REDISMODULE_OK || d <= 0) {
            RedisModule_Free(dims);
            RAI_SetError(err, RAI_ETENSORSET, "ERR invalid or negative value found in tensor shape");
            return NULL;
        }
        dims[ndims++] = d;
    }
    RAI_Tensor *t = tensor_from_data_args(dt, dims, ndims, argv + i, argc - i, err);
    RedisModule_Free(dims);
    return t;
}

int RAI_TensorSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 4) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_READ);
    int type = RedisModule_KeyType(key);
    int wrongtype = type != REDISMODULE_KEYTYPE_EMPTY &&
                    !(type == REDISMODULE_KEYTYPE_MODULE &&
                      RedisModule_ModuleTypeGetType(key) == RAI_TensorType);
    RedisModule_CloseKey(key);
    if (wrongtype) return RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);

    RAI_Tensor *t = RAI_TensorCreateFromArgs(argv + 2, argc - 2, &err);
    if (!t || RAI_TensorStore(ctx, argv[1], t, &err) != REDISMODULE_OK) {
        if (t) RAI_TensorFree(t);
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    RedisModule_ReplicateVerbatim(ctx);
    RedisModule_NotifyKeyspaceEvent(ctx, REDISMODULE_NOTIFY_MODULE, "ai.tensorset", argv[1]);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

int RAI_TensorParseReplyFormat(RedisModuleString **argv, int argc, RAI_Error *err) {
    int fmt = 0;
    for (int i = 0; i < argc; i++) {
        if (arg_is(argv[i], "META")) fmt |= RAI_REPLY_META;
        else if (arg_is(argv[i], "BLOB")) fmt |= RAI_REPLY_BLOB;
        else if (arg_is(argv[i], "VALUES")) fmt |= RAI_REPLY_VALUES;
        else {
            RAI_SetError(err, RAI_ETENSORGET, "ERR unsupported data format");
            return -1;
        }
    }
    if ((fmt & RAI_REPLY_BLOB) && (fmt & RAI_REPLY_VALUES)) {
        RAI_SetError(err, RAI_ETENSORGET, "ERR both BLOB and VALUES specified");
        return -1;
    }
    return fmt ? fmt : (RAI_REPLY_META | RAI_REPLY_BLOB);
}

static void reply_values(RedisModuleCtx *ctx, RAI_Tensor *t) {
    RedisModule_ReplyWithArray(ctx, (long)t->len);
    for (size_t i = 0; i < t->len; i++) {
        double d;
        long long v;
        if (t->dtype == RAI_DT_STRING)
            RedisModule_ReplyWithCString(ctx, t->data + t->offsets[i]);
        else if (RAI_TensorGetValueAsDouble(t, (long long)i, &d))
            RedisModule_ReplyWithDouble(ctx, d);
        else if (RAI_TensorGetValueAsLongLong(t, (long long)i, &v))
            RedisModule_ReplyWithLongLong(ctx, v);
    }
}

void RAI_TensorReply(RedisModuleCtx *ctx, int fmt, RAI_Tensor *t) {
    /* A VALUES reply is built on the main thread, element by element. */
    long long limit = RAI_config.values_reply_limit;
    if ((fmt & RAI_REPLY_VALUES) && limit > 0 && t->len > (size_t)limit) {
        char msg[160];
        snprintf(msg, sizeof(msg), "ERR tensor has %zu values, more than VALUES_REPLY_LIMIT (%lld): get it as a BLOB",
                 t->len, limit);
        RedisModule_ReplyWithError(ctx, msg);
        return;
    }
    int meta = fmt & RAI_REPLY_META;
    if (meta) {
        RedisModule_ReplyWithArray(ctx, (fmt & (RAI_REPLY_BLOB | RAI_REPLY_VALUES)) ? 6 : 4);
        RedisModule_ReplyWithCString(ctx, "dtype");
        RedisModule_ReplyWithCString(ctx, RAI_DTypeName(t->dtype));
        RedisModule_ReplyWithCString(ctx, "shape");
        RedisModule_ReplyWithArray(ctx, t->ndims);
        for (int i = 0; i < t->ndims; i++) RedisModule_ReplyWithLongLong(ctx, t->dims[i]);
    }
    if (fmt & RAI_REPLY_BLOB) {
        if (meta) RedisModule_ReplyWithCString(ctx, "blob");
        RedisModule_ReplyWithStringBuffer(ctx, t->data, t->nbytes);
    } else if (fmt & RAI_REPLY_VALUES) {
        if (meta) RedisModule_ReplyWithCString(ctx, "values");
        reply_values(ctx, t);
    }
}

int RAI_TensorGetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2 || argc > 4) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    RAI_Tensor *t;
    int fmt = -1;
    if (RAI_TensorGetFromKeyspace(ctx, argv[1], &t, &err) == REDISMODULE_OK)
        fmt = RAI_TensorParseReplyFormat(argv + 2, argc - 2, &err);
    if (fmt < 0) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    RAI_TensorReply(ctx, fmt, t);
    return REDISMODULE_OK;
}
