/* command_args.h -- small helpers shared by the command parsers. */
#ifndef ENGINE_COMMAND_ARGS_H
#define ENGINE_COMMAND_ARGS_H

#include <string.h>
#include <strings.h>

#include "../common/rm_api.h"

static inline int RAI_ArgIs(RedisModuleString *arg, const char *word) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(arg, &len);
    return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/* Arguments the engine keeps as C strings (devices, entry points, script
 * KEYS and ARGS) would be cut at a NUL byte: they are refused instead. */
static inline int RAI_ArgHasNul(RedisModuleString *arg) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(arg, &len);
    return memchr(s, '\0', len) != NULL;
}

/* Commands that block their client cannot run inside MULTI or Lua. */
static inline int RAI_CannotBlock(RedisModuleCtx *ctx) {
    int flags = RedisModule_GetContextFlags(ctx);
    return flags & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA |
                    REDISMODULE_CTX_FLAGS_DENY_BLOCKING);
}
#define RAI_ERR_CANNOT_BLOCK "ERR Cannot run RedisAI command within a transaction or a LUA script"

#endif
