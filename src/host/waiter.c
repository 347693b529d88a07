/* waiter.c -- the client waiting for one execution.  The execution may end
 * on any thread, possibly before the main thread decided to block the
 * client, so delivery goes through a small mutex-protected state. */
#include <stdlib.h>

#include "host.h"

struct Waiter {
    pthread_mutex_t mu;
    RedisModuleBlockedClient *bc;
    CReply *reply; /* set when completed with no blocked client yet */
    int done;
    int refs;
};

Waiter *Waiter_New(RedisModuleBlockedClient *bc) {
    Waiter *w = calloc(1, sizeof(*w));
    if (!w) abort();
    pthread_mutex_init(&w->mu, NULL);
    w->bc = bc;
    w->refs = 1;
    return w;
}

static void waiter_ref(Waiter *w, int delta) {
    pthread_mutex_lock(&w->mu);
    int left = (w->refs += delta);
    pthread_mutex_unlock(&w->mu);
    if (left > 0) return;
    CReply_Free(w->reply);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void Waiter_Retain(Waiter *w) { waiter_ref(w, 1); }
void Waiter_Release(Waiter *w) { waiter_ref(w, -1); }

int Waiter_Complete(Waiter *w, CReply *r) {
    pthread_mutex_lock(&w->mu);
    if (w->done) {
        pthread_mutex_unlock(&w->mu);
        CReply_Free(r);
        return REDISMODULE_ERR;
    }
    w->done = 1;
    if (w->bc) {
        RedisModule_UnblockClient(w->bc, r); /* the reply callback sends and frees r */
        w->bc = NULL;
    } else {
        w->reply = r;
    }
    pthread_mutex_unlock(&w->mu);
    return REDISMODULE_OK;
}

static int reply_cb(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    CReply_Send(ctx, RedisModule_GetBlockedClientPrivateData(ctx));
    return REDISMODULE_OK;
}

static void free_cb(RedisModuleCtx *ctx, void *privdata) {
    (void)ctx;
    CReply_Free(privdata);
}

RedisModuleBlockedClient *Waiter_Block(RedisModuleCtx *ctx) {
    return RedisModule_BlockClient(ctx, reply_cb, NULL, free_cb, 0);
}

void Waiter_ReplyOrBlock(RedisModuleCtx *ctx, Waiter *w, int may_block) {
    pthread_mutex_lock(&w->mu);
    if (w->done) {
        CReply *r = w->reply;
        w->reply = NULL;
        pthread_mutex_unlock(&w->mu);
        CReply_Send(ctx, r);
        CReply_Free(r);
        return;
    }
    if (!may_block) {
        /* Cannot happen: without blocking, async steps are refused.  Keep the
         * protocol sane anyway; a late completion is then dropped. */
        w->done = 1;
        pthread_mutex_unlock(&w->mu);
        RedisModule_ReplyWithError(ctx, "ERR execution did not finish synchronously");
        return;
    }
    w->bc = Waiter_Block(ctx);
    pthread_mutex_unlock(&w->mu);
}
