/* script_store.c -- the scripts behind live registrations, kept in the RDB.
 *
 * Registrations live in the interpreter, which an RDB can not hold; the
 * RG.PYEXECUTE script that made them it can.  The runtime files a script
 * here, under its session ID, once it registered something (an UPGRADE
 * replaces it) and drops it when the last of its registrations goes.  Every
 * RDB -- SAVE, BGSAVE, a replica's full sync, the AOF's RDB preamble --
 * carries them as aux data of the module type "rg-pyhost", which no key
 * ever has; when loading ends, each is run again (with UPGRADE, its run()
 * skipped), so its flows are registered again under the same session ID,
 * but for those RG.UNREGISTER took since (`dropped`), and with the state
 * of its readers (`state`: where each StreamReader is in each stream, so
 * that no entry is read twice or skipped).  Both came with encoding
 * version 2; a version 1 RDB still loads.  Encoding 3 adds the ACL user
 * who sent the script (`user`): its event flows run with that user's
 * rights, here and on replicas.  A script saved without one (older RDBs
 * and AOFs) keeps full rights, as before.  Encoding 4 adds its REQUIREMENTS
 * with the wheels installed for them (`reqs`, gears_requirements.dumps),
 * installed again before it runs: a server without network installs them
 * too.  RDBs of encodings 1 to 3 still load.
 *
 * Between RDBs, replicas and the AOF get each change as it happens: a
 * command that files or drops a session's script (RG.PYEXECUTE,
 * RG.UNREGISTER) ends by propagating `RG._SCRIPT PUT id code dropped state
 * [desc]`, with `PUTAS user` instead of PUT when a user sent it, `PUTREQ`
 * when it has requirements (`reqs` after `state`) and `PUTASREQ user` for
 * both; or `RG._SCRIPT DROP id`.  A replica applies it at once (and passes
 * it on to its own replicas); an AOF being loaded updates the scripts to
 * run when loading ends.  Readers' state is not propagated: it travels with
 * RDBs only.
 *
 * A script run again has its top-level writes skipped (ScriptStore_Replaying):
 * their effects are in the data it came with, and running them twice would
 * count an INCR twice on every load or on every replica.
 *
 * Only threads holding the Redis lock touch the store (the main thread, or
 * a StreamReader execution filing its readers' state); a BGSAVE child reads
 * the copy it was forked with. */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for the "s#" format */
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"

#define STORE_ENCVER 4

typedef struct Script {
    char *id, *desc, *code; /* desc may be NULL */
    char *dropped;          /* "1,3": registrations unregistered since, by order */
    char *state;            /* the runtime's text for its readers' state, or "" */
    char *user;             /* the ACL user who sent it, or NULL (full rights) */
    char *reqs;             /* its requirements with their wheels (bytes), or "" */
    size_t code_len, reqs_len;
    struct Script *next;
} Script;

static Script *stored;  /* filed by the runtime */
static Script *pending; /* read from an RDB or an AOF, run again when loading ends (newest first) */

int ScriptStore_Replaying;

/* The sessions changed by the command in progress, to propagate. */
static int change_depth;
static char **changed;
static size_t nchanged, capchanged;

static void note_change(const char *id) {
    if (change_depth == 0) return;
    for (size_t i = 0; i < nchanged; i++)
        if (strcmp(changed[i], id) == 0) return;
    if (nchanged == capchanged) {
        size_t cap = capchanged ? capchanged * 2 : 4;
        char **n = realloc(changed, cap * sizeof(*n));
        if (!n) abort();
        changed = n;
        capchanged = cap;
    }
    if (!(changed[nchanged++] = strdup(id))) abort();
}

static void script_free(Script *s) {
    free(s->id);
    free(s->desc);
    free(s->code);
    free(s->dropped);
    free(s->state);
    free(s->user);
    free(s->reqs);
    free(s);
}

static Script *script_new(const char *id, size_t id_len, const char *desc, size_t desc_len,
                          const char *code, size_t code_len, const char *dropped, size_t dropped_len,
                          const char *state, size_t state_len, const char *reqs, size_t reqs_len) {
    Script *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->id = strndup(id, id_len);
    s->desc = desc ? strndup(desc, desc_len) : NULL;
    s->code = malloc(code_len + 1);
    s->dropped = strndup(dropped, dropped_len);
    s->state = strndup(state, state_len);
    s->reqs = malloc(reqs_len + 1);
    if (!s->id || (desc && !s->desc) || !s->code || !s->dropped || !s->state || !s->reqs) {
        script_free(s);
        return NULL;
    }
    memcpy(s->reqs, reqs, reqs_len);
    s->reqs_len = reqs_len;
    memcpy(s->code, code, code_len);
    s->code[code_len] = '\0';
    s->code_len = code_len;
    return s;
}

/* Takes the script of session `id` out of `*list`, freeing it. */
static void unlink_script(Script **list, const char *id) {
    for (Script **at = list; *at; at = &(*at)->next) {
        if (strcmp((*at)->id, id) == 0) {
            Script *gone = *at;
            *at = gone->next;
            script_free(gone);
            return;
        }
    }
}

void ScriptStore_Drop(const char *id) {
    note_change(id);
    unlink_script(&stored, id);
}

static Script *find(const char *id) {
    for (Script *s = stored; s; s = s->next)
        if (strcmp(s->id, id) == 0) return s;
    return NULL;
}

int ScriptStore_SetState(const char *id, const char *state, size_t len) {
    Script *s = find(id);
    char *copy = s ? strndup(state, len) : NULL;
    if (!copy) return REDISMODULE_ERR;
    free(s->state);
    s->state = copy;
    return REDISMODULE_OK;
}

/* Gives `s` the user `user` (NULL: none); REDISMODULE_ERR when out of memory. */
static int set_user(Script *s, const char *user, size_t len) {
    if (!user) return REDISMODULE_OK;
    return (s->user = strndup(user, len)) ? REDISMODULE_OK : REDISMODULE_ERR;
}

int ScriptStore_Put(const char *id, const char *desc, const char *code, size_t code_len, const char *dropped,
                    const char *user, const char *reqs, size_t reqs_len) {
    Script *s = script_new(id, strlen(id), desc, desc ? strlen(desc) : 0, code, code_len, dropped,
                           strlen(dropped), "", 0, reqs, reqs_len); /* the runtime files the state next */
    if (s && set_user(s, user, user ? strlen(user) : 0) != REDISMODULE_OK) {
        script_free(s);
        s = NULL;
    }
    if (!s) return REDISMODULE_ERR;
    ScriptStore_Drop(id);
    s->next = stored;
    stored = s;
    return REDISMODULE_OK;
}

/* ---- propagation: RG._SCRIPT ---- */

void ScriptStore_BeginChanges(void) { change_depth++; }

void ScriptStore_PropagateChanges(RedisModuleCtx *ctx) {
    if (--change_depth > 0) return; /* an inner command: the outer one propagates */
    for (size_t i = 0; i < nchanged; i++) {
        Script *s = find(changed[i]);
        if (!s) RedisModule_Replicate(ctx, "RG._SCRIPT", "cc", "DROP", changed[i]);
        else {
            /* PUT|PUTAS user|PUTREQ|PUTASREQ user, id code dropped state [reqs] [desc] */
            RedisModuleString *args[8];
            int n = 0;
            const char *op = s->user ? (s->reqs_len ? "PUTASREQ" : "PUTAS") : (s->reqs_len ? "PUTREQ" : "PUT");
            args[n++] = RedisModule_CreateString(ctx, op, strlen(op));
            if (s->user) args[n++] = RedisModule_CreateString(ctx, s->user, strlen(s->user));
            args[n++] = RedisModule_CreateString(ctx, s->id, strlen(s->id));
            args[n++] = RedisModule_CreateString(ctx, s->code, s->code_len);
            args[n++] = RedisModule_CreateString(ctx, s->dropped, strlen(s->dropped));
            args[n++] = RedisModule_CreateString(ctx, s->state, strlen(s->state));
            if (s->reqs_len) args[n++] = RedisModule_CreateString(ctx, s->reqs, s->reqs_len);
            if (s->desc) args[n++] = RedisModule_CreateString(ctx, s->desc, strlen(s->desc));
            RedisModule_Replicate(ctx, "RG._SCRIPT", "v", args, (size_t)n);
            for (int k = 0; k < n; k++) RedisModule_FreeString(ctx, args[k]);
        }
        free(changed[i]);
    }
    nchanged = 0;
}

/* ---- RDB aux data ---- */

/* Oldest first (`stored` is newest first): a load runs them again in the
 * order they were sent. */
static void aux_save(RedisModuleIO *rdb, int when) {
    (void)when;
    uint64_t n = 0;
    for (Script *s = stored; s; s = s->next) n++;
    RedisModule_SaveUnsigned(rdb, n);
    Script **oldest_first = malloc((n ? n : 1) * sizeof(*oldest_first));
    if (!oldest_first) abort(); /* an RDB without them would lose every registration */
    size_t i = n;
    for (Script *s = stored; s; s = s->next) oldest_first[--i] = s;
    for (i = 0; i < n; i++) {
        const Script *s = oldest_first[i];
        RedisModule_SaveStringBuffer(rdb, s->id, strlen(s->id));
        RedisModule_SaveUnsigned(rdb, s->desc != NULL);
        RedisModule_SaveStringBuffer(rdb, s->desc ? s->desc : "", s->desc ? strlen(s->desc) : 0);
        RedisModule_SaveStringBuffer(rdb, s->code, s->code_len);
        RedisModule_SaveStringBuffer(rdb, s->dropped, strlen(s->dropped));
        RedisModule_SaveStringBuffer(rdb, s->state, strlen(s->state));
        RedisModule_SaveUnsigned(rdb, s->user != NULL);
        RedisModule_SaveStringBuffer(rdb, s->user ? s->user : "", s->user ? strlen(s->user) : 0);
        RedisModule_SaveStringBuffer(rdb, s->reqs, s->reqs_len);
    }
    free(oldest_first);
}

static int aux_load(RedisModuleIO *rdb, int encver, int when) {
    (void)when;
    if (encver < 1 || encver > STORE_ENCVER) return REDISMODULE_ERR;
    uint64_t n = RedisModule_LoadUnsigned(rdb);
    for (uint64_t i = 0; i < n && !RedisModule_IsIOError(rdb); i++) {
        size_t id_len, desc_len, code_len;
        char *id = RedisModule_LoadStringBuffer(rdb, &id_len);
        int has_desc = RedisModule_LoadUnsigned(rdb) != 0;
        char *desc = RedisModule_LoadStringBuffer(rdb, &desc_len);
        char *code = RedisModule_LoadStringBuffer(rdb, &code_len);
        size_t dropped_len = 0, state_len = 0;
        char *dropped = encver >= 2 ? RedisModule_LoadStringBuffer(rdb, &dropped_len) : NULL;
        char *state = encver >= 2 ? RedisModule_LoadStringBuffer(rdb, &state_len) : NULL;
        int has_user = encver >= 3 && RedisModule_LoadUnsigned(rdb) != 0;
        size_t user_len = 0, reqs_len = 0;
        char *user = encver >= 3 ? RedisModule_LoadStringBuffer(rdb, &user_len) : NULL;
        char *reqs = encver >= 4 ? RedisModule_LoadStringBuffer(rdb, &reqs_len) : NULL;
        Script *s = id && desc && code && ((dropped && state) || encver < 2) && (user || encver < 3) &&
                            (reqs || encver < 4)
                        ? script_new(id, id_len, has_desc ? desc : NULL, desc_len, code, code_len,
                                     dropped ? dropped : "", dropped_len, state ? state : "", state_len,
                                     reqs ? reqs : "", reqs_len)
                        : NULL;
        if (s && set_user(s, has_user ? user : NULL, user_len) != REDISMODULE_OK) {
            script_free(s);
            s = NULL;
        }
        if (user) RedisModule_Free(user);
        if (id) RedisModule_Free(id);
        if (desc) RedisModule_Free(desc);
        if (code) RedisModule_Free(code);
        if (dropped) RedisModule_Free(dropped);
        if (state) RedisModule_Free(state);
        if (reqs) RedisModule_Free(reqs);
        if (!s) return REDISMODULE_ERR;
        s->next = pending;
        pending = s;
    }
    return RedisModule_IsIOError(rdb) ? REDISMODULE_ERR : REDISMODULE_OK;
}

/* Never called: no key has this type. */
static void *no_rdb_load(RedisModuleIO *rdb, int encver) {
    (void)rdb, (void)encver;
    return NULL;
}
static void no_rdb_save(RedisModuleIO *rdb, void *value) { (void)rdb, (void)value; }
static void no_free(void *value) { (void)value; }

/* Registers again the flows of a saved script, once its requirements are
 * installed (GIL held, Redis lock held). */
static void replay(const Script *s) {
    PyObject *reqs = s->reqs_len ? Requirements_Restore(s->reqs, s->reqs_len) : PyList_New(0);
    ScriptStore_Replaying = 1;
    FlowUser *u = s->user ? FlowUser_New(s->user, strlen(s->user)) : NULL;
    PyObject *user = s->user && !u ? PyErr_NoMemory() : FlowUser_Capsule(u);
    PyObject *r = reqs && user ? PyObject_CallFunction(rt_pyexecute, "s#OisziOssiOO", s->code,
                                                       (Py_ssize_t)s->code_len, Py_None, 0, s->id, s->desc, 1,
                                                       Py_True, s->dropped, s->state, 0, reqs, user)
                               : NULL;
    Py_XDECREF(user);
    ScriptStore_Replaying = 0;
    if (!r) PyHost_LogError("registering again the flows of a saved RG.PYEXECUTE script");
    Py_XDECREF(r);
    Py_XDECREF(reqs);
}

/* Loading ended: each script read is run again, in the order it was saved
 * (the list was built in reverse). */
static void on_loading(RedisModuleCtx *ctx, RedisModuleEvent e, uint64_t sub, void *data) {
    (void)e, (void)data;
    if (sub != REDISMODULE_SUBEVENT_LOADING_ENDED) return;
    Script *todo = NULL;
    while (pending) {
        Script *s = pending;
        pending = s->next;
        s->next = todo;
        todo = s;
    }
    HostCmdScope scope = Host_CommandEnter(ctx);
    PyGILState_STATE g = PyGILState_Ensure();
    /* The loaded data replaced the old: so do its sessions (a replica's
     * full sync drops the registrations its master does not have). */
    PyObject *ids = PySet_New(NULL);
    for (Script *s = todo; ids && s; s = s->next) {
        PyObject *id = PyUnicode_FromString(s->id);
        if (!id || PySet_Add(ids, id) < 0) Py_CLEAR(ids);
        Py_XDECREF(id);
    }
    PyObject *r = ids ? PyObject_CallOneArg(rt_keep_sessions, ids) : NULL;
    if (!r) PyHost_LogError("dropping the sessions the loaded data does not have");
    Py_XDECREF(r);
    Py_XDECREF(ids);
    for (Script *s = todo, *next; s; s = next) {
        next = s->next;
        replay(s);
        script_free(s);
    }
    PyGILState_Release(g);
    Host_CommandExit(scope);
}

/* RG._SCRIPT PUT id code dropped state [desc] | PUTAS user id code dropped
 * state [desc] | PUTREQ id code dropped state reqs [desc] | PUTASREQ user id
 * code dropped state reqs [desc] | DROP id: from the master (applied now,
 * and passed on) or from the AOF (applied when loading ends). */
static int script_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    int flags = RedisModule_GetContextFlags(ctx);
    if (!(flags & (REDISMODULE_CTX_FLAGS_REPLICATED | REDISMODULE_CTX_FLAGS_LOADING)))
        return RedisModule_ReplyWithError(ctx, "ERR RG._SCRIPT only comes from a master or the AOF");
    const char *op = argc > 2 ? RedisModule_StringPtrLen(argv[1], NULL) : "";
    int as = !strcasecmp(op, "PUTAS") || !strcasecmp(op, "PUTASREQ");
    int with_reqs = !strcasecmp(op, "PUTREQ") || !strcasecmp(op, "PUTASREQ");
    int put = as || with_reqs || !strcasecmp(op, "PUT");
    size_t user_len = 0;
    const char *user = NULL;
    if (as) { /* the same, after the user */
        user = RedisModule_StringPtrLen(argv[2], &user_len);
        argv++, argc--;
    }
    put = put && (argc == 6 + with_reqs || argc == 7 + with_reqs);
    if (!put && !(!strcasecmp(op, "DROP") && argc == 3)) return RedisModule_WrongArity(ctx);
    size_t len[7] = {0};
    const char *arg[7] = {NULL};
    for (int i = 2; i < argc; i++) arg[i - 2] = RedisModule_StringPtrLen(argv[i], &len[i - 2]);
    int desc_at = with_reqs ? 5 : 4;
    Script *s = put ? script_new(arg[0], len[0], arg[desc_at], len[desc_at], arg[1], len[1], arg[2], len[2], arg[3],
                                 len[3], with_reqs ? arg[4] : "", with_reqs ? len[4] : 0)
                    : NULL;
    if (s && set_user(s, user, user_len) != REDISMODULE_OK) {
        script_free(s);
        s = NULL;
    }
    if (put && !s) return RedisModule_ReplyWithError(ctx, "ERR out of memory");
    char *id = strndup(arg[0], len[0]);
    if (!id) abort();
    if (flags & REDISMODULE_CTX_FLAGS_LOADING) {
        unlink_script(&pending, id);
        if (s) {
            s->next = pending;
            pending = s;
        }
    } else {
        HostCmdScope scope = Host_CommandEnter(ctx);
        PyGILState_STATE g = PyGILState_Ensure();
        if (s) replay(s);
        else {
            PyObject *r = PyObject_CallFunction(rt_forget_session, "s", id);
            if (!r) PyHost_LogError("RG._SCRIPT DROP");
            Py_XDECREF(r);
        }
        PyGILState_Release(g);
        Host_CommandExit(scope);
        if (s) script_free(s);
        RedisModule_ReplicateVerbatim(ctx);
    }
    free(id);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* Only a master or the AOF sends it: it registers code. */
static const RMCommandSpec script_spec = {"rg._script", script_command, "write", 0, 0, 0, "admin dangerous slow"};

int ScriptStore_Start(RedisModuleCtx *ctx) {
    RedisModuleTypeMethods tm = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = no_rdb_load,
        .rdb_save = no_rdb_save,
        .free = no_free,
        .aux_load = aux_load,
        .aux_save = aux_save,
        .aux_save_triggers = REDISMODULE_AUX_AFTER_RDB,
    };
    if (!RedisModule_CreateDataType(ctx, "rg-pyhost", STORE_ENCVER, &tm) ||
        RMCommand_Create(ctx, &script_spec) != REDISMODULE_OK)
        return REDISMODULE_ERR;
    return RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_Loading, on_loading);
}
