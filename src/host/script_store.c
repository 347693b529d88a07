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
 * version 2; a version 1 RDB still loads.
 *
 * Only threads holding the Redis lock touch the store (the main thread, or
 * a StreamReader execution filing its readers' state); a BGSAVE child reads
 * the copy it was forked with. */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for the "s#" format */
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define STORE_ENCVER 2

typedef struct Script {
    char *id, *desc, *code; /* desc may be NULL */
    char *dropped;          /* "1,3": registrations unregistered since, by order */
    char *state;            /* the runtime's text for its readers' state, or "" */
    size_t code_len;
    struct Script *next;
} Script;

static Script *stored;  /* filed by the runtime */
static Script *pending; /* read from an RDB, run again when loading ends */

static void script_free(Script *s) {
    free(s->id);
    free(s->desc);
    free(s->code);
    free(s->dropped);
    free(s->state);
    free(s);
}

static Script *script_new(const char *id, size_t id_len, const char *desc, size_t desc_len,
                          const char *code, size_t code_len, const char *dropped, size_t dropped_len,
                          const char *state, size_t state_len) {
    Script *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->id = strndup(id, id_len);
    s->desc = desc ? strndup(desc, desc_len) : NULL;
    s->code = malloc(code_len + 1);
    s->dropped = strndup(dropped, dropped_len);
    s->state = strndup(state, state_len);
    if (!s->id || (desc && !s->desc) || !s->code || !s->dropped || !s->state) {
        script_free(s);
        return NULL;
    }
    memcpy(s->code, code, code_len);
    s->code[code_len] = '\0';
    s->code_len = code_len;
    return s;
}

void ScriptStore_Drop(const char *id) {
    for (Script **at = &stored; *at; at = &(*at)->next) {
        if (strcmp((*at)->id, id) == 0) {
            Script *gone = *at;
            *at = gone->next;
            script_free(gone);
            return;
        }
    }
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

int ScriptStore_Put(const char *id, const char *desc, const char *code, size_t code_len, const char *dropped) {
    Script *s = script_new(id, strlen(id), desc, desc ? strlen(desc) : 0, code, code_len, dropped,
                           strlen(dropped), "", 0); /* the runtime files the state next */
    if (!s) return REDISMODULE_ERR;
    ScriptStore_Drop(id);
    s->next = stored;
    stored = s;
    return REDISMODULE_OK;
}

/* ---- RDB aux data ---- */

static void aux_save(RedisModuleIO *rdb, int when) {
    (void)when;
    uint64_t n = 0;
    for (Script *s = stored; s; s = s->next) n++;
    RedisModule_SaveUnsigned(rdb, n);
    for (Script *s = stored; s; s = s->next) {
        RedisModule_SaveStringBuffer(rdb, s->id, strlen(s->id));
        RedisModule_SaveUnsigned(rdb, s->desc != NULL);
        RedisModule_SaveStringBuffer(rdb, s->desc ? s->desc : "", s->desc ? strlen(s->desc) : 0);
        RedisModule_SaveStringBuffer(rdb, s->code, s->code_len);
        RedisModule_SaveStringBuffer(rdb, s->dropped, strlen(s->dropped));
        RedisModule_SaveStringBuffer(rdb, s->state, strlen(s->state));
    }
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
        Script *s = id && desc && code && ((dropped && state) || encver < 2)
                        ? script_new(id, id_len, has_desc ? desc : NULL, desc_len, code, code_len,
                                     dropped ? dropped : "", dropped_len, state ? state : "", state_len)
                        : NULL;
        if (id) RedisModule_Free(id);
        if (desc) RedisModule_Free(desc);
        if (code) RedisModule_Free(code);
        if (dropped) RedisModule_Free(dropped);
        if (state) RedisModule_Free(state);
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

/* Loading ended: each script read is run again, in the order it was saved
 * (the list was built in reverse). */
static void on_loading(RedisModuleCtx *ctx, RedisModuleEvent e, uint64_t sub, void *data) {
    (void)e, (void)data;
    if (sub != REDISMODULE_SUBEVENT_LOADING_ENDED || !pending) return;
    Script *todo = NULL;
    while (pending) {
        Script *s = pending;
        pending = s->next;
        s->next = todo;
        todo = s;
    }
    HostCmdScope scope = Host_CommandEnter(ctx);
    PyGILState_STATE g = PyGILState_Ensure();
    for (Script *s = todo, *next; s; s = next) {
        next = s->next;
        PyObject *r = PyObject_CallFunction(rt_pyexecute, "s#OisziOss", s->code, (Py_ssize_t)s->code_len,
                                            Py_None, 0, s->id, s->desc, 1, Py_True, s->dropped, s->state);
        if (!r) PyHost_LogError("registering again the flows of a saved RG.PYEXECUTE script");
        Py_XDECREF(r);
        script_free(s);
    }
    PyGILState_Release(g);
    Host_CommandExit(scope);
}

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
    if (!RedisModule_CreateDataType(ctx, "rg-pyhost", STORE_ENCVER, &tm)) return REDISMODULE_ERR;
    return RedisModule_SubscribeToServerEvent(ctx, RedisModuleEvent_Loading, on_loading);
}
