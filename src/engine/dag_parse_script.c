/* dag_parse_script.c -- AI.SCRIPTEXECUTE and (in AI.DAGRUN) the deprecated
 * AI.SCRIPTRUN as DAG ops.  Same syntax and error texts as the commands in
 * script_execute.c, except that INPUTS / OUTPUTS name DAG tensors and that
 * TIMEOUT is refused. */
#include <string.h>

#include "command_args.h"
#include "dag_parse.h"
#include "script_args.h"
#include "script_run.h"

#define ERR_TIMEOUT "ERR TIMEOUT not allowed within a DAG command"

static RAI_DAGRunOp *fail(RAI_DAGRunOp *op, RAI_Error *err, const char *msg) {
    if (msg) RAI_SetError(err, RAI_ESCRIPTRUN, msg);
    RAI_DAGOpFree(op);
    return NULL;
}

/* The op owns copies of KEYS / ARGS: the command's arguments are freed when
 * it returns, and a Redis string must not be shared with a worker. */
static RedisModuleString *copy_string(RedisModuleString *s) {
    size_t len;
    const char *p = RedisModule_StringPtrLen(s, &len);
    return RedisModule_CreateString(NULL, p, len);
}

static void push_string(RedisModuleString ***arr, size_t *n, RedisModuleString *s) {
    *arr = RedisModule_Realloc(*arr, (*n + 1) * sizeof(RedisModuleString *));
    (*arr)[(*n)++] = copy_string(s);
}

static void push_name(RAI_DAGRunOp *op, RedisModuleString *name, int output) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(name, &len);
    if (output) RAI_DAGOpAddOutput(op, s, len);
    else RAI_DAGOpAddInput(op, s, len);
}

/* The script of argv[1] and the function of argv[2]. */
static RAI_DAGRunOp *script_op(RedisModuleCtx *ctx, RedisModuleString **argv, RAI_Error *err) {
    RAI_Script *script;
    if (RAI_GetScriptFromKeyspace(ctx, argv[1], &script, REDISMODULE_READ, err) != REDISMODULE_OK) return NULL;
    size_t fnlen;
    const char *fn = RedisModule_StringPtrLen(argv[2], &fnlen);
    if (fnlen == 0) return fail(NULL, err, "ERR function name not specified");
    if (strlen(fn) != fnlen) return fail(NULL, err, "ERR function name contains a NUL byte"); /* as AI.SCRIPTEXECUTE */
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_SCRIPT);
    op->script = RAI_ScriptGetShallowCopy(script);
    op->fn = RedisModule_Strdup(fn);
    op->variadic = -1;
    return op;
}

static int on_scope(void *priv, RAI_ScriptScope scope, RedisModuleString **names, long long n,
                    RAI_Error *err) {
    (void)err;
    RAI_DAGRunOp *op = priv;
    for (long long k = 0; k < n; k++) {
        if (scope == RAI_SCOPE_KEYS) push_string(&op->keys, &op->nkeys, names[k]);
        else if (scope == RAI_SCOPE_ARGS) push_string(&op->args, &op->nargs, names[k]);
        else push_name(op, names[k], scope == RAI_SCOPE_OUTPUTS);
    }
    return 1;
}

static int on_timeout(void *priv, RedisModuleString **argv, int argc, int *i, RAI_Error *err) {
    (void)priv;
    (void)argv;
    (void)argc;
    (void)i;
    RAI_SetError(err, RAI_ESCRIPTRUN, ERR_TIMEOUT);
    return 0;
}

/* AI.SCRIPTEXECUTE <key> <fn> [KEYS n ..] [INPUTS n ..] [ARGS n ..] [OUTPUTS n ..] */
RAI_DAGRunOp *RAI_DAGParseScriptExecute(RedisModuleCtx *ctx, RedisModuleString **argv, int argc,
                                        RAI_Error *err) {
    if (argc < 3) return fail(NULL, err, "ERR wrong number of arguments for 'AI.SCRIPTEXECUTE' command");
    if (!RAI_ScriptCheckKeys(argv, argc, err)) return NULL;
    RAI_DAGRunOp *op = script_op(ctx, argv, err);
    if (!op) return NULL;
    RAI_ScriptScopeHandler h = {on_scope, on_timeout, op};
    if (!RAI_ScriptParseScopes(argv, argc, &h, err)) return fail(op, err, NULL);
    return op;
}

static int is_run_keyword(RedisModuleString *arg) {
    return RAI_ArgIs(arg, "INPUTS") || RAI_ArgIs(arg, "OUTPUTS") || RAI_ArgIs(arg, "TIMEOUT");
}

/* Deprecated: AI.SCRIPTRUN <key> <fn> INPUTS <name>... [$ <name>...] OUTPUTS <name>...
 * "$" starts the list argument, as in script_execute.c. */
RAI_DAGRunOp *RAI_DAGParseScriptRun(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, RAI_Error *err) {
    if (argc < 4) return fail(NULL, err, "ERR wrong number of arguments for 'AI.SCRIPTRUN' command");
    RAI_DAGRunOp *op = script_op(ctx, argv, err);
    if (!op) return NULL;
    int inputs = 0, outputs = 0;
    for (int i = 3; i < argc;) {
        if (RAI_ArgIs(argv[i], "TIMEOUT")) return fail(op, err, ERR_TIMEOUT);
        int out = RAI_ArgIs(argv[i], "OUTPUTS") && !outputs;
        if (!out && !(RAI_ArgIs(argv[i], "INPUTS") && !inputs)) {
            RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR Invalid argument: %s", RedisModule_StringPtrLen(argv[i], NULL));
            return fail(op, err, NULL);
        }
        if (out) outputs = 1;
        else inputs = 1;
        for (i++; i < argc && !is_run_keyword(argv[i]); i++) {
            if (out || !RAI_ArgIs(argv[i], "$")) push_name(op, argv[i], out);
            else if (op->variadic >= 0) return fail(op, err, RAI_ERR_SECOND_LIST);
            else op->variadic = (long)op->ninputs;
        }
    }
    if (!inputs) return fail(op, err, "ERR INPUTS not specified");
    if (!outputs) return fail(op, err, "ERR OUTPUTS not specified");
    return op;
}
