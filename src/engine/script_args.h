/* script_args.h -- the scopes of AI.SCRIPTEXECUTE
 *   <key> <fn> [KEYS n ..] [INPUTS n ..] [ARGS n ..] [OUTPUTS n ..] [TIMEOUT ms]
 * parsed once for the command (script_execute.c) and for the DAG op
 * (dag_parse_script.c); the two differ only in what they do with the names
 * and with TIMEOUT. */
#ifndef ENGINE_SCRIPT_ARGS_H
#define ENGINE_SCRIPT_ARGS_H

#include "../common/rm_api.h"
#include "error.h"

typedef enum {
    RAI_SCOPE_KEYS,
    RAI_SCOPE_INPUTS,
    RAI_SCOPE_ARGS,
    RAI_SCOPE_OUTPUTS,
    RAI_SCOPE_COUNT
} RAI_ScriptScope;

typedef struct {
    /* The n names of one scope, in command order.  0 (with err set) stops. */
    int (*on_scope)(void *priv, RAI_ScriptScope scope, RedisModuleString **names, long long n,
                    RAI_Error *err);
    /* argv[*i] is TIMEOUT: consume it (advance *i) or fail with err set. */
    int (*on_timeout)(void *priv, RedisModuleString **argv, int argc, int *i, RAI_Error *err);
    void *priv;
} RAI_ScriptScopeHandler;

/* Parses argv[3..] with the spec's error texts; returns 1, or 0 with err set. */
int RAI_ScriptParseScopes(RedisModuleString **argv, int argc, const RAI_ScriptScopeHandler *h,
                          RAI_Error *err);

/* A KEYS scope right after the function (argv[3]) is checked before
 * anything else, the script lookup included, as RedisAI does; returns 1,
 * or 0 with err set. */
int RAI_ScriptCheckKeys(RedisModuleString **argv, int argc, RAI_Error *err);

/* The scope a keyword opens, or -1. */
int RAI_ScriptScopeOf(RedisModuleString *arg);

#endif
