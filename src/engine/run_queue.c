/* run_queue.c -- per-device FIFO queues and their worker threads. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../common/rm_api.h"
#include "config.h"
#include "run_queue.h"

typedef struct RAI_Queue {
    char *device;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    RAI_Job *head, *tail;
    int stopping;
    int nthreads;
    clockid_t *cpu_clocks; /* one per worker, for INFO */
    struct RAI_Queue *next;
    /* Main thread only (see RAI_QueueDeferWakeups): pushes not signalled yet,
     * and the list of queues that have some. */
    int deferred;
    struct RAI_Queue *next_deferred;
} RAI_Queue;

static RAI_Queue *queues; /* list; created on the main thread, never freed */
static pthread_mutex_t queues_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int on_worker;
static __thread int defer_wakeups; /* only ever set on the main thread */
static int in_pass;                 /* main thread: between after-sleep and our before-sleep */
static RAI_Queue *deferred_queues;  /* main thread only */

int RAI_OnWorkerThread(void) { return on_worker; }

#define MAX_BATCH_JOBS 256

static void unlink_job(RAI_Queue *q, RAI_Job *prev, RAI_Job *job) {
    if (prev) prev->next = job->next;
    else q->head = job->next;
    if (q->tail == job) q->tail = prev;
    job->next = NULL;
}

/* With the lock held: gathers into `out` the batch that `first` leads --
 * `first` alone if it does not batch, else the queued jobs that can run
 * with it, oldest first.  Returns 0 when the batch must wait for more rows
 * (MINBATCHSIZE), noting its deadline in *wake_ms (the earliest one). */
static size_t gather(RAI_Job *first, RAI_Job **out, long long *now_ms, long long *wake_ms) {
    if (first->batch_size == 0 || first->batch_rows >= first->batch_size) {
        out[0] = first;
        return 1;
    }
    size_t rows = 0, n = 0;
    for (RAI_Job *j = first; j && n < MAX_BATCH_JOBS; j = j->next) {
        if (j != first && (j->batch_group != first->batch_group || !first->compatible(first, j))) continue;
        if (rows + j->batch_rows > first->batch_size) continue;
        rows += j->batch_rows;
        out[n++] = j;
    }
    if (first->min_batch_size && rows < first->min_batch_size) {
        long long deadline = first->min_batch_deadline_ms, expire = first->expire_ms;
        if ((deadline || expire) && *now_ms == 0) *now_ms = RedisModule_Milliseconds(); /* read once, when needed */
        if (expire && *now_ms >= expire) { /* waited past its TIMEOUT: alone, to be dropped */
            out[0] = first;
            return 1;
        }
        if (deadline == 0 || *now_ms < deadline) {
            if (expire && (deadline == 0 || expire < deadline)) deadline = expire;
            if (deadline && (*wake_ms == 0 || deadline < *wake_ms)) *wake_ms = deadline;
            return 0;
        }
    }
    return n;
}

/* With the lock held: takes the oldest job that can run now, with its batch.
 * A batch waiting for MINBATCHSIZE rows holds up only itself: the jobs
 * queued behind it (other models, scripts, DAGs) run meanwhile.  Returns 0
 * when nothing can run; *wake_ms is then the earliest deadline of a waiting
 * batch (0: none, wait for a push). */
static size_t take_jobs(RAI_Queue *q, RAI_Job **out, long long *wake_ms) {
    long long now_ms = 0;
    *wake_ms = 0;
    for (RAI_Job *first = q->head; first; first = first->next) {
        size_t n = gather(first, out, &now_ms, wake_ms);
        if (n == 0) continue;
        for (size_t i = 0; i < n; i++) {
            RAI_Job *prev = NULL;
            for (RAI_Job *j = q->head; j != out[i]; j = j->next) prev = j;
            unlink_job(q, prev, out[i]);
        }
        return n;
    }
    return 0;
}

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

static long long elapsed_us(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000LL + (now.tv_nsec - since->tv_nsec) / 1000;
}

/* WORKER_SPIN_US: an idle worker may watch its queue for up to that long
 * before it sleeps on the condition variable.  A run pushed meanwhile starts
 * without a wake-up: on a VM, waking a sleeping thread costs tens of
 * microseconds, and the main thread then makes no futex call in
 * RAI_QueuePush.  0 never spins.
 *
 * The spin adapts to the traffic, so that it costs CPU only when it pays:
 * each worker keeps a moving average of its idle gaps (end of one run to the
 * start of the next) and, while the average is under the limit, spins for
 * twice that (at most the limit).  A client that sends its next run as soon
 * as the last one returns gets it picked up at once.  Runs that come further
 * apart than the limit cost no spinning: the average starts above it, one
 * long gap puts it back there, and it takes two short ones to bring it under.
 * The loop yields the CPU on each round, so a spinning worker does not delay
 * the threads (Redis's own, a client's) that share its core. */
typedef struct {
    long long avg_gap_us; /* average of the idle gaps, weight 1/2, at most 2 x the limit */
    struct timespec idle_since;
} SpinState;

static long long spin_limit_us(void) {
    return __atomic_load_n(&RAI_config.worker_spin_us, __ATOMIC_RELAXED);
}

static long long spin_budget_us(const SpinState *st) {
    long long limit = spin_limit_us();
    if (limit <= 0 || st->avg_gap_us >= limit) return 0;
    long long budget = 2 * st->avg_gap_us + 10; /* 10 us: room for jitter on tiny gaps */
    return budget < limit ? budget : limit;
}

/* A worker found work after being idle since st->idle_since. */
static void note_gap(SpinState *st) {
    long long cap = 2 * spin_limit_us(), gap = elapsed_us(&st->idle_since), avg = st->avg_gap_us;
    st->avg_gap_us = ((avg < cap ? avg : cap) + (gap < cap ? gap : cap)) / 2; /* the limit may have changed */
}

static void spin_for_work(RAI_Queue *q, const SpinState *st) {
    long long budget = spin_budget_us(st);
    if (budget <= 0) return;
    do {
        for (int i = 0; i < 64; i++) {
            if (__atomic_load_n(&q->head, __ATOMIC_RELAXED) || __atomic_load_n(&q->stopping, __ATOMIC_RELAXED))
                return;
            cpu_relax();
        }
        sched_yield();
    } while (elapsed_us(&st->idle_since) < budget);
}

static void *worker_main(void *arg) {
    RAI_Queue *q = arg;
    RAI_Job *jobs[MAX_BATCH_JOBS];
    SpinState spin = {.avg_gap_us = 2LL * RAI_MAX_WORKER_SPIN_US}; /* no spin until gaps are short */
    on_worker = 1;
    clock_gettime(CLOCK_MONOTONIC, &spin.idle_since);
    for (;;) {
        spin_for_work(q, &spin); /* a hint only: the locked checks below decide */
        pthread_mutex_lock(&q->lock);
        size_t n = 0;
        long long wake_ms;
        while (!q->stopping) {
            if (q->head && (n = take_jobs(q, jobs, &wake_ms)) > 0) break;
            if (!q->head || wake_ms == 0) { /* nothing, or batches waiting for rows only: until a push */
                pthread_cond_wait(&q->ready, &q->lock);
                continue;
            }
            /* A batch waits for MINBATCHSIZE until its MINBATCHTIMEOUT deadline. */
            long long left_ms = wake_ms - RedisModule_Milliseconds();
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            if (left_ms < 1) left_ms = 1;
            if (left_ms > 60000) left_ms = 60000; /* a far deadline: look again now and then */
            ts.tv_sec += left_ms / 1000;
            ts.tv_nsec += (left_ms % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&q->ready, &q->lock, &ts);
        }
        if (q->stopping) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        pthread_mutex_unlock(&q->lock);
        int spinning = spin_limit_us() > 0; /* off (the default): no clock reads per run */
        if (spinning) note_gap(&spin);
        jobs[0]->execute(jobs, n); /* without the queue lock: it may take the GIL, etc. */
        if (spinning) clock_gettime(CLOCK_MONOTONIC, &spin.idle_since);
    }
}

static RAI_Queue *find_queue(const char *device) {
    for (RAI_Queue *q = queues; q; q = q->next)
        if (strcasecmp(q->device, device) == 0) return q;
    return NULL;
}

static RAI_Queue *queue_get_or_create(const char *device) {
    pthread_mutex_lock(&queues_lock);
    RAI_Queue *q = find_queue(device);
    if (q) {
        pthread_mutex_unlock(&queues_lock);
        return q;
    }
    q = RedisModule_Calloc(1, sizeof(*q));
    q->device = RedisModule_Strdup(device);
    q->cpu_clocks = RedisModule_Calloc((size_t)RAI_config.threads_per_queue, sizeof(*q->cpu_clocks));
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    for (long long i = 0; i < RAI_config.threads_per_queue; i++) {
        pthread_t tid;
        if (pthread_create(&tid, NULL, worker_main, q) != 0) {
            /* A queue without workers would hang its clients. */
            if (i == 0) {
                pthread_mutex_unlock(&queues_lock);
                RedisModule_Free(q->cpu_clocks);
                RedisModule_Free(q->device);
                RedisModule_Free(q);
                return NULL;
            }
            break;
        }
        /* The worker lives until shutdown, so its clock id stays valid;
         * after the thread ends, reading it fails (and INFO skips it). */
        if (pthread_getcpuclockid(tid, &q->cpu_clocks[q->nthreads]) != 0) q->cpu_clocks[q->nthreads] = -1;
        pthread_detach(tid);
        q->nthreads++;
    }
    RAI_Queue **tail = &queues; /* in creation order, as INFO lists them */
    while (*tail) tail = &(*tail)->next;
    *tail = q;
    pthread_mutex_unlock(&queues_lock);
    return q;
}

int RAI_QueueEnsure(const char *device) {
    return queue_get_or_create(device) ? REDISMODULE_OK : REDISMODULE_ERR;
}

int RAI_QueuePush(const char *device, RAI_Job *job) {
    RAI_Queue *q = queue_get_or_create(device);
    if (!q) return REDISMODULE_ERR;
    job->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->tail) q->tail->next = job;
    else q->head = job;
    q->tail = job;
    pthread_mutex_unlock(&q->lock);
    if (defer_wakeups) {
        if (q->deferred++ == 0) {
            q->next_deferred = deferred_queues;
            deferred_queues = q;
        }
        return REDISMODULE_OK;
    }
    /* Signalled after the unlock: a worker woken while the lock is still
     * held would only block again on the mutex (one more context switch). */
    pthread_cond_signal(&q->ready);
    return REDISMODULE_OK;
}

/* Main thread: signals the pushes deferred so far, one per push up to the
 * number of workers (a signal with no worker waiting costs no system call). */
static void signal_deferred(void) {
    while (deferred_queues) {
        RAI_Queue *q = deferred_queues;
        deferred_queues = q->next_deferred;
        int n = q->deferred < q->nthreads ? q->deferred : q->nthreads;
        q->deferred = 0;
        while (n-- > 0) pthread_cond_signal(&q->ready);
    }
}

/* Main thread.  A pass of the event loop runs from after-sleep (epoll
 * returned) to before-sleep; pushes are deferred only inside it.  Redis
 * runs more commands after the before-sleep event (pipelined commands of a
 * client just unblocked, clients blocked on keys), so from here until the
 * next after-sleep every push wakes at once: a deferred one would wait for
 * the next timer. */
static void on_event_loop(RedisModuleCtx *ctx, RedisModuleEvent e, uint64_t sub, void *data) {
    (void)ctx, (void)e, (void)data;
    if (sub == REDISMODULE_SUBEVENT_EVENTLOOP_AFTER_SLEEP) {
        in_pass = 1;
        return;
    }
    in_pass = 0;
    signal_deferred();
}

/* The event-loop events cost Redis a temporary client each, two a pass, on
 * every pass of the server, also when no run comes (measured here: a PING
 * cost the server 1 us more, 8%).  So the engine listens only while
 * commands queue runs: the first one subscribes (it wakes its worker at
 * once: that pass was not watched), and a timer unsubscribes after a
 * second without any.  Not from the event's own callback: Redis 7.0 still
 * reads the listener after the callback returns. */
#define WATCH_IDLE_MS 1000
static RedisModuleCtx *events_ctx; /* detached, for the module's (un)subscriptions; NULL: unsupported */
static int watching, queued_since_check;

static void on_watch_timer(RedisModuleCtx *ctx, void *data) {
    (void)ctx, (void)data;
    if (queued_since_check) {
        queued_since_check = 0;
        RedisModule_CreateTimer(events_ctx, WATCH_IDLE_MS, on_watch_timer, NULL);
        return;
    }
    RedisModule_SubscribeToServerEvent(events_ctx, RedisModuleEvent_EventLoop, NULL);
    watching = 0;
    in_pass = 0;       /* no before-sleep event will close this pass */
    signal_deferred(); /* none: nothing was queued since the last look */
}

static void signal_deferred_now(void *unused) {
    (void)unused;
    signal_deferred();
}

static void watch_event_loop(void) {
    queued_since_check = 1;
    if (watching || !events_ctx) return;
    if (RedisModule_SubscribeToServerEvent(events_ctx, RedisModuleEvent_EventLoop, on_event_loop) != REDISMODULE_OK)
        return;
    watching = 1;
    RedisModule_CreateTimer(events_ctx, WATCH_IDLE_MS, on_watch_timer, NULL);
    /* The pass under way began unwatched.  Its pushes are deferred all the
     * same (a burst after a quiet second still batches), and a one-shot
     * event signals them at the start of the next pass, which its pipe
     * write brings at once: this push may come late in the pass, after the
     * before-sleep event. */
    if (RedisModule_EventLoopAddOneShot(signal_deferred_now, NULL) == REDISMODULE_OK) in_pass = 1;
}

void RAI_QueueDeferWakeups(int defer) {
    if (defer) watch_event_loop();
    defer_wakeups = defer && in_pass;
}

void RAI_QueuesInit(RedisModuleCtx *ctx) {
    events_ctx = RedisModule_GetDetachedThreadSafeContext ? RedisModule_GetDetachedThreadSafeContext(ctx) : NULL;
    /* Only a check that this Redis has the event: watching starts with the first run. */
    if (events_ctx && RedisModule_CreateTimer && RedisModule_EventLoopAddOneShot &&
        RedisModule_SubscribeToServerEvent(events_ctx, RedisModuleEvent_EventLoop, on_event_loop) == REDISMODULE_OK) {
        RedisModule_SubscribeToServerEvent(events_ctx, RedisModuleEvent_EventLoop, NULL);
        return;
    }
    if (events_ctx) RedisModule_FreeThreadSafeContext(events_ctx);
    events_ctx = NULL;
    RedisModule_Log(ctx, "notice", "no event-loop server event in this Redis: each queued run wakes a worker at once");
}

long long RAI_QueuesWorkers(void) {
    long long workers = 0;
    pthread_mutex_lock(&queues_lock);
    for (RAI_Queue *q = queues; q; q = q->next) workers += q->nthreads;
    pthread_mutex_unlock(&queues_lock);
    return workers;
}

void RAI_QueuesInfo(RedisModuleInfoCtx *ctx) {
    pthread_mutex_lock(&queues_lock);
    for (RAI_Queue *q = queues; q; q = q->next) {
        char device[32];
        snprintf(device, sizeof(device), "%s", q->device);
        for (char *c = device; *c; c++)
            if (*c == ':') *c = '_'; /* INFO splits its lines at the first ':' */
        for (int i = 0; i < q->nthreads; i++) {
            struct timespec used;
            if (q->cpu_clocks[i] == (clockid_t)-1 || clock_gettime(q->cpu_clocks[i], &used) != 0) continue;
            char field[96], value[32];
            snprintf(field, sizeof(field), "queue_%s_bthread_n%d_used_cpu_total", device, i + 1);
            snprintf(value, sizeof(value), "%lld.%06ld", (long long)used.tv_sec, used.tv_nsec / 1000);
            RedisModule_InfoAddFieldCString(ctx, field, value);
        }
    }
    pthread_mutex_unlock(&queues_lock);
}

void RAI_QueuesShutdown(void) {
    pthread_mutex_lock(&queues_lock);
    for (RAI_Queue *q = queues; q; q = q->next) {
        pthread_mutex_lock(&q->lock);
        q->stopping = 1;
        pthread_cond_broadcast(&q->ready);
        pthread_mutex_unlock(&q->lock);
    }
    pthread_mutex_unlock(&queues_lock);
}
