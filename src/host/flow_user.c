/* flow_user.c -- the ACL user a flow runs as, and its permission checks.
 *
 * A flow started by a client runs its execute() calls and its redisAI key
 * reads and writes with that client's ACL user; an event flow with the user
 * who registered it.  Redis 7.0 has no way to give a thread-safe context a
 * user (RedisModule_SetContextUser came later), so the checks are made here,
 * before the call, with the module ACL API; a refusal gets the text Lua's
 * redis.call gives for it on 7.0.
 *
 * A FlowUser is looked up by name once and the server's user is cached with
 * it; ACL DELUSER and ACL LOAD free users, so when the command filter
 * (command_hooks.c) sees an ACL command (or an EXEC, which may hold one),
 * users are looked up at every check until that command is over (the event
 * loop runs a one-shot callback after it), and then once again.  A user allowed every command, key and channel is
 * noted as such then, and its checks cost nothing more than that flag.
 * Checks and look-ups run under the Redis lock only.  A refused check asks
 * ACL DRYRUN which rule refused it (command, key or channel): the module
 * API only says that one did. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"

/* A refusal is the error redis.call gives in Lua on this server: Redis 7.0
 * words it one way; Redis 7.2+ and Valkey say "ACL failure in script: " and
 * ACL DRYRUN's text for a command, a fixed one for a key or a channel. */
#define ACL_TEXTS_CHANGED 0x00070200 /* RedisModule_GetServerVersion's form */
#define DENIED_COMMAND_70 "ERR The user executing the script can't run this command or subcommand"
#define DENIED_KEY_70 "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
#define DENIED_CHANNEL_70 "ERR The user executing the script can't publish to the channel mentioned in the command"
#define SCRIPT_ACL_FAILURE "ERR ACL failure in script: "
#define DENIED_KEY_72 SCRIPT_ACL_FAILURE "No permissions to access a key"
#define DENIED_CHANNEL_72 SCRIPT_ACL_FAILURE "No permissions to access a channel"

static int texts_of_72(void) {
    static int answer = -1; /* the server does not change while loaded */
    if (answer < 0) answer = RedisModule_GetServerVersion && RedisModule_GetServerVersion() >= ACL_TEXTS_CHANGED;
    return answer;
}

static const char *denied_key(void) { return texts_of_72() ? DENIED_KEY_72 : DENIED_KEY_70; }

/* The text for a refused command: on 7.2+ ACL DRYRUN's `dryrun` (len bytes),
 * "User u has no permissions to run the 'get' command", after the prefix. */
static const char *denied_command(const char *dryrun, size_t len) {
    static __thread char msg[300];
    if (!texts_of_72() || !dryrun) return DENIED_COMMAND_70;
    snprintf(msg, sizeof(msg), SCRIPT_ACL_FAILURE "%.*s", (int)(len < 250 ? len : 250), dryrun);
    return msg;
}

/* REDISMODULE_CMD_KEY_* of RedisModule_ACLCheckKeyPermissions: read, write */
#define KEY_ACCESS (1 << 4)
#define KEY_UPDATE (1 << 5)
#define KEY_INSERT (1 << 6)

struct FlowUser {
    atomic_int refs;
    char *name;
    RedisModuleString *name_str; /* made on first use, under the lock */
    RedisModuleUser *user;       /* the server's user, or NULL if it does not exist */
    unsigned long epoch;         /* acl_epoch when `user` was looked up; 0: never */
    int unrestricted;            /* +@all ~* &*: nothing to check */
};

static unsigned long acl_epoch = 1; /* main thread, or under the Redis lock */
static int acl_changing;            /* an ACL command may be running: no caching */
/* The users of recent callers, so that a trigger finds its user (and the
 * verdicts cached with it) without a look-up; under the Redis lock. */
#define RECENT_CALLERS 16
static FlowUser *recent[RECENT_CALLERS];
static unsigned next_recent; /* the slot a new caller's user takes */

FlowUser *FlowUser_New(const char *name, size_t len) {
    FlowUser *u = calloc(1, sizeof(*u));
    if (!u || !(u->name = strndup(name, len))) {
        free(u);
        return NULL;
    }
    atomic_init(&u->refs, 1);
    return u;
}

FlowUser *FlowUser_Retain(FlowUser *u) {
    if (u) atomic_fetch_add(&u->refs, 1);
    return u;
}

/* Any thread: the cached server user is only a wrapper (freeing it does not
 * touch the ACL), and the name string was made without a context. */
void FlowUser_Release(FlowUser *u) {
    if (!u || atomic_fetch_sub(&u->refs, 1) != 1) return;
    if (u->user) RedisModule_FreeModuleUser(u->user);
    if (u->name_str) RedisModule_FreeString(NULL, u->name_str);
    free(u->name);
    free(u);
}

const char *FlowUser_Name(const FlowUser *u) { return u->name; }

/* Main thread, after the command that may have changed users. */
static void acl_settled(void *unused) {
    (void)unused;
    acl_changing = 0;
    acl_epoch++;
}

void FlowUser_AclChanged(void) {
    acl_epoch++;
    if (acl_changing) return; /* its callback is on the way */
    acl_changing = RedisModule_EventLoopAddOneShot(acl_settled, NULL) == REDISMODULE_OK;
}

/* The user name of the client running the command, or NULL for a module's
 * call (RedisModule_GetCurrentUserName would crash on Redis 7.0: a module's
 * client has no user).  A client connection is found by its id; Lua's and
 * a function's client (not a connection) has the caller's user. */
static RedisModuleString *caller_name(RedisModuleCtx *ctx) {
    if (!RedisModule_GetClientUserNameById || !RedisModule_GetCurrentUserName) return NULL; /* Redis < 7 */
    RedisModuleString *name = RedisModule_GetClientUserNameById(ctx, RedisModule_GetClientId(ctx));
    if (name) return name;
    return RedisModule_GetContextFlags(ctx) & REDISMODULE_CTX_FLAGS_LUA ? RedisModule_GetCurrentUserName(ctx) : NULL;
}

FlowUser *FlowUser_OfCaller(RedisModuleCtx *ctx) {
    RedisModuleString *name = caller_name(ctx);
    if (!name) return NULL; /* a module's call: full rights */
    size_t len;
    const char *p = RedisModule_StringPtrLen(name, &len);
    FlowUser *found = NULL;
    for (int i = 0; i < RECENT_CALLERS && !found; i++)
        if (recent[i] && strlen(recent[i]->name) == len && !memcmp(recent[i]->name, p, len)) found = recent[i];
    if (!found && (found = FlowUser_New(p, len))) {
        FlowUser **slot = &recent[next_recent++ % RECENT_CALLERS];
        FlowUser_Release(*slot);
        *slot = found;
    }
    RedisModule_FreeString(NULL, name);
    return FlowUser_Retain(found);
}

static int reply_is(RedisModuleCallReply *r, const char *text) {
    size_t len;
    const char *s = RedisModule_CallReplyType(r) == REDISMODULE_REPLY_STRING ? RedisModule_CallReplyStringPtr(r, &len) : NULL;
    return s && len == strlen(text) && !memcmp(s, text, len);
}

/* ACL GETUSER's verdict: every command, key and channel, and no selectors. */
static int allows_everything(RedisModuleCtx *ctx, RedisModuleString *name) {
    RedisModuleCallReply *r = RedisModule_Call(ctx, "ACL", "cs", "GETUSER", name);
    if (!r) return 0;
    int commands = 0, keys = 0, channels = 0, selectors = 1;
    size_t n = RedisModule_CallReplyType(r) == REDISMODULE_REPLY_ARRAY ? RedisModule_CallReplyLength(r) : 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        RedisModuleCallReply *field = RedisModule_CallReplyArrayElement(r, i);
        RedisModuleCallReply *value = RedisModule_CallReplyArrayElement(r, i + 1);
        if (reply_is(field, "commands")) commands = reply_is(value, "+@all");
        else if (reply_is(field, "keys")) keys = reply_is(value, "~*");
        else if (reply_is(field, "channels")) channels = reply_is(value, "&*");
        else if (reply_is(field, "selectors"))
            selectors = RedisModule_CallReplyType(value) != REDISMODULE_REPLY_ARRAY || RedisModule_CallReplyLength(value);
    }
    RedisModule_FreeCallReply(r);
    return commands && keys && channels && !selectors;
}

/* The server's user for `u`, looked up again after an ACL change; NULL
 * when it no longer exists.  Redis lock held. */
static RedisModuleUser *resolve(FlowUser *u, RedisModuleCtx *ctx) {
    if (u->epoch == acl_epoch && !acl_changing) return u->user;
    if (!u->name_str && !(u->name_str = RedisModule_CreateString(NULL, u->name, strlen(u->name)))) return NULL;
    if (u->user) RedisModule_FreeModuleUser(u->user);
    u->user = RedisModule_GetModuleUserFromUserName(u->name_str);
    u->unrestricted = u->user && allows_everything(ctx, u->name_str);
    u->epoch = acl_epoch;
    return u->user;
}

int FlowUser_Exists(FlowUser *u, RedisModuleCtx *ctx) { return resolve(u, ctx) != NULL; }

static const char *gone(const FlowUser *u) {
    static __thread char msg[200];
    snprintf(msg, sizeof(msg), "ERR the ACL user '%.100s' this flow runs as no longer exists", u->name);
    return msg;
}

/* REDISMODULE_ACL_LOG_* reasons of RedisModule_ACLAddLogEntry */
enum { LOG_COMMAND = 1, LOG_KEY = 2, LOG_CHANNEL = 3 };

/* Notes a refusal in ACL LOG, as Redis does for Lua's; the object is what
 * ACL DRYRUN's answer quotes (the command, key or channel). */
static void log_refusal(RedisModuleCtx *ctx, RedisModuleUser *user, const char *why, size_t len, int reason) {
    const char *open = memchr(why, '\'', len), *close = NULL;
    for (const char *p = why + len; p > why && !close; p--)
        if (p[-1] == '\'') close = p - 1;
    if (!RedisModule_ACLAddLogEntry || !open || close <= open) return;
    RedisModuleString *object = RedisModule_CreateString(NULL, open + 1, (size_t)(close - open - 1));
    if (!object) return;
    RedisModule_ACLAddLogEntry(ctx, user, object, reason);
    RedisModule_FreeString(NULL, object);
}

/* Which check refused argv: the command itself (or its subcommand), one of
 * its keys, or a channel.  Only after a refusal: ACL DRYRUN says which. */
static const char *why_denied(FlowUser *u, RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    RedisModuleCallReply *r = RedisModule_Call(ctx, "ACL", "csv", "DRYRUN", u->name_str, argv, (size_t)argc);
    size_t len = 0;
    const char *s = r && RedisModule_CallReplyType(r) == REDISMODULE_REPLY_STRING ? RedisModule_CallReplyStringPtr(r, &len) : NULL;
    const char *why = NULL;
    int reason = LOG_COMMAND;
    for (size_t i = 0; s && i + 5 <= len; i++) {
        if (!memcmp(s + i, "' key", 5)) why = denied_key(), reason = LOG_KEY;
        else if (i + 9 <= len && !memcmp(s + i, "' channel", 9))
            why = texts_of_72() ? DENIED_CHANNEL_72 : DENIED_CHANNEL_70, reason = LOG_CHANNEL;
    }
    if (!why) why = denied_command(s, len);
    if (s) log_refusal(ctx, u->user, s, len, reason);
    if (r) RedisModule_FreeCallReply(r);
    return why;
}

/* Whether argv fits its command's arity: Redis's ACL check reads the key
 * arguments the command should have, present or not. */
static int arity_fits(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (!RedisModule_GetCommandKeys) return 0;
    errno = 0;
    int n = 0, *keys = RedisModule_GetCommandKeys(ctx, argv, argc, &n);
    if (keys) {
        RedisModule_Free(keys);
        return 1;
    }
    return errno == 0; /* a command without keys; else unknown, or the wrong arity */
}

const char *FlowUser_DenyCommand(FlowUser *u, RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    RedisModuleUser *user = resolve(u, ctx);
    if (!user) return gone(u);
    if (u->unrestricted) return NULL;
    if (!arity_fits(ctx, argv, argc)) return NULL; /* the call refuses it, with Redis's error */
    if (RedisModule_ACLCheckCommandPermissions(user, argv, argc) == REDISMODULE_OK) return NULL;
    return why_denied(u, ctx, argv, argc);
}

const char *FlowUser_DenyKeys(FlowUser *u, RedisModuleCtx *ctx, RedisModuleString **keys, size_t n, int write) {
    RedisModuleUser *user = resolve(u, ctx);
    if (!user) return gone(u);
    if (u->unrestricted || !RedisModule_ACLCheckKeyPermissions) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (RedisModule_ACLCheckKeyPermissions(user, keys[i], write ? KEY_UPDATE | KEY_INSERT : KEY_ACCESS) == REDISMODULE_OK)
            continue;
        if (RedisModule_ACLAddLogEntry) RedisModule_ACLAddLogEntry(ctx, user, keys[i], LOG_KEY);
        return denied_key();
    }
    return NULL;
}
