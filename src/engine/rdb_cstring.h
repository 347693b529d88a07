/* rdb_cstring.h -- C strings in the RDB layouts of models and scripts
 * (and the tags of encoding v0, which were C strings too).  They are
 * written with their NUL, but a crafted payload (RESTORE) need not have one, and
 * RedisModule_LoadStringBuffer does not add it: every C string is loaded as
 * a copy with a NUL after its bytes. */
#ifndef ENGINE_RDB_CSTRING_H
#define ENGINE_RDB_CSTRING_H

#include <string.h>

#include "../common/rm_api.h"

static inline void RAI_SaveCString(RedisModuleIO *io, const char *s) {
    RedisModule_SaveStringBuffer(io, s, strlen(s) + 1); /* the NUL is part of the format */
}

/* NULL on a short stream; free with RedisModule_Free. */
static inline char *RAI_LoadCString(RedisModuleIO *io) {
    size_t len;
    char *buf = RedisModule_LoadStringBuffer(io, &len);
    if (!buf || (len > 0 && buf[len - 1] == '\0')) return buf; /* as written: no copy */
    /* Copy: the buffer has no room for the NUL. */
    char *s = RedisModule_Alloc(len + 1);
    memcpy(s, buf, len);
    s[len] = '\0';
    RedisModule_Free(buf);
    return s;
}

/* A model's or script's tag: a RedisModuleString since encoding v1, a C
 * string in v0.  NULL on a short stream. */
static inline RedisModuleString *RAI_LoadTag(RedisModuleIO *io, int encver) {
    if (encver >= 1) return RedisModule_LoadString(io);
    char *c = RAI_LoadCString(io);
    RedisModuleString *tag = c ? RedisModule_CreateString(NULL, c, strlen(c)) : NULL;
    RedisModule_Free(c);
    return tag;
}

#endif
