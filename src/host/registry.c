/* registry.c -- trigger registrations.  RG.TRIGGER looks a trigger up on the
 * main thread without the GIL, so the table lives in C under a mutex; each
 * entry owns one reference to the runtime's Python registration object. */
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static Reg **regs;
static size_t nregs, capregs;

static const char *mode_names[] = {"async", "async_local", "sync"};

int Mode_Parse(const char *s) {
    for (int i = 0; i < 3; i++)
        if (strcmp(s, mode_names[i]) == 0) return i;
    return -1;
}

const char *Mode_Name(int mode) { return mode_names[mode]; }

int Registry_Add(const char *id, const char *trigger, int mode, int on_loop, const char *desc,
                 PyObject *handler, const char **err) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs; i++) {
        if (strcmp(regs[i]->trigger, trigger) == 0) {
            pthread_mutex_unlock(&mu);
            *err = "trigger already registered";
            return REDISMODULE_ERR;
        }
    }
    if (nregs == capregs) {
        size_t cap = capregs ? capregs * 2 : 8;
        Reg **n = realloc(regs, cap * sizeof(*n));
        if (!n) abort();
        regs = n;
        capregs = cap;
    }
    Reg *r = calloc(1, sizeof(*r));
    if (!r) abort();
    r->id = strdup(id);
    r->trigger = strdup(trigger);
    r->desc = desc ? strdup(desc) : NULL;
    r->mode = mode;
    r->on_loop = on_loop;
    r->handler = handler;
    Py_INCREF(handler);
    r->refs = 1;
    regs[nregs++] = r;
    pthread_mutex_unlock(&mu);
    return REDISMODULE_OK;
}

Reg *Registry_Find(const char *trigger, size_t len) {
    Reg *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs; i++) {
        if (strlen(regs[i]->trigger) == len && memcmp(regs[i]->trigger, trigger, len) == 0) {
            found = regs[i];
            found->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return found;
}

void Registry_Release(Reg *r) {
    pthread_mutex_lock(&mu);
    int left = --r->refs;
    pthread_mutex_unlock(&mu);
    if (left > 0) return;
    Py_DECREF(r->handler);
    free(r->id);
    free(r->trigger);
    free(r->desc);
    free(r);
}

Reg *Registry_Remove(const char *id, size_t len) {
    Reg *found = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nregs; i++) {
        if (strlen(regs[i]->id) == len && memcmp(regs[i]->id, id, len) == 0) {
            found = regs[i];
            regs[i] = regs[--nregs];
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

void Registry_Dump(RedisModuleCtx *ctx) {
    pthread_mutex_lock(&mu);
    RedisModule_ReplyWithArray(ctx, (long)nregs);
    for (size_t i = 0; i < nregs; i++) {
        Reg *r = regs[i];
        RedisModule_ReplyWithArray(ctx, 10);
        RedisModule_ReplyWithCString(ctx, "id");
        RedisModule_ReplyWithCString(ctx, r->id);
        RedisModule_ReplyWithCString(ctx, "reader");
        RedisModule_ReplyWithCString(ctx, "CommandReader");
        RedisModule_ReplyWithCString(ctx, "desc");
        if (r->desc) RedisModule_ReplyWithCString(ctx, r->desc);
        else RedisModule_ReplyWithNull(ctx);
        RedisModule_ReplyWithCString(ctx, "trigger");
        RedisModule_ReplyWithCString(ctx, r->trigger);
        RedisModule_ReplyWithCString(ctx, "mode");
        RedisModule_ReplyWithCString(ctx, Mode_Name(r->mode));
    }
    pthread_mutex_unlock(&mu);
}
