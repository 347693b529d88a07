/* script_ext.c -- the engine side of the TorchScript extensions.  Inside a
 * script, redis.execute(cmd, ...) runs a Redis command and
 * redisAI.model_execute(key, [tensors], n) runs a stored model; the TORCH
 * backend reaches these functions through RAI_EngineOps.
 *
 * They run on the thread that runs the script: an engine worker
 * (AI.SCRIPTEXECUTE, DAGs, RedisAI_ScriptRunAsync), a consumer's thread
 * (RedisAI_ScriptRun from a flow) or Redis's main thread (RedisAI_ScriptRun
 * from a command).  The Redis lock is taken around keyspace access only, and
 * never while a model runs.  The main thread already holds it (it runs module
 * code only under the lock), so there it is not taken again.
 *
 * Commands and model lookups use one detached context, used only by the
 * thread that holds the lock.  They run in the database of the command that
 * started the script (AI.SCRIPTEXECUTE, AI.DAGEXECUTE...), where its KEYS
 * and INPUTS were read; through the C API, db 0.  (RedisAI used db 0
 * always: a script run after SELECT 1 read its KEYS from one database and
 * its redis.execute calls from another.)
 *
 * Started by a client's command, they have that client's ACL rights, as
 * redis.call has in Lua: a command or key the user may not touch fails with
 * Redis's NOPERM text.  Through the C API they have full rights.  A write
 * is refused with Redis's OOM error while the server is over maxmemory. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/user_acl.h"
#include "model_run.h"
#include "script_ext.h"

/* What RedisAI puts before a failed redis.execute's Redis error. */
#define ERR_CALL "Redis command returned an error: "

static RedisModuleCtx *shared_ctx;
static pthread_t main_thread;
static __thread RAI_ScriptExtRun current; /* the script run on this thread */

RAI_ScriptExtRun RAI_ScriptExtEnter(RAI_ScriptExtRun run) {
    RAI_ScriptExtRun outer = current;
    current = run;
    return outer;
}

void RAI_ScriptExtInit(RedisModuleCtx *ctx) {
    shared_ctx = RedisModule_GetDetachedThreadSafeContext(ctx);
    main_thread = pthread_self();
}

static RedisModuleCtx *lock_redis(void) {
    if (!pthread_equal(pthread_self(), main_thread)) RedisModule_ThreadSafeContextLock(shared_ctx);
    return shared_ctx;
}

static void unlock_redis(void) {
    if (!pthread_equal(pthread_self(), main_thread)) RedisModule_ThreadSafeContextUnlock(shared_ctx);
}

static void set_err(char *err, const char *msg) { snprintf(err, RAI_ERRLEN, "%s", msg ? msg : "ERR failed"); }

/* ---- redis.execute ---- */

/* Frees what `r` holds, not `r` itself. */
static void reply_clear(RAI_CommandReply *r) {
    if (r->type == RAI_REPLY_STRING) RedisModule_Free(r->str);
    if (r->type == RAI_REPLY_ARRAY) {
        for (size_t i = 0; i < r->len; i++) reply_clear(&r->elements[i]);
        RedisModule_Free(r->elements);
    }
    memset(r, 0, sizeof(*r));
}

void RAI_ScriptExtReplyFree(RAI_CommandReply *reply) {
    if (!reply) return;
    reply_clear(reply);
    RedisModule_Free(reply);
}

/* Copies a call reply into `out` (the call reply lives only under the lock).
 * An error reply anywhere in it fails the whole call with the error's text. */
static int reply_copy(RedisModuleCallReply *r, RAI_CommandReply *out, char *err) {
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    const char *s;
    switch (RedisModule_CallReplyType(r)) {
    case REDISMODULE_REPLY_STRING:
        s = RedisModule_CallReplyStringPtr(r, &len);
        out->type = RAI_REPLY_STRING;
        out->str = RedisModule_Alloc(len + 1);
        if (len) memcpy(out->str, s, len);
        out->str[len] = '\0';
        out->len = len;
        return REDISMODULE_OK;
    case REDISMODULE_REPLY_INTEGER:
        out->type = RAI_REPLY_INTEGER;
        out->integer = RedisModule_CallReplyInteger(r);
        return REDISMODULE_OK;
    case REDISMODULE_REPLY_NULL:
        out->type = RAI_REPLY_NIL;
        return REDISMODULE_OK;
    case REDISMODULE_REPLY_ARRAY:
        len = RedisModule_CallReplyLength(r);
        out->type = RAI_REPLY_ARRAY;
        out->elements = RedisModule_Calloc(len ? len : 1, sizeof(*out->elements));
        for (size_t i = 0; i < len; i++) {
            out->len = i; /* what reply_clear frees if this element fails */
            if (reply_copy(RedisModule_CallReplyArrayElement(r, i), &out->elements[i], err) != REDISMODULE_OK)
                return REDISMODULE_ERR;
        }
        out->len = len;
        return REDISMODULE_OK;
    case REDISMODULE_REPLY_ERROR:
        s = RedisModule_CallReplyStringPtr(r, &len);
        snprintf(err, RAI_ERRLEN, ERR_CALL "%.*s", (int)(len < RAI_ERRLEN ? len : RAI_ERRLEN - 1), s ? s : "");
        return REDISMODULE_ERR;
    default: /* RESP3 types: not asked for */
        set_err(err, "ERR redis.execute: unsupported reply type");
        return REDISMODULE_ERR;
    }
}

/* RedisModule_Call fails without a reply for errors it detects before the
 * command runs (with the "E" flag most come back as error replies). */
static void call_failed(const char *cmd, int code, char *err) {
    switch (code) {
    case ENOENT: snprintf(err, RAI_ERRLEN, ERR_CALL "ERR unknown command '%s'", cmd); break;
    case EINVAL: snprintf(err, RAI_ERRLEN, ERR_CALL "Invalid argument"); break; /* wrong arity, as RedisAI says it */
    default: snprintf(err, RAI_ERRLEN, ERR_CALL "ERR redis.execute: %s failed: %s", cmd, strerror(code)); break;
    }
}

/* WAIT and WAITAOF block the calling client until replicas answer: Redis
 * refuses them in script mode, Valkey 8.1 lets them through, so they are
 * refused here on every server. */
static const char *waits_for_replicas(const char *cmd) {
    if (!strcasecmp(cmd, "wait")) return "wait";
    return strcasecmp(cmd, "waitaof") ? NULL : "waitaof";
}

RAI_CommandReply *RAI_ScriptExtExecute(const char *const *argv, const size_t *lens, size_t argc, char *err) {
    if (!shared_ctx) {
        set_err(err, "ERR redis.execute: the engine is not initialized");
        return NULL;
    }
    if (argc == 0 || lens[0] == 0 || memchr(argv[0], '\0', lens[0])) {
        set_err(err, "ERR redis.execute: missing or invalid command name");
        return NULL;
    }
    /* Copies of the arguments as Redis strings: Redis may keep them (SET
     * stores its value argument), so they are released under the lock. */
    char *cmd = RedisModule_Alloc(lens[0] + 1);
    memcpy(cmd, argv[0], lens[0]);
    cmd[lens[0]] = '\0';
    /* all[0] is the command, for the ACL check; the call takes the rest. */
    RedisModuleString **all = RedisModule_Alloc(sizeof(*all) * argc);
    for (size_t i = 0; i < argc; i++) all[i] = RedisModule_CreateString(NULL, argv[i], lens[i]);
    RedisModuleString **args = all + 1;
    size_t nargs = argc - 1;

    RAI_CommandReply *out = NULL;
    RedisModuleCtx *ctx = lock_redis();
    RedisModule_SelectDb(ctx, current.db);
    /* "!": replicated and in the AOF (the script's command is not);
     * "S": script mode, as redis.call in Lua: commands that must not run
     * from a script (WAIT, SYNC, PSYNC, MULTI, CLIENT, CONFIG...) are
     * refused -- run from a worker's context, WAIT and SYNC crashed Redis;
     * "M": a deny-oom command is refused while over maxmemory, as in Lua;
     * "E": errors found before the command runs come back as replies. */
    RedisModuleCallReply *reply = NULL;
    const char *waiting = waits_for_replicas(cmd);
    if (waiting) {
        snprintf(err, RAI_ERRLEN, ERR_CALL "ERR command '%s' is not allowed on script mode", waiting);
    } else if (!current.user || RMACL_UserMayRun(ctx, current.user, all, (int)argc, err, RAI_ERRLEN)) {
        errno = 0; /* RedisModule_Call sets it on failure only */
        reply = RedisModule_Call(ctx, cmd, "!SMvE", args, nargs);
        int code = errno;
        if (reply && code == EINVAL) { /* a wrong arity gets RedisAI's text, not Redis's reply */
            RedisModule_FreeCallReply(reply);
            reply = NULL;
        }
        if (!reply) call_failed(cmd, code, err);
    }
    if (!reply) {
        /* err is set: the ACL refusal, or the call's failure */
    } else {
        out = RedisModule_Calloc(1, sizeof(*out));
        if (reply_copy(reply, out, err) != REDISMODULE_OK) {
            RAI_ScriptExtReplyFree(out);
            out = NULL;
        }
        RedisModule_FreeCallReply(reply);
    }
    for (size_t i = 0; i < argc; i++) RedisModule_FreeString(NULL, all[i]);
    unlock_redis();

    RedisModule_Free(all);
    RedisModule_Free(cmd);
    return out;
}

/* ---- redisAI.model_execute ---- */

/* The caller needs what AI.MODELEXECUTE on the model's key needs. */
static int caller_may_execute_model(RedisModuleCtx *ctx, RedisModuleString *key, RAI_Error *e) {
    const char *words[] = {"AI.MODELEXECUTE", NULL, "INPUTS", "0", "OUTPUTS", "0"};
    RedisModuleString *argv[6];
    for (int i = 0; i < 6; i++) argv[i] = i == 1 ? key : RedisModule_CreateString(NULL, words[i], strlen(words[i]));
    char msg[RAI_ERRLEN];
    int ok = RMACL_UserMayRun(ctx, current.user, argv, 6, msg, sizeof(msg));
    for (int i = 0; i < 6; i++)
        if (i != 1) RedisModule_FreeString(NULL, argv[i]);
    if (!ok) RAI_SetError(e, RAI_EMODELRUN, msg);
    return ok;
}

int RAI_ScriptExtModelExecute(const char *key, size_t keylen, RAI_Tensor *const *inputs, size_t ninputs,
                              RAI_Tensor **outputs, size_t noutputs, char *err) {
    for (size_t i = 0; i < noutputs; i++) outputs[i] = NULL;
    if (!shared_ctx) {
        set_err(err, "ERR redisAI.model_execute: the engine is not initialized");
        return -1;
    }
    RAI_Error e = {0};
    RAI_Model *model = NULL;
    RAI_ModelRunCtx *mctx = NULL;
    RedisModuleString *name = RedisModule_CreateString(NULL, key, keylen);
    RedisModuleCtx *ctx = lock_redis();
    RedisModule_SelectDb(ctx, current.db);
    /* The run context holds its own reference: the key may be deleted or
     * replaced as soon as the lock is released. */
    if (current.user && !caller_may_execute_model(ctx, name, &e)) {
        /* e says why */
    } else if (RAI_GetModelFromKeyspace(ctx, name, &model, REDISMODULE_READ, &e) == REDISMODULE_OK) {
        mctx = RAI_ModelRunCtxCreate(model);
    }
    RedisModule_FreeString(NULL, name);
    unlock_redis();
    if (!mctx) {
        set_err(err, RAI_GetErrorOneLine(&e));
        RAI_ClearError(&e);
        return -1;
    }
    for (size_t i = 0; i < ninputs; i++) RAI_ModelRunCtxAddInput(mctx, NULL, inputs[i]);
    for (size_t i = 0; i < noutputs; i++) RAI_ModelRunCtxAddOutput(mctx, NULL);

    /* On this thread, without the lock: synchronous like RedisAI_ModelRun
     * (not counted in AI.INFO). */
    int rc = RAI_ModelRun(&mctx, 1, &e) == REDISMODULE_OK ? 0 : -1;
    if (rc == 0) {
        for (size_t i = 0; i < noutputs; i++) {
            outputs[i] = mctx->outputs[i]; /* handed over, not copied */
            mctx->outputs[i] = NULL;
            if (!outputs[i]) rc = -1;
        }
        if (rc != 0) {
            for (size_t i = 0; i < noutputs; i++) {
                RAI_TensorFree(outputs[i]);
                outputs[i] = NULL;
            }
            set_err(err, "ERR redisAI.model_execute: the model returned fewer outputs than requested");
        }
    } else {
        set_err(err, RAI_GetErrorOneLine(&e));
    }
    RAI_ClearError(&e);
    RAI_ModelRunCtxFree(mctx);
    return rc;
}
