/* registry.c -- registrations: CommandReader triggers and hooks, KeysReader
 * and StreamReader prefixes.  RG.TRIGGER and keyspace events look them up on the main thread
 * without the GIL, so the table lives in C under a mutex; each entry owns
 * one reference to the runtime's Python registration object. */
#include <Python.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "host.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static Reg **regs;
static size_t nregs, capregs;
static int nkeys;  /* KeysReader entries; read without the mutex as a hint */
static int ntyped; /* those of them that filter on the key type */
static int nhooks; /* CommandReader hooks; read without the mutex as a hint */
static int nwatching; /* KeysReader entries with commands=[...]; the same */

static const char *mode_names[] = {"async", "async_local", "sync"};

int Mode_Parse(const char *s) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, mode_names[i]) == 0) return i;
    return -1;
}

const char *Mode_Name(int mode) { return mode_names[mode]; }

void Reg_Free(Reg *r) {
    free(r->id);
    free(r->desc);
    free(r->trigger);
    free(r->hook);
    free(r->prefix);
    for (char **e = r->event_types; e && *e; e++) free(*e);
    free(r->event_types);
    for (char **c = r->commands; c && *c; c++) free(*c);
    free(r->commands);
    free(r->command_specs);
    FlowUser_Release(r->user);
    free(r);
}

Reg *Reg_New(int reader, const char *id, const char *name, const char *desc, int mode, int on_loop,
             PyObject *handler) {
    Reg *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    *r = (Reg){.reader = reader, .id = strdup(id), .desc = desc ? strdup(desc) : NULL,
               .mode = mode, .on_loop = on_loop, .handler = handler};
    char **slot = reader == READER_COMMAND ? &r->trigger : &r->prefix;
    *slot = strdup(name);
    if (!r->id || !*slot || (desc && !r->desc)) {
        Reg_Free(r);
        return NULL;
    }
    return r;
}

Reg *Reg_NewHook(const char *id, const char *command, const char *keyprefix, HookSpec spec,
                 const char *desc, int mode, int on_loop, PyObject *handler) {
    Reg *r = calloc(1, sizeof(*r));
    if (!r) return NULL;
    *r = (Reg){.reader = READER_COMMAND, .id = strdup(id), .desc = desc ? strdup(desc) : NULL,
               .hook = strdup(command), .prefix = keyprefix ? strdup(keyprefix) : NULL, .spec = spec,
               .mode = mode, .on_loop = on_loop, .handler = handler};
    for (char *c = r->hook; c && *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!r->id || !r->hook || (desc && !r->desc) || (keyprefix && !r->prefix)) {
        Reg_Free(r);
        return NULL;
    }
    return r;
}

static int same_str(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* A trigger name is taken once; a command is hooked once per keyprefix. */
static const char *taken(const Reg *r) {
    for (size_t i = 0; i < nregs; i++) {
        const Reg *o = regs[i];
        if (r->trigger && o->trigger && strcmp(o->trigger, r->trigger) == 0)
            return "trigger already registered";
        if (r->hook && o->hook && strcmp(o->hook, r->hook) == 0 && same_str(o->prefix, r->prefix))
            return "the command is already hooked with this keyprefix";
    }
    return NULL;
}

int Registry_Add(Reg *r, const char **err) {
    pthread_mutex_lock(&mu);
    if ((*err = taken(r)) != NULL) {
        pthread_mutex_unlock(&mu);
        return REDISMODULE_ERR;
    }
    if (nregs == capregs) {
        size_t cap = capregs ? capregs * 2 : 8;
        Reg **n = realloc(regs, cap * sizeof(*n));
        if (!n) abort();
        regs = n;
        capregs = cap;
    }
    Py_INCREF(r->handler);
    r->refs = 1;
    regs[nregs++] = r;
    if (r->reader != READER_COMMAND) __atomic_add_fetch(&nkeys, 1, __ATOMIC_RELAXED);
    if (r->key_types) __atomic_add_fetch(&ntyped, 1, __ATOMIC_RELAXED);
    if (r->hook) __atomic_add_fetch(&nhooks, 1, __ATOMIC_RELAXED);
    if (r->commands) __atomic_add_fetch(&nwatching, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&mu);
    return REDISMODULE_OK;
}

Reg *Registry_Find(const char *trigger, size_t len) {
    Reg *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs; i++) {
        Reg *r = regs[i];
        if (r->trigger && strlen(r->trigger) == len &&
            memcmp(r->trigger, trigger, len) == 0) {
            found = r;
            found->refs++;
            found->triggered++;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

/* As RedisGears matches: a prefix ending in '*' takes every key that starts
 * with what comes before it, anything else only that key. */
static int prefix_matches(const char *prefix, const char *key, size_t len) {
    size_t n = strlen(prefix);
    if (n > 0 && prefix[n - 1] == '*') return len >= n - 1 && memcmp(prefix, key, n - 1) == 0;
    return len == n && memcmp(prefix, key, n) == 0;
}

/* No list takes every event but key misses, which Redis's "all" leaves out
 * too: they come with every read of a missing key, the flow's own too. */
static int event_matches(char **types, const char *event) {
    if (!types) return strcmp(event, "keymiss") != 0;
    for (; *types; types++)
        if (strcmp(*types, event) == 0) return 1;
    return 0;
}

static int command_listed(char **commands, const char *command) {
    if (!commands) return 1;
    for (; command && *commands; commands++)
        if (strcmp(*commands, command) == 0) return 1;
    return 0;
}

size_t Registry_MatchKeys(int reader, const char *command, const char *key, size_t len, const char *event,
                          int key_type, Reg **out, size_t max) {
    size_t n = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs && n < max; i++) {
        Reg *r = regs[i];
        if (r->reader != reader || r->running_sync || !command_listed(r->commands, command) ||
            !prefix_matches(r->prefix, key, len) ||
            !event_matches(r->event_types, event) ||
            (r->key_types && (key_type < 0 || !(r->key_types & (1u << key_type)))))
            continue;
        r->refs++;
        r->triggered++;
        out[n++] = r;
    }
    pthread_mutex_unlock(&mu);
    return n;
}

/* A call whose arity the command refuses is left to Redis, for its error. */
static int arity_fits(const HookSpec *k, int argc) {
    return k->arity > 0 ? argc == k->arity : argc >= -k->arity;
}

/* As RedisGears: a keyprefix is a plain prefix (no '*'), and any key of
 * the call may start with it. */
static int hook_matches(const Reg *r, CommandArgFn arg, void *args, int argc) {
    const HookSpec *k = &r->spec;
    if (!arity_fits(k, argc)) return 0;
    if (!r->prefix) return 1;
    size_t n = strlen(r->prefix);
    int last = k->last_key < 0 ? argc + k->last_key : k->last_key;
    for (int pos = k->first_key; pos > 0 && pos <= last && pos < argc; pos += k->key_step > 0 ? k->key_step : 1) {
        size_t len;
        const char *key = arg(args, pos, &len);
        if (len >= n && memcmp(key, r->prefix, n) == 0) return 1;
    }
    return 0;
}

Reg *Registry_FindHook(CommandArgFn arg, void *args, int argc, int ref, int *write) {
    size_t len;
    const char *cmd = arg(args, 0, &len);
    Reg *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs && !found; i++) {
        Reg *r = regs[i];
        if (r->hook && strlen(r->hook) == len && strncasecmp(r->hook, cmd, len) == 0 &&
            hook_matches(r, arg, args, argc))
            found = r;
    }
    if (found && ref) {
        found->refs++;
        found->triggered++;
    }
    if (found && write) *write = found->spec.write;
    pthread_mutex_unlock(&mu);
    return found;
}

int Registry_WatchesCommand(CommandArgFn arg, void *args, int argc, int *write) {
    size_t len;
    const char *cmd = arg(args, 0, &len);
    int found = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs && !found; i++) {
        const Reg *r = regs[i];
        for (size_t c = 0; r->commands && r->commands[c] && !found; c++) {
            if (strlen(r->commands[c]) != len || strncasecmp(r->commands[c], cmd, len) != 0 ||
                !arity_fits(&r->command_specs[c], argc))
                continue;
            found = 1;
            if (write) *write = r->command_specs[c].write;
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

int Registry_HasWatchedCommands(void) { return __atomic_load_n(&nwatching, __ATOMIC_RELAXED) > 0; }

int Registry_HasHooks(void) { return __atomic_load_n(&nhooks, __ATOMIC_RELAXED) > 0; }

int Registry_HasKeys(void) { return __atomic_load_n(&nkeys, __ATOMIC_RELAXED) > 0; }

int Registry_HasKeyTypes(void) { return __atomic_load_n(&ntyped, __ATOMIC_RELAXED) > 0; }

void Registry_Release(Reg *r) {
    pthread_mutex_lock(&mu);
    int left = --r->refs;
    pthread_mutex_unlock(&mu);
    if (left > 0) return;
    Py_DECREF(r->handler);
    Reg_Free(r);
}

Reg *Registry_Remove(const char *id, size_t len) {
    Reg *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs; i++) {
        if (strlen(regs[i]->id) == len && memcmp(regs[i]->id, id, len) == 0) {
            found = regs[i];
            /* keep the order: the first of two hooks that take a call stays first */
            memmove(&regs[i], &regs[i + 1], (--nregs - i) * sizeof(*regs));
            if (found->reader != READER_COMMAND) __atomic_sub_fetch(&nkeys, 1, __ATOMIC_RELAXED);
            if (found->key_types) __atomic_sub_fetch(&ntyped, 1, __ATOMIC_RELAXED);
            if (found->hook) __atomic_sub_fetch(&nhooks, 1, __ATOMIC_RELAXED);
            if (found->commands) __atomic_sub_fetch(&nwatching, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

int Registry_Contains(const char *id) {
    int found = 0;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs && !found; i++) found = strcmp(regs[i]->id, id) == 0;
    pthread_mutex_unlock(&mu);
    return found;
}

PyObject *Registry_List(void) {
    /* Python objects are made after the mutex is let go: an allocation may
     * run the garbage collector, and code that takes the mutex again. */
    pthread_mutex_lock(&mu);
    size_t n = nregs;
    PyObject **handlers = malloc((n ? n : 1) * sizeof(*handlers));
    long long *triggered = malloc((n ? n : 1) * sizeof(*triggered));
    for (size_t i = 0; handlers && triggered && i < n; i++) {
        handlers[i] = Py_NewRef(regs[i]->handler);
        triggered[i] = regs[i]->triggered;
    }
    pthread_mutex_unlock(&mu);
    if (!handlers || !triggered) {
        free(handlers);
        free(triggered);
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; i < n; i++) {
        PyObject *entry = list ? Py_BuildValue("(OL)", handlers[i], triggered[i]) : NULL;
        if (!entry) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, entry);
        Py_DECREF(handlers[i]);
    }
    free(handlers);
    free(triggered);
    return list;
}
