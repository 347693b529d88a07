/* command_hooks.c -- Redis commands that a CommandReader hook takes over:
 * GB('CommandReader').map(f).register(hook='hset', keyprefix='user:').
 *
 * A command filter sees every command before Redis looks it up.  When a
 * hook takes the call (its command, and its keyprefix matching the key),
 * the filter puts "rg._hookw" (or "rg._hookr" for a read-only command) in
 * front of it, so that Redis runs our command with the original as its
 * arguments: the flow then runs on the record [command, args...] as for
 * RG.TRIGGER, and its result is the reply.  The flow's call_next() runs the
 * original through RedisModule_Call, which this module's filter skips
 * (NOSELF), so it is not taken over again.
 *
 * Two commands, so that Redis's own checks still apply to the original's
 * kind: a hooked write is refused on a read-only replica and under OOM like
 * the command itself.  The filter leaves alone a call whose arity the
 * command refuses, so Redis's own error (and EXECABORT in MULTI) stays.
 * What came over the replication link or from the AOF is applied as it is:
 * the master ran the hook, and sent its effects.
 *
 * ACLs: the caller needs rg._hookw / rg._hookr, and is then checked against
 * the original command and its keys before the flow runs.  From a client,
 * these commands run hooked calls only: never another command.
 *
 * The calls of a command that a KeysReader's commands=[...] watches come
 * the same way, and go to key_commands.c when no hook takes them. */
#include <Python.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "host.h"

#define HOOK_WRITE "rg._hookw"
#define HOOK_READ "rg._hookr"

static const char *filter_arg(void *fctx, int pos, size_t *len) {
    return RedisModule_StringPtrLen((RedisModuleString *)RedisModule_CommandFilterArgGet(fctx, pos), len);
}

static const char *argv_arg(void *argv, int pos, size_t *len) {
    return RedisModule_StringPtrLen(((RedisModuleString **)argv)[pos], len);
}

/* ACL DELUSER and ACL LOAD free users that flows may have cached: an ACL
 * command, or an EXEC that may hold one, has them looked up again. */
static void note_acl_change(RedisModuleCommandFilterCtx *fctx) {
    size_t len;
    const char *cmd = filter_arg(fctx, 0, &len);
    if ((len == 3 && !strncasecmp(cmd, "acl", 3)) || (len == 4 && !strncasecmp(cmd, "exec", 4)))
        FlowUser_AclChanged();
}

/* Main thread, for every command: cheap unless some hook exists, or some
 * KeysReader watches commands (key_commands.c runs those). */
static void hook_filter(RedisModuleCommandFilterCtx *fctx) {
    note_acl_change(fctx);
    int write = 0, argc = RedisModule_CommandFilterArgsCount(fctx);
    int hooked = Registry_HasHooks() && Registry_FindHook(filter_arg, fctx, argc, 0, &write);
    if (!hooked && !(Registry_HasWatchedCommands() && Registry_WatchesCommand(filter_arg, fctx, argc, &write)))
        return;
    const char *name = write ? HOOK_WRITE : HOOK_READ;
    RedisModuleString *s = RedisModule_CreateString(NULL, name, strlen(name));
    if (RedisModule_CommandFilterArgInsert(fctx, 0, s) != REDISMODULE_OK) RedisModule_FreeString(NULL, s);
}

/* May the calling client run the original command on its keys?  (Redis
 * checked rg._hookw / rg._hookr only.) */
static int caller_may_run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    FlowUser *user = FlowUser_OfCaller(ctx);
    int ok = !user || !FlowUser_DenyCommand(user, ctx, argv, argc); /* none: a module's call */
    FlowUser_Release(user);
    return ok;
}

/* The original command, as it came from the master or the AOF. */
static int run_unhooked(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    const char *cmd = RedisModule_StringPtrLen(argv[0], NULL);
    RedisModuleCallReply *reply = RedisModule_Call(ctx, cmd, "!v", argv + 1, (size_t)(argc - 1));
    if (!reply) {
        CReply *err = CReply_FromCall(NULL); /* the reason, from errno */
        CReply_Send(ctx, err);
        CReply_Free(err);
        return REDISMODULE_OK;
    }
    RedisModule_ReplyWithCallReply(ctx, reply);
    RedisModule_FreeCallReply(reply);
    return REDISMODULE_OK;
}

static int hook_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2) return RedisModule_WrongArity(ctx);
    argv++, argc--; /* the hooked command and its arguments */
    if (RedisModule_GetContextFlags(ctx) & (REDISMODULE_CTX_FLAGS_REPLICATED | REDISMODULE_CTX_FLAGS_LOADING))
        return run_unhooked(ctx, argv, argc);
    if (!caller_may_run(ctx, argv, argc)) {
        const char *cmd = RedisModule_StringPtrLen(argv[0], NULL);
        char msg[160];
        snprintf(msg, sizeof(msg), "NOPERM this user has no permissions to run the '%.64s' command on these keys", cmd);
        return RedisModule_ReplyWithError(ctx, msg);
    }
    Reg *reg = Registry_FindHook(argv_arg, argv, argc, 1, NULL);
    if (!reg && Registry_WatchesCommand(argv_arg, argv, argc, NULL)) return KeyCommands_Run(ctx, argv, argc);
    /* A direct call, or the hook went away since the filter ran (a command
     * queued in MULTI): nothing to run it for. */
    if (!reg) return RedisModule_ReplyWithError(ctx, "ERR no hook takes this call (unregistered since it was sent?)");
    return Commands_RunFlow(ctx, reg, argv, argc);
}

int CommandHooks_Start(RedisModuleCtx *ctx) {
    if (!RedisModule_RegisterCommandFilter || !RedisModule_CommandFilterArgInsert) return REDISMODULE_ERR;
    /* The hooked command's own categories apply too (checked in hook_command). */
    static const RMCommandSpec hooks[] = {
        {HOOK_WRITE, hook_command, "write deny-oom", 0, 0, 0, "write slow"},
        {HOOK_READ, hook_command, "readonly", 0, 0, 0, "read slow"},
    };
    if (RMCommand_CreateAll(ctx, hooks, 2) != REDISMODULE_OK) return REDISMODULE_ERR;
    return RedisModule_RegisterCommandFilter(ctx, hook_filter, REDISMODULE_CMDFILTER_NOSELF) ? REDISMODULE_OK
                                                                                               : REDISMODULE_ERR;
}
