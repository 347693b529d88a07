/* key_commands.c -- the commands that KeysReader registrations with
 * commands=[...] watch, as RedisGears 1.2's read-through cache uses them:
 * GB().map(fetch).register(prefix='x*', eventTypes=['keymiss'], commands=['get']).
 *
 * command_hooks.c's filter sends the calls of a watched command here (as
 * rg._hookw or rg._hookr).  The command runs through RedisModule_Call with
 * its name current, so that the events it raises start those registrations
 * (key_events.c), and not others' events.  Each execution they start is
 * linked to the client: it waits until every one of them ended, then gets
 * the command's own reply, or the value the first override_reply() gave
 * (gears_hooks.KeyCommandCall counts them).  In MULTI or Lua the client can
 * not wait: the executions run unlinked, and the command's reply goes out.
 * All of this runs on the main thread, under the Redis lock. */
#include <Python.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static KeyCall *current;

KeyCall *KeyCommands_Current(void) { return current; }

KeyCall *KeyCommands_Swap(KeyCall *call) {
    KeyCall *was = current;
    current = call;
    return was;
}

PyObject *KeyCommands_Link(KeyCall *call) {
    if (!call->may_block) return NULL;
    if (!call->py) {
        if (!call->waiter) call->waiter = Waiter_New(NULL);
        PyObject *cap = Waiter_Capsule(call->waiter);
        call->py = cap ? PyObject_CallOneArg(rt_key_command_call, cap) : NULL;
        Py_XDECREF(cap);
        if (!call->py) {
            PyHost_LogError("linking an execution to the command's client");
            return NULL;
        }
    }
    PyObject *r = PyObject_CallMethod(call->py, "link", NULL);
    if (!r) {
        PyHost_LogError("linking an execution to the command's client");
        return NULL;
    }
    Py_DECREF(r);
    return Py_NewRef(call->py);
}

/* The command ended with `reply`: the client gets it, or what the linked
 * executions decide once they all ended. */
static void reply_linked(RedisModuleCtx *ctx, KeyCall *call, CReply *reply) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *value = GearsModule_ReplyToPy(reply);
    PyObject *r = value ? PyObject_CallMethod(call->py, "command_done", "Oi", value, reply->type == CR_ERROR)
                        : NULL;
    if (!r) PyHost_LogError("the reply of a watched command");
    Py_XDECREF(r);
    Py_XDECREF(value);
    Py_CLEAR(call->py);
    PyGILState_Release(g);
    /* Without the runtime's word, the command's own reply (a no-op if it spoke). */
    if (r) CReply_Free(reply);
    else Waiter_Complete(call->waiter, reply);
    Waiter_ReplyOrBlock(ctx, call->waiter, 1);
}

int KeyCommands_Run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    size_t len;
    const char *cmd = RedisModule_StringPtrLen(argv[0], &len);
    char *name = strndup(cmd, len);
    if (!name) return RedisModule_ReplyWithError(ctx, "ERR out of memory");
    for (char *c = name; *c; c++) *c = (char)tolower((unsigned char)*c);
    int flags = RedisModule_GetContextFlags(ctx);
    KeyCall call = {.name = name,
                    .may_block = !(flags & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA |
                                            REDISMODULE_CTX_FLAGS_DENY_BLOCKING))};
    KeyCall *outer = KeyCommands_Swap(&call);
    RedisModuleCallReply *reply = RedisModule_Call(ctx, name, "!v", argv + 1, (size_t)(argc - 1));
    int call_errno = errno;
    KeyCommands_Swap(outer);
    if (call.py) {
        errno = call_errno;
        reply_linked(ctx, &call, CReply_FromCall(reply));
    } else if (reply) {
        RedisModule_ReplyWithCallReply(ctx, reply);
    } else {
        errno = call_errno;
        CReply *err = CReply_FromCall(NULL); /* the reason, from errno */
        CReply_Send(ctx, err);
        CReply_Free(err);
    }
    if (reply) RedisModule_FreeCallReply(reply);
    if (call.waiter) Waiter_Release(call.waiter);
    free(name);
    return REDISMODULE_OK;
}
