/* ort_timeout.c -- see ort_timeout.h. */
#include "ort_timeout.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "../../engine/backend_api.h"

static const OrtFns *ort;
static long long timeout_ms;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static OrtRunSlot *active; /* runs in progress, newest first */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Checks ten times per timeout period (at most every 100 ms): a run stops
 * within ~10% of the limit plus the duration of the node it is in. */
static void *watchdog(void *arg) {
    (void)arg;
    long long period = timeout_ms / 10 < 100 ? timeout_ms / 10 : 100;
    if (period < 1) period = 1;
    struct timespec ts = {period / 1000, (period % 1000) * 1000000L};
    for (;;) {
        nanosleep(&ts, NULL);
        double now = now_ms();
        pthread_mutex_lock(&lock);
        for (OrtRunSlot *s = active; s; s = s->next) {
            if (s->start_ms <= 0 || now - s->start_ms < (double)timeout_ms) continue;
            OrtStatus *st = ort->RunOptionsSetTerminate(s->options);
            if (st) ort->ReleaseStatus(st);
            s->start_ms = 0; /* flagged once */
        }
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int ort_timeout_init(const OrtFns *fns, long long ms, char *err) {
    ort = fns;
    if (ms <= 0 || timeout_ms > 0) return 0;
    timeout_ms = ms;
    pthread_t tid;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, watchdog, NULL);
    pthread_attr_destroy(&attr);
    if (rc) {
        snprintf(err, RAI_ERRLEN, "ERR ONNX backend: cannot start the execution timeout thread");
        timeout_ms = 0;
        return -1;
    }
    return 0;
}

void ort_timeout_begin(OrtRunSlot *slot) {
    slot->start_ms = now_ms();
    slot->prev = NULL;
    if (timeout_ms <= 0) return;
    pthread_mutex_lock(&lock);
    slot->next = active;
    if (active) active->prev = slot;
    active = slot;
    pthread_mutex_unlock(&lock);
}

void ort_timeout_end(OrtRunSlot *slot) {
    if (timeout_ms <= 0) return;
    pthread_mutex_lock(&lock);
    if (slot->prev) slot->prev->next = slot->next;
    else active = slot->next;
    if (slot->next) slot->next->prev = slot->prev;
    pthread_mutex_unlock(&lock);
}
