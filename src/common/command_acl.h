/* command_acl.h -- registers a module's commands with their ACL categories,
 * shared by both modules (engine "ai", Python host "rg").
 *
 * Redis 7.2+ and Valkey let a module give each command ACL categories
 * (RedisModule_SetCommandACLCategories): there `-@dangerous` in a user's
 * rules keeps the user off the commands marked "dangerous".  Redis 7.0 has
 * no such entry, so a dangerous command checks its caller instead: it runs
 * only for a user who may run Redis's own dangerous commands (CONFIG SET),
 * and answers Redis's NOPERM text otherwise.  Dangerous commands are also
 * "deny-script": inside Lua the caller's user is not known to the module. */
#ifndef COMMON_COMMAND_ACL_H
#define COMMON_COMMAND_ACL_H

#include <stddef.h>

#include "rm_api.h"

typedef struct RMCommandSpec {
    const char *name;
    RedisModuleCmdFunc fn;
    const char *flags;
    int first, last, step;
    /* Space-separated ACL categories without '@' ("write slow"); a command
     * whose list has "dangerous" gets the 7.0 check described above. */
    const char *categories;
} RMCommandSpec;

/* Creates one command; REDISMODULE_ERR if Redis refuses it.  `spec` must
 * stay valid while the module is loaded (a static table): the 7.0 check
 * finds a dangerous command's function through it. */
int RMCommand_Create(RedisModuleCtx *ctx, const RMCommandSpec *spec);

/* Creates each of `n` commands; stops at the first Redis refuses. */
int RMCommand_CreateAll(RedisModuleCtx *ctx, const RMCommandSpec *specs, size_t n);

#endif
