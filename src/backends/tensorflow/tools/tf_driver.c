/* tf_driver.c -- drives the TF backend library directly for what the generic
 * harness cannot express (STRING values, settings, aliasing, threads, timing).
 *
 *   tf_driver LIB GRAPH.pb MODE [ARGS]
 *   strings            string_ident graph: a -> c (Identity), d (join "-")
 *   alias              ident_float graph, 64-aligned input, input clobbered after the run
 *   threads N          N threads x 200 runs of c = a*b on one model
 *   config I J x K     module settings intra=I inter=J, then K timed runs
 *   modelopts I J x K  the same through RAI_ModelOpts
 *   bench 0 0 K        K timed runs of c = a*b (RUN_US = mean per run)
 * Engine log lines go to stdout as "LOG <level> <text>". */
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
static void log_msg(const char *level, const char *msg) { printf("LOG %s %s\n", level, msg); }
static char *xstrdup(const char *s) { return strdup(s); }
static void *xcalloc(size_t n, size_t m) { return calloc(n, m); }
static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n + 1);
    *len = fread(b, 1, n, f);
    fclose(f);
    return b;
}

static RAI_Tensor *floats(const float *v, long long n) {
    RAI_Tensor *t = RAI_TensorNew(RAI_DT_FLOAT, &n, 1);
    memcpy(t->data, v, n * sizeof(float));
    return t;
}

/* Runs c = a*b with per-thread values and checks every element. */
static int run_mul(float seed, char *err) {
    float a[4], b[4];
    for (int i = 0; i < 4; i++) a[i] = seed + i, b[i] = 2 * i - seed;
    RAI_Tensor *in[2] = {floats(a, 4), floats(b, 4)}, *out[1] = {0};
    int rc = ops->model_run(model, in, 2, out, 1, err);
    for (int i = 0; rc == 0 && i < 4; i++)
        if (((float *)out[0]->data)[i] != a[i] * b[i]) {
            snprintf(err, RAI_ERRLEN, "wrong value %g at %d", ((float *)out[0]->data)[i], i);
            rc = -1;
        }
    RAI_TensorFree(in[0]), RAI_TensorFree(in[1]), RAI_TensorFree(out[0]);
    return rc;
}

static void *thread_main(void *arg) {
    char err[RAI_ERRLEN];
    long id = (long)arg;
    for (int k = 0; k < 200; k++)
        if (run_mul((float)(id * 1000 + k), err)) {
            printf("ERROR thread %ld: %s\n", id, err);
            return (void *)1;
        }
    return NULL;
}

int main(int argc, char **argv) {
    RedisModule_Alloc = malloc, RedisModule_Calloc = xcalloc, RedisModule_Realloc = realloc;
    RedisModule_Free = free, RedisModule_Strdup = xstrdup;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argv[3];
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    ops = ((RAI_BackendGetOpsFn)dlsym(lib, "RAI_BackendGetOps"))();
    RAI_EngineOps engine = {.tensor_new = RAI_TensorNew, .tensor_wrap = RAI_TensorNewBorrowed,
                            .tensor_free = RAI_TensorFree, .alloc = malloc, .free = free, .log = log_msg};
    RAI_BackendConfig cfg = {0, 0, 0, 5000};
    RAI_ModelOpts opts = {0};
    if (!strcmp(mode, "config")) cfg.intra_op_parallelism = atoll(argv[4]), cfg.inter_op_parallelism = atoll(argv[5]);
    if (!strcmp(mode, "modelopts"))
        opts.backends_intra_op_parallelism = atoll(argv[4]), opts.backends_inter_op_parallelism = atoll(argv[5]);
    char err[RAI_ERRLEN] = "";
    ops->init(&engine, &cfg, err);
    size_t len = 0;
    char *blob = slurp(argv[2], &len);
    int strings = !strcmp(mode, "strings"), ident = !strcmp(mode, "alias");
    const char *in_names[] = {"a", "b"}, *out_names[] = {"c", "d"};
    model = ops->model_create("CPU", &opts, strings || ident ? 1 : 2, in_names, strings ? 2 : 1,
                              out_names, blob, len, err);
    free(blob);
    if (!model) {
        printf("ERROR %s\n", err);
        return 1;
    }
    if (strings) {
        static const char data[] = "x\0hello world\0a string longer than the inline TF_TString buffer";
        long long n = 3;
        RAI_Tensor *in = RAI_TensorNew(RAI_DT_STRING, &n, 1), *out[2] = {0};
        RAI_TensorSetData(in, data, sizeof data);
        if (ops->model_run(model, &in, 1, out, 2, err)) return printf("ERROR %s\n", err), 1;
        RAI_TensorFree(in);
        for (int o = 0; o < 2; o++)
            for (size_t i = 0; i < out[o]->len; i++) printf("%d[%zu]=%s\n", o, i, out[o]->data + out[o]->offsets[i]);
        RAI_TensorFree(out[0]), RAI_TensorFree(out[1]);
    } else if (ident) {
        /* 64-aligned input, so TF takes it without copying; the Identity
         * output then shares its buffer unless the backend copies it. */
        long long n = 16;
        float *buf = aligned_alloc(64, 64);
        for (int i = 0; i < 16; i++) buf[i] = i * 1.5f;
        RAI_Tensor *in = RAI_TensorNewBorrowed(RAI_DT_FLOAT, &n, 1, (char *)buf, 64, NULL, NULL), *out = NULL;
        if (ops->model_run(model, &in, 1, &out, 1, err)) return printf("ERROR %s\n", err), 1;
        memset(buf, 0xff, 64); /* the engine may reuse or free its input now */
        RAI_TensorFree(in);
        printf("shared=%d\n", out->data == (char *)buf);
        for (int i = 0; i < 16; i++) printf("%g%c", ((float *)out->data)[i], i == 15 ? '\n' : ' ');
        RAI_TensorFree(out);
    } else if (!strcmp(mode, "threads")) {
        int nt = atoi(argv[4]);
        pthread_t th[64];
        void *res;
        int bad = 0;
        for (long i = 0; i < nt; i++) pthread_create(&th[i], NULL, thread_main, (void *)i);
        for (int i = 0; i < nt; i++) pthread_join(th[i], &res), bad |= res != NULL;
        if (bad) return 1;
        printf("OK %d threads\n", nt);
    } else { /* config, modelopts, bench: time the c = a*b run */
        int k = argc > 6 ? atoi(argv[6]) : 2000;
        if (run_mul(1, err)) return printf("ERROR %s\n", err), 1;
        double t0 = now_us();
        for (int i = 0; i < k; i++)
            if (run_mul((float)i, err)) return printf("ERROR %s\n", err), 1;
        printf("RUN_US %.1f\n", (now_us() - t0) / k);
    }
    ops->model_free(model);
    return 0;
}
