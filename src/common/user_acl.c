/* user_acl.c -- see user_acl.h. */
#include "user_acl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

#define NOPERM_KEYS "NOPERM this user has no permissions to access one of the keys used as arguments"

static void log_denial(RedisModuleCtx *ctx, RedisModuleUser *user, RedisModuleString *object, int reason) {
    if (RedisModule_ACLAddLogEntry) RedisModule_ACLAddLogEntry(ctx, user, object, reason);
}

/* The first key of the call outside every key pattern of the user, or -1. */
static int denied_key(RedisModuleCtx *ctx, RedisModuleUser *user, RedisModuleString **argv, int argc) {
    if (!RedisModule_GetCommandKeys || !RedisModule_ACLCheckKeyPermissions) return -1;
    int n = 0, denied = -1;
    int *positions = RedisModule_GetCommandKeys(ctx, argv, argc, &n);
    if (!positions) return -1;
    for (int i = 0; i < n && denied < 0; i++)
        if (RedisModule_ACLCheckKeyPermissions(user, argv[positions[i]], 0) != REDISMODULE_OK) denied = positions[i];
    RedisModule_Free(positions);
    return denied;
}

static void command_denied(char *err, size_t errlen, RedisModuleString *cmd) {
    size_t len;
    const char *name = RedisModule_StringPtrLen(cmd, &len);
    char lower[64];
    size_t n = len < sizeof(lower) - 1 ? len : sizeof(lower) - 1;
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[n] = '\0';
    snprintf(err, errlen, "NOPERM this user has no permissions to run the '%s' command", lower);
}

RedisModuleString *RMACL_CallerUserName(RedisModuleCtx *ctx) {
    if (!RedisModule_GetClientId || !RedisModule_GetClientUserNameById) return NULL; /* Redis < 7 */
    unsigned long long id = RedisModule_GetClientId(ctx);
    return id ? RedisModule_GetClientUserNameById(ctx, id) : NULL;
}

int RMACL_UserMayRun(RedisModuleCtx *ctx, RedisModuleString *user_name, RedisModuleString **argv, int argc,
                     char *err, size_t errlen) {
    if (!RedisModule_GetModuleUserFromUserName || !RedisModule_ACLCheckCommandPermissions) return 1; /* Redis < 7 */
    RedisModuleUser *user = RedisModule_GetModuleUserFromUserName(user_name);
    if (!user) { /* deleted while the script ran */
        command_denied(err, errlen, argv[0]);
        return 0;
    }
    errno = 0;
    int ok = RedisModule_ACLCheckCommandPermissions(user, argv, argc) == REDISMODULE_OK || errno == ENOENT;
    if (!ok) {
        int key = denied_key(ctx, user, argv, argc);
        if (key >= 0) {
            snprintf(err, errlen, "%s", NOPERM_KEYS);
            log_denial(ctx, user, argv[key], REDISMODULE_ACL_LOG_KEY);
        } else {
            command_denied(err, errlen, argv[0]);
            log_denial(ctx, user, argv[0], REDISMODULE_ACL_LOG_CMD);
        }
    }
    RedisModule_FreeModuleUser(user);
    return ok;
}
