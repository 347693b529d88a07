/* creply.c -- replies owned by C.  A pool thread builds one (under the GIL or
 * the Redis lock), and Redis's main thread sends it without touching Python. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static CReply *creply_new(int type) {
    CReply *r = calloc(1, sizeof(*r));
    if (!r) abort(); /* out of memory: Redis itself would abort too */
    r->type = type;
    return r;
}

CReply *CReply_String(const char *s, size_t len) {
    CReply *r = creply_new(CR_STRING);
    r->str = malloc(len + 1);
    if (!r->str) abort();
    if (len) memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

CReply *CReply_Error(const char *msg) {
    CReply *r = CReply_String(msg, strlen(msg));
    r->type = CR_ERROR;
    /* A newline inside an error reply would break the protocol. */
    for (size_t i = 0; i < r->len; i++)
        if (r->str[i] == '\r' || r->str[i] == '\n') r->str[i] = ' ';
    return r;
}

CReply *CReply_Integer(long long v) {
    CReply *r = creply_new(CR_INTEGER);
    r->integer = v;
    return r;
}

CReply *CReply_Null(void) { return creply_new(CR_NULL); }

CReply *CReply_Array(size_t len) {
    CReply *r = creply_new(CR_ARRAY);
    r->len = len;
    r->elems = calloc(len ? len : 1, sizeof(CReply *));
    if (!r->elems) abort();
    return r;
}

/* RedisModule_Call returns NULL (with errno) when it refuses to run. */
static CReply *creply_from_errno(void) {
    switch (errno) {
    case ENOENT: return CReply_Error("ERR unknown command");
    case EINVAL: return CReply_Error("ERR wrong number of arguments or bad arguments");
    case EPERM: return CReply_Error("ERR operation not permitted");
    case ENETDOWN: return CReply_Error("ERR command not allowed when the server is not ready");
    case ESPIPE: return CReply_Error("ERR command not allowed in this context");
    case ENOSPC: return CReply_Error(OOM_ERROR); /* "M": a deny-oom command over maxmemory */
    default: return CReply_Error("ERR command could not be called");
    }
}

CReply *CReply_FromCall(RedisModuleCallReply *cr) {
    if (!cr) return creply_from_errno();
    size_t len = 0;
    const char *s;
    switch (RedisModule_CallReplyType(cr)) {
    case REDISMODULE_REPLY_STRING:
    case REDISMODULE_REPLY_VERBATIM_STRING:
    case REDISMODULE_REPLY_BIG_NUMBER:
        s = RedisModule_CallReplyStringPtr(cr, &len);
        return CReply_String(s ? s : "", s ? len : 0);
    case REDISMODULE_REPLY_ERROR: {
        s = RedisModule_CallReplyStringPtr(cr, &len);
        CReply *r = CReply_String(s ? s : "ERR", s ? len : 3);
        r->type = CR_ERROR;
        return r;
    }
    case REDISMODULE_REPLY_INTEGER:
    case REDISMODULE_REPLY_BOOL:
        return CReply_Integer(RedisModule_CallReplyInteger(cr));
    case REDISMODULE_REPLY_DOUBLE: {
        CReply *r = creply_new(CR_DOUBLE);
        r->dbl = RedisModule_CallReplyDouble(cr);
        return r;
    }
    case REDISMODULE_REPLY_ARRAY:
    case REDISMODULE_REPLY_SET:
    case REDISMODULE_REPLY_MAP: {
        size_t n = RedisModule_CallReplyLength(cr);
        CReply *r = CReply_Array(n);
        for (size_t i = 0; i < n; i++)
            r->elems[i] = CReply_FromCall(RedisModule_CallReplyArrayElement(cr, i));
        return r;
    }
    default:
        return CReply_Null();
    }
}

void CReply_Send(RedisModuleCtx *ctx, const CReply *r) {
    if (!r) {
        RedisModule_ReplyWithNull(ctx);
        return;
    }
    switch (r->type) {
    case CR_STRING: RedisModule_ReplyWithStringBuffer(ctx, r->str, r->len); return;
    case CR_ERROR: RedisModule_ReplyWithError(ctx, r->str); return;
    case CR_STATUS: RedisModule_ReplyWithSimpleString(ctx, r->str); return;
    case CR_INTEGER: RedisModule_ReplyWithLongLong(ctx, r->integer); return;
    case CR_DOUBLE: RedisModule_ReplyWithDouble(ctx, r->dbl); return;
    case CR_ARRAY:
        RedisModule_ReplyWithArray(ctx, (long)r->len);
        for (size_t i = 0; i < r->len; i++) CReply_Send(ctx, r->elems[i]);
        return;
    default: RedisModule_ReplyWithNull(ctx); return;
    }
}

void CReply_Free(CReply *r) {
    if (!r) return;
    if (r->type == CR_ARRAY)
        for (size_t i = 0; i < r->len; i++) CReply_Free(r->elems[i]);
    free(r->elems);
    free(r->str);
    free(r);
}
