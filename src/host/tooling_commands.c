/* tooling_commands.c -- RedisGears 1.2's commands for its tools (gears-cli,
 * RedisInsight...): RG.CONFIGGET, RG.CONFIGSET, RG.PYSTATS,
 * RG.ABORTEXECUTION, RG.DUMPREGISTRATIONS answer what the runtime
 * (gears_runtime._tool) builds; RG.INFOCLUSTER answers here.  Main thread,
 * Redis lock held: the GIL is taken after it, as everywhere. */
#include <Python.h>

#include "host.h"

/* Replies gears_runtime._tool(NAME, [args...]): GearsErrors in the value
 * are error elements, a GearsError raised is the error reply. */
static int tool_reply(RedisModuleCtx *ctx, const char *name, RedisModuleString **argv, int argc) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args = PyList_New(argc);
    for (int i = 0; args && i < argc; i++) {
        size_t len;
        const char *p = RedisModule_StringPtrLen(argv[i], &len);
        PyObject *s = PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "surrogateescape");
        if (!s) Py_CLEAR(args);
        else PyList_SET_ITEM(args, i, s);
    }
    PyObject *r = args ? PyObject_CallFunction(rt_tool, "sO", name, args) : NULL;
    CReply *reply = r ? GearsModule_ToReply(r) : NULL;
    if (reply) {
        CReply_Send(ctx, reply);
        CReply_Free(reply);
    } else Commands_ReplyWithPyError(ctx);
    Py_XDECREF(r);
    Py_XDECREF(args);
    PyGILState_Release(g);
    return REDISMODULE_OK;
}

static int configget_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2) return RedisModule_WrongArity(ctx);
    return tool_reply(ctx, "CONFIGGET", argv + 1, argc - 1);
}

static int configset_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2) return RedisModule_WrongArity(ctx);
    return tool_reply(ctx, "CONFIGSET", argv + 1, argc - 1);
}

static int pystats_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 1) return RedisModule_WrongArity(ctx);
    return tool_reply(ctx, "PYSTATS", argv + 1, 0);
}

static int abortexecution_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    return tool_reply(ctx, "ABORTEXECUTION", argv + 1, 1);
}

static int dumpregistrations_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 1) return RedisModule_WrongArity(ctx);
    return tool_reply(ctx, "DUMPREGISTRATIONS", argv + 1, 0);
}

static int infocluster_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    if (RedisModule_GetContextFlags(ctx) & REDISMODULE_CTX_FLAGS_CLUSTER)
        return RedisModule_ReplyWithError(ctx, "ERR this host does not support cluster mode yet");
    return RedisModule_ReplyWithCString(ctx, "no cluster mode");
}

/* ACL categories (common/command_acl.h): RG.CONFIGSET reconfigures the
 * host, as CONFIG SET does the server: "dangerous". */
static const RMCommandSpec commands[] = {
    {"rg.configget", configget_command, "readonly", 0, 0, 0, "read slow"},
    {"rg.configset", configset_command, "readonly", 0, 0, 0, "admin dangerous slow"},
    {"rg.pystats", pystats_command, "readonly", 0, 0, 0, "read slow"},
    {"rg.abortexecution", abortexecution_command, "readonly", 0, 0, 0, "scripting slow"},
    {"rg.dumpregistrations", dumpregistrations_command, "readonly", 0, 0, 0, "read scripting slow"},
    {"rg.infocluster", infocluster_command, "readonly", 0, 0, 0, "read slow"},
};

int ToolingCommands_Register(RedisModuleCtx *ctx) {
    return RMCommand_CreateAll(ctx, commands, sizeof(commands) / sizeof(commands[0]));
}
