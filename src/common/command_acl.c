/* command_acl.c -- see command_acl.h. */
#include "command_acl.h"
#include "user_acl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The dangerous commands of this module (each module links its own copy),
 * found again by name: a command function gets no private data. */
#define MAX_GUARDED 16
static const RMCommandSpec *guarded[MAX_GUARDED];
static size_t nguarded;

/* CONFIG SET, whose permission stands for "may run dangerous commands". */
static RedisModuleString *config_set_argv[4];

static int is_dangerous(const RMCommandSpec *spec) {
    return spec->categories && strstr(spec->categories, "dangerous") != NULL;
}

static const RMCommandSpec *guarded_find(const char *name) {
    for (size_t i = 0; i < nguarded; i++)
        if (strcasecmp(guarded[i]->name, name) == 0) return guarded[i];
    return NULL;
}

/* 1 if the caller may run CONFIG SET.  A call with no client user (the
 * replication link, the AOF, another module's RedisModule_Call) has full
 * rights, as it has for Redis's own commands. */
static int caller_may_run_dangerous(RedisModuleCtx *ctx, const char *cmd) {
    if (!RedisModule_ACLCheckCommandPermissions) return 1; /* Redis < 7 */
    RedisModuleString *name = RMACL_CallerUserName(ctx);
    if (!name) return 1;
    RedisModuleUser *user = RedisModule_GetModuleUserFromUserName(name);
    RedisModule_FreeString(NULL, name);
    if (!user) return 0; /* deleted since it authenticated */
    int ok = RedisModule_ACLCheckCommandPermissions(user, config_set_argv, 4) == REDISMODULE_OK;
    if (!ok && RedisModule_ACLAddLogEntry) {
        RedisModuleString *object = RedisModule_CreateString(NULL, cmd, strlen(cmd));
        if (object) {
            RedisModule_ACLAddLogEntry(ctx, user, object, REDISMODULE_ACL_LOG_CMD);
            RedisModule_FreeString(NULL, object);
        }
    }
    RedisModule_FreeModuleUser(user);
    return ok;
}

static int dangerous_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    const RMCommandSpec *spec = guarded_find(RedisModule_StringPtrLen(argv[0], NULL));
    if (!spec) return RedisModule_ReplyWithError(ctx, "ERR unknown command");
    if (!RedisModule_IsKeysPositionRequest(ctx) && !caller_may_run_dangerous(ctx, spec->name)) {
        char msg[128];
        snprintf(msg, sizeof(msg), "NOPERM this user has no permissions to run the '%s' command", spec->name);
        return RedisModule_ReplyWithError(ctx, msg);
    }
    return spec->fn(ctx, argv, argc);
}

static int guard(const RMCommandSpec *spec) {
    if (nguarded == MAX_GUARDED) return REDISMODULE_ERR;
    if (!config_set_argv[0]) {
        const char *words[4] = {"CONFIG", "SET", "maxmemory", "0"};
        for (int i = 0; i < 4; i++) {
            config_set_argv[i] = RedisModule_CreateString(NULL, words[i], strlen(words[i]));
            if (!config_set_argv[i]) return REDISMODULE_ERR;
        }
    }
    guarded[nguarded++] = spec;
    return REDISMODULE_OK;
}

int RMCommand_Create(RedisModuleCtx *ctx, const RMCommandSpec *spec) {
    int dangerous = is_dangerous(spec);
    int categories_api = RedisModule_GetCommand && RedisModule_SetCommandACLCategories;
    char flags[128];
    snprintf(flags, sizeof(flags), "%s%s", spec->flags, dangerous ? " deny-script" : "");
    RedisModuleCmdFunc fn = spec->fn;
    if (dangerous && !categories_api) {
        if (guard(spec) != REDISMODULE_OK) return REDISMODULE_ERR;
        fn = dangerous_command;
    }
    if (RedisModule_CreateCommand(ctx, spec->name, fn, flags, spec->first, spec->last, spec->step) !=
        REDISMODULE_OK)
        return REDISMODULE_ERR;
    if (!categories_api || !spec->categories) return REDISMODULE_OK;
    RedisModuleCommand *command = RedisModule_GetCommand(ctx, spec->name);
    if (!command) return REDISMODULE_ERR;
    return RedisModule_SetCommandACLCategories(command, spec->categories);
}

int RMCommand_CreateAll(RedisModuleCtx *ctx, const RMCommandSpec *specs, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (RMCommand_Create(ctx, &specs[i]) != REDISMODULE_OK) return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
