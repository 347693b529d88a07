/* backend_harness.c -- runs a real backend library on a real model, outside
 * Redis, through the backend_api.h contract.  Used while a backend is written
 * and by tests/backends/ to check a backend on its own.
 *
 *   backend_harness LIB.so MODEL_FILE [--device CPU] [--inputs a,b] [--outputs c]
 *                   [--script FN --entry FN1,FN2] [--keys k1,k2] [--args a1,a2]
 *                   [--noutputs N] INPUT...
 *   INPUT = DTYPE:DIMS:VALUES   e.g. FLOAT:2x2:1,2,3,4   (DIMS "-" for a scalar)
 *
 * Prints one line per output: "DTYPE d1xd2 v1 v2 ...", or "ERROR <text>" and
 * exits 1.  The engine side (tensors) is the real engine code, with the Redis
 * allocator entries pointed at libc. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/rm_api.h"
#include "../../src/engine/backend_api.h"

static void log_msg(const char *level, const char *msg) { fprintf(stderr, "[%s] %s\n", level, msg); }
static char *xstrdup(const char *s) { return strdup(s); }
static void *xcalloc(size_t n, size_t m) { return calloc(n, m); }

static int split(char *s, const char **out, int max) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

static RAI_Tensor *parse_input(char *spec) {
    char *dt = strtok(spec, ":"), *dims_s = strtok(NULL, ":"), *vals = strtok(NULL, "");
    if (!dt || !dims_s) return NULL;
    long long dims[16];
    int nd = 0;
    if (strcmp(dims_s, "-") != 0)
        for (char *d = strtok(dims_s, "x"); d && nd < 16; d = strtok(NULL, "x")) dims[nd++] = atoll(d);
    RAI_Tensor *t = RAI_TensorNew(RAI_DTypeFromString(dt, strlen(dt)), dims, nd);
    if (!t || !vals) return t;
    size_t i = 0;
    for (char *v = strtok(vals, ","); v && i < t->len; v = strtok(NULL, ","), i++) {
        if (!RAI_TensorSetValueFromDouble(t, (long long)i, atof(v)))
            RAI_TensorSetValueFromLongLong(t, (long long)i, atoll(v));
    }
    return t;
}

static void print_tensor(RAI_Tensor *t) {
    printf("%s ", RAI_DTypeName(t->dtype));
    for (int d = 0; d < t->ndims; d++) printf(d ? "x%lld" : "%lld", t->dims[d]);
    if (t->ndims == 0) printf("-");
    for (size_t i = 0; i < t->len; i++) {
        double dv;
        long long lv;
        if (t->dtype == RAI_DT_STRING) printf(" %s", t->data + t->offsets[i]);
        else if (RAI_TensorGetValueAsDouble(t, (long long)i, &dv)) printf(" %g", dv);
        else if (RAI_TensorGetValueAsLongLong(t, (long long)i, &lv)) printf(" %lld", lv);
    }
    printf("\n");
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
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    RedisModule_Alloc = malloc;
    RedisModule_Calloc = xcalloc;
    RedisModule_Realloc = realloc;
    RedisModule_Free = free;
    RedisModule_Strdup = xstrdup;
    if (argc < 3) {
        fprintf(stderr, "usage: see backend_harness.c\n");
        return 2;
    }
    const char *device = "CPU", *script_fn = NULL;
    const char *inputs[64], *outputs[64], *entries[64], *keys[64], *args[64];
    int nin_names = 0, nout_names = 0, nentries = 0, nkeys = 0, nargs = 0, noutputs = -1;
    RAI_Tensor *in[64], *out[64] = {0};
    int nin = 0, rc = 1;
    size_t nout = 0;
    char *blob = NULL;
    void *s = NULL, *m = NULL;
    const RAI_BackendOps *ops = NULL;
    /* Every exit frees what the run made (sanitizer runs check leaks). */
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--inputs") && i + 1 < argc) nin_names = split(argv[++i], inputs, 64);
        else if (!strcmp(argv[i], "--outputs") && i + 1 < argc) nout_names = split(argv[++i], outputs, 64);
        else if (!strcmp(argv[i], "--script") && i + 1 < argc) script_fn = argv[++i];
        else if (!strcmp(argv[i], "--entry") && i + 1 < argc) nentries = split(argv[++i], entries, 64);
        else if (!strcmp(argv[i], "--keys") && i + 1 < argc) nkeys = split(argv[++i], keys, 64);
        else if (!strcmp(argv[i], "--args") && i + 1 < argc) nargs = split(argv[++i], args, 64);
        else if (!strcmp(argv[i], "--noutputs") && i + 1 < argc) noutputs = atoi(argv[++i]);
        else if (!(in[nin++] = parse_input(argv[i]))) {
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
    RAI_BackendConfig cfg = {0, 0, 0, 5000};
    char err[RAI_ERRLEN] = "";
    if (ops->abi_version != RAI_BACKEND_ABI_VERSION || ops->init(&engine, &cfg, err) != 0) {
        printf("ERROR init: %s\n", err);
        goto done;
    }
    fprintf(stderr, "backend %s version %s\n", ops->name, ops->version());
    size_t len;
    blob = read_file(argv[2], &len);
    if (!blob) {
        printf("ERROR cannot read %s\n", argv[2]);
        goto done;
    }
    if (script_fn) {
        s = ops->script_create(device, blob, entries, nentries, err);
        if (!s || ops->script_run(s, script_fn, in, nin, -1, keys, nkeys, args, nargs, out, 64, &nout, err)) {
            printf("ERROR %s\n", err);
            goto done;
        }
    } else {
        RAI_ModelOpts opts = {0};
        m = ops->model_create(device, &opts, nin_names, inputs, nout_names, outputs, blob, len, err);
        if (!m) {
            printf("ERROR %s\n", err);
            goto done;
        }
        const RAI_ModelSignature *sig = ops->model_signature(m);
        nout = noutputs >= 0 ? (size_t)noutputs : sig->noutputs;
        fprintf(stderr, "signature: %zu inputs, %zu outputs\n", sig->ninputs, sig->noutputs);
        if (ops->model_run(m, in, nin, out, nout, err)) {
            printf("ERROR %s\n", err);
            goto done;
        }
    }
    for (size_t i = 0; i < nout; i++) {
        if (!out[i]) { /* a non-tensor output the backend skipped */
            printf("SKIPPED\n");
            continue;
        }
        print_tensor(out[i]);
        RAI_TensorFree(out[i]);
    }
    rc = 0;
done:
    if (s) ops->script_free(s);
    if (m) ops->model_free(m);
    for (int i = 0; i < nin; i++)
        if (in[i]) RAI_TensorFree(in[i]);
    free(blob);
    return rc;
}
