/* dag_parse.c -- the DAG command line: LOAD / PERSIST / ROUTING / TIMEOUT,
 * then the `|>` chain of ops (see dag_parse.h). */
#include <stdio.h>
#include <string.h>

#include "command_args.h"
#include "dag_parse.h"
#include "tensor_type.h"

#define CHAIN "|>"

static int is_chain(RedisModuleString *arg) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(arg, &len);
    return len == 2 && s[0] == '|' && s[1] == '>';
}

int RAI_DAGParseOps(RedisModuleCtx *ctx, RAI_DAGRunCtx *dag, RedisModuleString **argv, int argc,
                    int flags, RAI_Error *err) {
    size_t nops = 0;
    for (int i = 0; i < argc; i++) nops += is_chain(argv[i]);
    RAI_DAGRunOp **ops = RedisModule_Calloc(nops ? nops : 1, sizeof(*ops));
    size_t n = 0;
    int i = 1; /* argv[0] is the first "|>" */
    while (i <= argc) {
        int end = i;
        while (end < argc && !is_chain(argv[end])) end++;
        ops[n] = RAI_DAGParseOp(ctx, argv + i, end - i, flags, err);
        if (!ops[n]) break;
        n++;
        i = end + 1;
    }
    if (n < nops) { /* all or nothing */
        for (size_t k = 0; k < n; k++) RAI_DAGOpFree(ops[k]);
        RedisModule_Free(ops);
        return REDISMODULE_ERR;
    }
    for (size_t k = 0; k < n; k++) RAI_DAGAppendOp(dag, ops[k]);
    RedisModule_Free(ops);
    return REDISMODULE_OK;
}

/* After LOAD / PERSIST at argv[*i]: the count, then that many keys before
 * the first "|>".  Sets *first and *n; advances *i past the keys. */
static int parse_key_list(RedisModuleString **argv, int argc, int *i, const char *what, int *first,
                          long long *n, RAI_Error *err) {
    if (*i + 2 >= argc) {
        RAI_SetErrorFormat(err, RAI_EDAGBUILDER, "ERR missing arguments after %s keyword in DAG command", what);
        return 0;
    }
    if (RedisModule_StringToLongLong(argv[*i + 1], n) != REDISMODULE_OK || *n <= 0) {
        RAI_SetErrorFormat(err, RAI_EDAGBUILDER, "ERR invalid or negative value found in number of keys to %s", what);
        return 0;
    }
    *first = *i + 2;
    long long got = 0;
    while (got < *n && *first + got < argc && !is_chain(argv[*first + got])) got++;
    if (got != *n) {
        RAI_SetErrorFormat(err, RAI_EDAGBUILDER, "ERR number of keys to %s %s does not match the number of given arguments",
                           what, strcmp(what, "LOAD") == 0 ? "into DAG" : "after DAG execution");
        return 0;
    }
    *i = *first + (int)*n;
    return 1;
}

static int load_keys(RedisModuleCtx *ctx, RAI_DAGRunCtx *dag, RedisModuleString **keys, long long n,
                     RAI_Error *err) {
    for (long long k = 0; k < n; k++) {
        RAI_Tensor *t;
        if (RAI_TensorGetFromKeyspace(ctx, keys[k], &t, err) != REDISMODULE_OK) return 0;
        RAI_DAGBind(dag, RedisModule_StringPtrLen(keys[k], NULL), t); /* shared, not copied */
    }
    return 1;
}

static int add_persist(RAI_DAGCommand *cmd, RedisModuleString **keys, long long n, RAI_Error *err) {
    cmd->persist = RedisModule_Realloc(cmd->persist, (cmd->npersist + n) * sizeof(RedisModuleString *));
    for (long long k = 0; k < n; k++) {
        for (size_t j = 0; j < cmd->npersist; j++) {
            if (RedisModule_StringCompare(cmd->persist[j], keys[k]) == 0) {
                RAI_SetError(err, RAI_EDAGBUILDER, "ERR PERSIST keys must be unique");
                return 0;
            }
        }
        cmd->persist[cmd->npersist++] = RedisModule_HoldString(NULL, keys[k]);
    }
    return 1;
}

/* The keywords before the first "|>"; returns the index of that "|>" (or
 * argc), -1 on error. */
static int parse_prefix(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int flags,
                        RAI_DAGCommand *cmd, RAI_Error *err) {
    int i = 1, routed = 0;
    while (i < argc && !is_chain(argv[i])) {
        int first;
        long long n;
        if (RAI_ArgIs(argv[i], "LOAD")) {
            if (!parse_key_list(argv, argc, &i, "LOAD", &first, &n, err)) return -1;
            if (!load_keys(ctx, cmd->dag, argv + first, n, err)) return -1;
            routed = 1;
        } else if (RAI_ArgIs(argv[i], "PERSIST")) {
            if (flags & RAI_DAG_RO) {
                RAI_SetError(err, RAI_EDAGBUILDER, "ERR PERSIST cannot be specified in a read-only DAG");
                return -1;
            }
            if (!parse_key_list(argv, argc, &i, "PERSIST", &first, &n, err)) return -1;
            if (!add_persist(cmd, argv + first, n, err)) return -1;
            routed = 1;
        } else if (RAI_ArgIs(argv[i], "ROUTING")) {
            if (i + 1 >= argc || is_chain(argv[i + 1])) {
                RAI_SetError(err, RAI_EDAGBUILDER, "ERR Missing ROUTING value");
                return -1;
            }
            i += 2; /* only used for cluster routing (a key position) */
            routed = 1;
        } else if (RAI_ArgIs(argv[i], "TIMEOUT")) {
            if (i + 1 >= argc || is_chain(argv[i + 1])) {
                RAI_SetError(err, RAI_EDAGBUILDER, "ERR No value provided for TIMEOUT");
                return -1;
            }
            if (RedisModule_StringToLongLong(argv[i + 1], &cmd->timeout_ms) != REDISMODULE_OK ||
                cmd->timeout_ms <= 0) {
                RAI_SetError(err, RAI_EDAGBUILDER, "ERR Invalid value for TIMEOUT");
                return -1;
            }
            i += 2;
        } else {
            RAI_SetErrorFormat(err, RAI_EDAGBUILDER, "ERR Invalid DAG command. Unexpected argument:  %s",
                               RedisModule_StringPtrLen(argv[i], NULL));
            return -1;
        }
    }
    if (!routed && !(flags & RAI_DAG_DEPRECATED)) {
        RAI_SetError(err, RAI_EDAGBUILDER,
                     "ERR AI.DAGEXECUTE and AI.DAGEXECUTE_RO commands must contain at least one out of "
                     "ROUTING, LOAD, PERSIST keywords");
        return -1;
    }
    return i;
}

void RAI_DAGCommandClear(RAI_DAGCommand *cmd) {
    RAI_DAGFreeAll(cmd->dag);
    for (size_t i = 0; i < cmd->npersist; i++) RedisModule_FreeString(NULL, cmd->persist[i]);
    RedisModule_Free(cmd->persist);
    *cmd = (RAI_DAGCommand){0};
}

/* A PERSIST key that holds another type would fail after the run: refuse
 * it now, before anything runs. */
static int check_persist_types(RedisModuleCtx *ctx, RAI_DAGCommand *cmd, RAI_Error *err) {
    for (size_t i = 0; i < cmd->npersist; i++) {
        RedisModuleKey *key = RedisModule_OpenKey(ctx, cmd->persist[i], REDISMODULE_READ);
        int type = RedisModule_KeyType(key);
        int ok = type == REDISMODULE_KEYTYPE_EMPTY ||
                 (type == REDISMODULE_KEYTYPE_MODULE && RedisModule_ModuleTypeGetType(key) == RAI_TensorType);
        RedisModule_CloseKey(key);
        if (!ok) {
            RAI_SetError(err, RAI_EDAGBUILDER, REDISMODULE_ERRORMSG_WRONGTYPE);
            return 0;
        }
    }
    return 1;
}

int RAI_DAGParseCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int flags,
                        RAI_DAGCommand *cmd, RAI_Error *err) {
    *cmd = (RAI_DAGCommand){0};
    cmd->dag = RAI_DAGNew();
    int at = parse_prefix(ctx, argv, argc, flags, cmd, err);
    int ok = at >= 0;
    if (ok && at < argc) ok = RAI_DAGParseOps(ctx, cmd->dag, argv + at, argc - at, flags, err) == REDISMODULE_OK;
    if (ok) ok = RAI_DAGValidate(cmd->dag, cmd->persist, cmd->npersist, err) == REDISMODULE_OK;
    if (ok) ok = check_persist_types(ctx, cmd, err);
    if (!ok) RAI_DAGCommandClear(cmd);
    return ok ? REDISMODULE_OK : REDISMODULE_ERR;
}

/* Key positions of one op: its model or script key, and a script's KEYS. */
static void report_op_keys(RedisModuleCtx *ctx, RedisModuleString **argv, int at, int end) {
    RedisModuleString *name = argv[at];
    int model = RAI_ArgIs(name, "AI.MODELEXECUTE") || RAI_ArgIs(name, "AI.MODELRUN");
    int script = RAI_ArgIs(name, "AI.SCRIPTEXECUTE") || RAI_ArgIs(name, "AI.SCRIPTRUN");
    if ((model || script) && at + 1 < end) RedisModule_KeyAtPos(ctx, at + 1);
    if (!script) return;
    for (int i = at + 3; i + 1 < end; i++) {
        long long n;
        if (!RAI_ArgIs(argv[i], "KEYS") || RedisModule_StringToLongLong(argv[i + 1], &n) != REDISMODULE_OK) continue;
        for (long long k = 0; k < n && i + 2 + k < end; k++) RedisModule_KeyAtPos(ctx, (int)(i + 2 + k));
        return;
    }
}

void RAI_DAGReportKeys(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    int i = 1;
    while (i < argc && !is_chain(argv[i])) {
        long long n;
        if ((RAI_ArgIs(argv[i], "LOAD") || RAI_ArgIs(argv[i], "PERSIST")) && i + 1 < argc &&
            RedisModule_StringToLongLong(argv[i + 1], &n) == REDISMODULE_OK && n > 0) {
            for (i += 2; n > 0 && i < argc && !is_chain(argv[i]); n--, i++) RedisModule_KeyAtPos(ctx, i);
        } else if (RAI_ArgIs(argv[i], "ROUTING") && i + 1 < argc) {
            RedisModule_KeyAtPos(ctx, i + 1);
            i += 2;
        } else {
            i++;
        }
    }
    while (i < argc) { /* at a "|>" */
        int end = i + 1;
        while (end < argc && !is_chain(argv[end])) end++;
        if (i + 1 < end) report_op_keys(ctx, argv, i + 1, end);
        i = end;
    }
}
