/* ort_probe.c -- drives the ONNX backend library outside Redis for what the
 * shared backend_harness does not cover: STRING inputs, input data at an odd
 * (unaligned) address, concurrent runs of one model, and run timings.
 *
 *   ort_probe LIB.so MODEL_FILE [--unaligned] [--threads T] [--iters N] [--timeout MS] INPUT...
 *   INPUT = DTYPE:DIMS:VALUES  (STRING values are the comma-separated texts)
 *
 * Prints each output of the first run like backend_harness ("DTYPE dims v..."
 * or "ERROR <text>", exit 1), then, on stderr, "timing create_us=.. first_us=..
 * steady_us=.." (mean of the single-thread steady runs).  With --threads, every
 * thread runs the model N times and checks each result against the first. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../common/rm_api.h"
#include "../../../engine/backend_api.h"

static const RAI_BackendOps *ops;
static void *model;
static RAI_Tensor *in[64], *first[64];
static int nin, iters = 100, mismatches;
static long long timeout_ms = 5000;
static size_t nout;

static void log_msg(const char *level, const char *msg) { fprintf(stderr, "[%s] %s\n", level, msg); }
static char *xstrdup(const char *s) { return strdup(s); }
static void *xcalloc(size_t n, size_t m) { return calloc(n, m); }
static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Copies the tensor's data to an odd address inside a new buffer. */
static RAI_Tensor *unaligned_copy(RAI_Tensor *t) {
    char *buf = malloc(t->nbytes + 1);
    memcpy(buf + 1, t->data, t->nbytes);
    RAI_Tensor *u = RAI_TensorNewBorrowed(t->dtype, t->dims, t->ndims, buf + 1, t->nbytes, buf, free);
    RAI_TensorFree(t);
    return u;
}

static RAI_Tensor *parse_input(char *spec, int unaligned) {
    char *dt_s = strtok(spec, ":"), *dims_s = strtok(NULL, ":"), *vals = strtok(NULL, "");
    if (!dt_s || !dims_s) return NULL;
    RAI_DTypeId dt = RAI_DTypeFromString(dt_s, strlen(dt_s));
    long long dims[16];
    int nd = 0;
    if (strcmp(dims_s, "-") != 0)
        for (char *d = strtok(dims_s, "x"); d && nd < 16; d = strtok(NULL, "x")) dims[nd++] = atoll(d);
    if (dt == RAI_DT_STRING) {
        size_t n = vals ? strlen(vals) + 1 : 0;
        char *blob = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) blob[i] = vals[i] == ',' ? '\0' : vals[i];
        size_t len;
        if (!RAI_ShapeLength(dt, dims, nd, &len) || !RAI_TensorCheckStrings(blob, n, len, NULL)) return NULL;
        return RAI_TensorNewBorrowed(dt, dims, nd, blob, n, blob, free);
    }
    RAI_Tensor *t = RAI_TensorNew(dt, dims, nd);
    if (!t) return NULL;
    size_t i = 0;
    for (char *v = vals ? strtok(vals, ",") : NULL; v && i < t->len; v = strtok(NULL, ","), i++)
        if (!RAI_TensorSetValueFromDouble(t, (long long)i, atof(v)))
            RAI_TensorSetValueFromLongLong(t, (long long)i, atoll(v));
    return unaligned ? unaligned_copy(t) : t;
}

static void print_tensor(RAI_Tensor *t) {
    printf("%s ", RAI_DTypeName(t->dtype));
    for (int d = 0; d < t->ndims; d++) printf(d ? "x%lld" : "%lld", t->dims[d]);
    if (t->ndims == 0) printf("-");
    for (size_t i = 0; i < t->len; i++) {
        double dv;
        long long lv;
        if (t->dtype == RAI_DT_STRING) printf(" %s", t->data + t->offsets[i]);
        else if (RAI_TensorGetValueAsDouble(t, (long long)i, &dv)) printf(" %.9g", dv);
        else if (RAI_TensorGetValueAsLongLong(t, (long long)i, &lv)) printf(" %lld", lv);
    }
    printf("\n");
}

static int same(RAI_Tensor *a, RAI_Tensor *b) {
    return a->dtype == b->dtype && a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
}

static void *worker(void *arg) {
    (void)arg;
    RAI_Tensor *out[64];
    char err[RAI_ERRLEN];
    for (int it = 0; it < iters; it++) {
        if (ops->model_run(model, in, nin, out, nout, err)) {
            __atomic_add_fetch(&mismatches, 1, __ATOMIC_RELAXED);
            continue;
        }
        for (size_t i = 0; i < nout; i++) {
            if (!same(out[i], first[i])) __atomic_add_fetch(&mismatches, 1, __ATOMIC_RELAXED);
            RAI_TensorFree(out[i]);
        }
    }
    return NULL;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc(n + 1) : NULL;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, n, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    RedisModule_Alloc = malloc;
    RedisModule_Calloc = xcalloc;
    RedisModule_Realloc = realloc;
    RedisModule_Free = free;
    RedisModule_Strdup = xstrdup;
    if (argc < 3) return 2;
    int unaligned = 0, threads = 0, rc = 1;
    char *blob = NULL;
    /* Every exit frees what the run made (sanitizer runs check leaks). */
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--unaligned")) unaligned = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) timeout_ms = atoll(argv[++i]);
        else if (!(in[nin++] = parse_input(argv[i], unaligned))) {
            printf("ERROR bad input %s\n", argv[i]);
            goto done;
        }
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    RAI_BackendGetOpsFn get_ops = lib ? (RAI_BackendGetOpsFn)dlsym(lib, "RAI_BackendGetOps") : NULL;
    if (!get_ops) {
        printf("ERROR %s\n", dlerror());
        goto done;
    }
    ops = get_ops();
    RAI_EngineOps engine = {.tensor_new = RAI_TensorNew, .tensor_wrap = RAI_TensorNewBorrowed,
                            .tensor_free = RAI_TensorFree, .alloc = malloc, .free = free, .log = log_msg};
    RAI_BackendConfig cfg = {1, 1, 0, timeout_ms};
    char err[RAI_ERRLEN] = "";
    size_t len;
    blob = read_file(argv[2], &len);
    if (!blob || ops->init(&engine, &cfg, err)) {
        printf("ERROR %s\n", blob ? err : "cannot read model");
        goto done;
    }
    RAI_ModelOpts opts = {0};
    double t0 = now_us();
    model = ops->model_create("CPU", &opts, 0, NULL, 0, NULL, blob, len, err);
    double t1 = now_us();
    if (!model) {
        printf("ERROR %s\n", err);
        goto done;
    }
    nout = ops->model_signature(model)->noutputs;
    if (ops->model_run(model, in, nin, first, nout, err)) {
        printf("ERROR %s\n", err);
        nout = 0; /* no first outputs to free */
        goto done;
    }
    double t2 = now_us();
    for (size_t i = 0; i < nout; i++) print_tensor(first[i]);
    fflush(stdout);
    worker(NULL); /* steady state, one thread */
    double t3 = now_us();
    fprintf(stderr, "timing create_us=%.0f first_us=%.1f steady_us=%.2f\n", t1 - t0, t2 - t1,
            (t3 - t2) / (iters > 0 ? iters : 1));
    pthread_t tids[64];
    if (threads > 64) threads = 64;
    for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
    if (mismatches) printf("ERROR %d runs differed from the first\n", mismatches);
    else rc = 0;
done:
    for (size_t i = 0; i < nout; i++) RAI_TensorFree(first[i]);
    for (int i = 0; i < nin; i++)
        if (in[i]) RAI_TensorFree(in[i]);
    if (model) ops->model_free(model);
    free(blob);
    return rc;
}
