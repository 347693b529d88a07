/* script_args.c -- see script_args.h. */
#include "script_args.h"

#include "command_args.h"

static const char *const scope_words[RAI_SCOPE_COUNT] = {"KEYS", "INPUTS", "ARGS", "OUTPUTS"};
static const char *const scope_names[RAI_SCOPE_COUNT] = {"keys", "inputs", "args", "outputs"};

int RAI_ScriptScopeOf(RedisModuleString *arg) {
    for (int s = 0; s < RAI_SCOPE_COUNT; s++)
        if (RAI_ArgIs(arg, scope_words[s])) return s;
    return -1;
}

/* Key names (KEYS, INPUTS, OUTPUTS) end at a keyword, so a short count is
 * reported as such; ARGS values are taken as they are. */
static int ends_scope(int scope, RedisModuleString *arg) {
    return scope != RAI_SCOPE_ARGS && (RAI_ScriptScopeOf(arg) >= 0 || RAI_ArgIs(arg, "TIMEOUT"));
}

/* The n names of a checked scope at argv[*i + 2]: to the handler. */
static int take_scope(RedisModuleString **argv, int *i, RAI_ScriptScope scope, long long n,
                      const RAI_ScriptScopeHandler *h, RAI_Error *err) {
    int at = *i + 2;
    /* The script gets KEYS and ARGS as strings, cut at a NUL byte: "a\0b"
     * would reach redis.execute as the key "a". */
    for (long long k = 0; k < n && (scope == RAI_SCOPE_KEYS || scope == RAI_SCOPE_ARGS); k++)
        if (RAI_ArgHasNul(argv[at + k])) {
            RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR %s values must not contain a NUL byte", scope_words[scope]);
            return 0;
        }
    if (!h->on_scope(h->priv, scope, argv + at, n, err)) return 0;
    *i = at + (int)n;
    return 1;
}

/* KEYS has texts of its own (RedisAI checks them apart, first); n is its
 * count.  Returns 1, or 0 with err set. */
static int check_keys(RedisModuleString **argv, int argc, int i, long long *n, RAI_Error *err) {
    if (i + 2 >= argc) return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR Missing arguments after KEYS keyword"), 0;
    if (RedisModule_StringToLongLong(argv[i + 1], n) != REDISMODULE_OK || *n < 0)
        return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR Invalid or negative value found in number of KEYS"), 0;
    for (long long k = 0; k < *n; k++)
        if (i + 2 + k >= argc || ends_scope(RAI_SCOPE_KEYS, argv[i + 2 + k]))
            return RAI_SetError(err, RAI_ESCRIPTRUN,
                                "ERR Number of pre declared KEYS to be used in the command does not match the "
                                "number of given arguments"),
                   0;
    return 1;
}

int RAI_ScriptCheckKeys(RedisModuleString **argv, int argc, RAI_Error *err) {
    long long n;
    return argc <= 3 || RAI_ScriptScopeOf(argv[3]) != RAI_SCOPE_KEYS || check_keys(argv, argc, 3, &n, err);
}

static int parse_scope(RedisModuleString **argv, int argc, int *i, RAI_ScriptScope scope,
                       const RAI_ScriptScopeHandler *h, RAI_Error *err) {
    long long n;
    if (scope == RAI_SCOPE_KEYS) {
        if (!check_keys(argv, argc, *i, &n, err)) return 0;
        return take_scope(argv, i, scope, n, h, err);
    }
    if (*i + 1 >= argc) return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR Invalid arguments provided to AI.SCRIPTEXECUTE"), 0;
    if (RedisModule_StringToLongLong(argv[*i + 1], &n) != REDISMODULE_OK || n < 0) {
        RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR Invalid argument for %s count in AI.SCRIPTEXECUTE",
                           scope_names[scope]);
        return 0;
    }
    int at = *i + 2;
    for (long long k = 0; k < n; k++) {
        if (at + k < argc && !ends_scope(scope, argv[at + k])) continue;
        RAI_SetErrorFormat(err, RAI_ESCRIPTRUN,
                           "ERR number of %s to AI.SCRIPTEXECUTE command does not match the number of given arguments",
                           scope_names[scope]);
        return 0;
    }
    return take_scope(argv, i, scope, n, h, err);
}

int RAI_ScriptParseScopes(RedisModuleString **argv, int argc, const RAI_ScriptScopeHandler *h,
                          RAI_Error *err) {
    int first = argc > 3 ? RAI_ScriptScopeOf(argv[3]) : -1;
    if (first != RAI_SCOPE_KEYS && first != RAI_SCOPE_INPUTS)
        return RAI_SetError(err, RAI_ESCRIPTRUN, "ERR KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command"), 0;
    int seen[RAI_SCOPE_COUNT] = {0};
    for (int i = 3; i < argc;) {
        int scope = RAI_ScriptScopeOf(argv[i]);
        if (scope >= 0) {
            if (seen[scope]) {
                RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR Already Encountered %s scope in AI.SCRIPTEXECUTE command",
                                   scope_words[scope]);
                return 0;
            }
            seen[scope] = 1;
            if (!parse_scope(argv, argc, &i, (RAI_ScriptScope)scope, h, err)) return 0;
        } else if (RAI_ArgIs(argv[i], "TIMEOUT")) {
            if (!h->on_timeout(h->priv, argv, argc, &i, err)) return 0;
        } else {
            RAI_SetErrorFormat(err, RAI_ESCRIPTRUN, "ERR Invalid AI.SCRIPTEXECUTE command. Unexpected argument: %s",
                               RedisModule_StringPtrLen(argv[i], NULL));
            return 0;
        }
    }
    return 1;
}
