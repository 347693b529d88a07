/* backend_tf.c -- the TF backend: frozen GraphDefs run through TensorFlow's
 * C API (libtensorflow_cc.so.2 from the tensorflow-cpu wheel).
 *
 * A model is a TF_Graph imported from the GraphDef blob plus one TF_Session.
 * INPUTS/OUTPUTS name graph operations ("name" means output 0 of that
 * operation, "name:N" output N).  Runs feed the engine's inputs by position
 * and fetch the outputs in order.  TF_SessionRun is thread-safe on one
 * session, so concurrent runs of one model need no lock.
 *
 * Memory:
 * - numeric inputs are handed to TF without copying (TF_NewTensor over
 *   tensor->data with a no-op deallocator; the engine keeps the tensor alive
 *   for the whole run).  TF_NewTensor itself copies when the pointer is not
 *   aligned for Eigen (it then calls our deallocator at once): that is the
 *   only copy, and only for unaligned data.
 * - STRING inputs are copied into TF_TString elements (TF 2.x strings are
 *   not a NUL-separated blob).
 * - numeric outputs borrow the TF_Tensor's buffer (engine->tensor_wrap, owner
 *   = the TF_Tensor, released with TF_DeleteTensor).  Exception: an output
 *   whose buffer is one of our zero-copy inputs (e.g. an Identity graph) is
 *   copied, because that memory belongs to the engine's input tensor.
 * - STRING outputs are copied out of the TF_TStrings into a NUL-separated
 *   blob. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tensorflow/c/c_api.h>

#include "../../engine/backend_api.h"

#define EXPORT __attribute__((visibility("default")))

static const RAI_EngineOps *engine;
static RAI_BackendConfig backend_config;

typedef struct TFModel {
    TF_Graph *graph;
    TF_Session *session;
    TF_Output *in_ops, *out_ops;
    char **names; /* ninputs + noutputs names, copies */
    RAI_ModelSignature sig;
} TFModel;

/* Copies a TF message into err on one line (TF messages can span lines). */
static void set_err(char *err, const char *prefix, const char *msg) {
    snprintf(err, RAI_ERRLEN, "%s%s", prefix, msg);
    for (char *p = err; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

/* ---- dtypes ------------------------------------------------------------- */

static TF_DataType to_tf(RAI_DTypeId dt) {
    switch (dt) {
    case RAI_DT_FLOAT: return TF_FLOAT;
    case RAI_DT_DOUBLE: return TF_DOUBLE;
    case RAI_DT_INT8: return TF_INT8;
    case RAI_DT_INT16: return TF_INT16;
    case RAI_DT_INT32: return TF_INT32;
    case RAI_DT_INT64: return TF_INT64;
    case RAI_DT_UINT8: return TF_UINT8;
    case RAI_DT_UINT16: return TF_UINT16;
    case RAI_DT_BOOL: return TF_BOOL;
    case RAI_DT_STRING: return TF_STRING;
    default: return (TF_DataType)0;
    }
}

static RAI_DTypeId from_tf(TF_DataType dt) {
    switch (dt) {
    case TF_FLOAT: return RAI_DT_FLOAT;
    case TF_DOUBLE: return RAI_DT_DOUBLE;
    case TF_INT8: return RAI_DT_INT8;
    case TF_INT16: return RAI_DT_INT16;
    case TF_INT32: return RAI_DT_INT32;
    case TF_INT64: return RAI_DT_INT64;
    case TF_UINT8: return RAI_DT_UINT8;
    case TF_UINT16: return RAI_DT_UINT16;
    case TF_BOOL: return RAI_DT_BOOL;
    case TF_STRING: return RAI_DT_STRING;
    default: return RAI_DT_INVALID;
    }
}

/* ---- init / version ----------------------------------------------------- */

static int tf_init(const RAI_EngineOps *ops, const RAI_BackendConfig *config, char *err) {
    engine = ops;
    if (config) backend_config = *config;
    (void)err;
    return 0;
}

static const char *tf_version(void) { return TF_Version(); }

/* ---- model create / free ------------------------------------------------ */

/* ConfigProto, written by hand (two varint fields):
 *   field 2 intra_op_parallelism_threads: tag (2<<3)|0 = 0x10
 *   field 5 inter_op_parallelism_threads: tag (5<<3)|0 = 0x28
 * Fields left out keep TF's defaults.  Returns the length written. */
static size_t put_varint(unsigned char *p, uint64_t v) {
    size_t n = 0;
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        p[n++] = b | (v ? 0x80 : 0);
    } while (v);
    return n;
}

static size_t config_proto(unsigned char *buf, long long intra, long long inter) {
    size_t n = 0;
    if (intra > 0) {
        buf[n++] = 0x10;
        n += put_varint(buf + n, (uint64_t)intra);
    }
    if (inter > 0) {
        buf[n++] = 0x28;
        n += put_varint(buf + n, (uint64_t)inter);
    }
    return n;
}

/* "op" or "op:N" -> TF_Output; 0 with err naming the node if it is absent. */
static int resolve(TF_Graph *g, const char *name, const char *what, TF_Output *out, char *err) {
    char op[512];
    const char *colon = strrchr(name, ':');
    long idx = 0;
    size_t oplen = strlen(name);
    if (colon && colon[1]) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (*end == '\0' && v >= 0) {
            idx = v;
            oplen = (size_t)(colon - name);
        }
    }
    if (oplen >= sizeof(op)) oplen = sizeof(op) - 1;
    memcpy(op, name, oplen);
    op[oplen] = '\0';
    TF_Operation *o = TF_GraphOperationByName(g, op);
    if (!o) {
        snprintf(err, RAI_ERRLEN, "ERR %s node named \"%s\" not found in TF graph.", what, op);
        return 0;
    }
    if (idx >= TF_OperationNumOutputs(o)) {
        snprintf(err, RAI_ERRLEN, "%s node \"%s\" has no output %ld", what, op, idx);
        return 0;
    }
    out->oper = o;
    out->index = (int)idx;
    return 1;
}

static void tf_model_free(void *model) {
    TFModel *m = model;
    if (!m) return;
    if (m->session) {
        TF_Status *st = TF_NewStatus();
        TF_CloseSession(m->session, st);
        TF_DeleteSession(m->session, st);
        TF_DeleteStatus(st);
    }
    if (m->graph) TF_DeleteGraph(m->graph);
    size_t n = m->sig.ninputs + m->sig.noutputs;
    if (m->names)
        for (size_t i = 0; i < n; i++) free(m->names[i]);
    free(m->names);
    free(m->in_ops);
    free(m->out_ops);
    free(m);
}

static void *tf_model_create(const char *device, const RAI_ModelOpts *opts, size_t ninputs,
                             const char *const *inputs, size_t noutputs,
                             const char *const *outputs, const char *blob, size_t len, char *err) {
    if (strncasecmp(device, "CPU", 3) != 0) {
        snprintf(err, RAI_ERRLEN, "unsupported device");
        return NULL;
    }
    /* No INPUTS / OUTPUTS names is accepted: RDB v0 values of TF graphs have
     * none (the commands refuse it before this). */
    if ((ninputs && !inputs) || (noutputs && !outputs)) {
        snprintf(err, RAI_ERRLEN, "INPUTS or OUTPUTS names missing");
        return NULL;
    }
    TFModel *m = calloc(1, sizeof(*m));
    m->names = calloc(ninputs + noutputs, sizeof(char *));
    m->in_ops = calloc(ninputs, sizeof(TF_Output));
    m->out_ops = calloc(noutputs, sizeof(TF_Output));
    for (size_t i = 0; i < ninputs; i++) m->names[i] = strdup(inputs[i]);
    for (size_t i = 0; i < noutputs; i++) m->names[ninputs + i] = strdup(outputs[i]);
    m->sig.ninputs = ninputs;
    m->sig.inputs = (const char **)m->names;
    m->sig.noutputs = noutputs;
    m->sig.outputs = (const char **)m->names + ninputs;

    TF_Status *st = TF_NewStatus();
    m->graph = TF_NewGraph();
    TF_Buffer *def = TF_NewBufferFromString(blob, len);
    TF_ImportGraphDefOptions *io = TF_NewImportGraphDefOptions();
    TF_GraphImportGraphDef(m->graph, def, io, st);
    TF_DeleteImportGraphDefOptions(io);
    TF_DeleteBuffer(def);
    if (TF_GetCode(st) != TF_OK) {
        set_err(err, "", TF_Message(st));
        goto fail;
    }
    for (size_t i = 0; i < ninputs; i++)
        if (!resolve(m->graph, inputs[i], "Input", &m->in_ops[i], err)) goto fail;
    for (size_t i = 0; i < noutputs; i++)
        if (!resolve(m->graph, outputs[i], "Output", &m->out_ops[i], err)) goto fail;

    /* Per-model settings win; 0 there falls back to the module settings. */
    long long intra = opts && opts->backends_intra_op_parallelism > 0
                          ? opts->backends_intra_op_parallelism
                          : backend_config.intra_op_parallelism;
    long long inter = opts && opts->backends_inter_op_parallelism > 0
                          ? opts->backends_inter_op_parallelism
                          : backend_config.inter_op_parallelism;
    TF_SessionOptions *so = TF_NewSessionOptions();
    unsigned char proto[32];
    size_t plen = config_proto(proto, intra, inter);
    if (plen) {
        TF_SetConfig(so, proto, plen, st);
        if (TF_GetCode(st) != TF_OK) {
            set_err(err, "TF session config: ", TF_Message(st));
            TF_DeleteSessionOptions(so);
            goto fail;
        }
        if (engine && engine->log) {
            char msg[200], hex[2 * sizeof proto + 1];
            for (size_t i = 0; i < plen; i++) snprintf(hex + 2 * i, 3, "%02x", proto[i]);
            snprintf(msg, sizeof msg, "TF session: intra_op_parallelism_threads=%lld "
                     "inter_op_parallelism_threads=%lld (ConfigProto %s)", intra, inter, hex);
            engine->log("verbose", msg);
        }
    }
    m->session = TF_NewSession(m->graph, so, st);
    TF_DeleteSessionOptions(so);
    if (TF_GetCode(st) != TF_OK) {
        m->session = NULL;
        set_err(err, "", TF_Message(st));
        goto fail;
    }
    TF_DeleteStatus(st);
    return m;
fail:
    TF_DeleteStatus(st);
    tf_model_free(m);
    return NULL;
}

static const RAI_ModelSignature *tf_model_signature(void *model) { return &((TFModel *)model)->sig; }

/* ---- run ---------------------------------------------------------------- */

static void noop_dealloc(void *data, size_t len, void *arg) { (void)data, (void)len, (void)arg; }

/* Frees a STRING input buffer we built: each TF_TString, then the array. */
static void tstring_dealloc(void *data, size_t len, void *arg) {
    (void)arg;
    TF_TString *s = data;
    for (size_t i = 0; i < len / sizeof(TF_TString); i++) TF_StringDealloc(&s[i]);
    free(data);
}

static void release_tf_tensor(void *owner) { TF_DeleteTensor(owner); }

static TF_Tensor *input_to_tf(const RAI_Tensor *t, char *err) {
    int64_t dims[64];
    if (t->ndims > 64) {
        snprintf(err, RAI_ERRLEN, "too many dimensions");
        return NULL;
    }
    for (int d = 0; d < t->ndims; d++) dims[d] = t->dims[d];
    TF_DataType tdt = to_tf(t->dtype);
    if (!tdt) {
        snprintf(err, RAI_ERRLEN, "unsupported input type");
        return NULL;
    }
    if (t->dtype != RAI_DT_STRING) {
        /* No copy (TF copies by itself only if data is not Eigen-aligned). */
        TF_Tensor *tt = TF_NewTensor(tdt, dims, t->ndims, t->data, t->nbytes, noop_dealloc, NULL);
        if (!tt) snprintf(err, RAI_ERRLEN, "TF rejected an input tensor (dtype %d)",
                          (int)tdt);
        return tt;
    }
    /* STRING: copy each NUL-terminated element into a TF_TString. */
    size_t bytes = (t->len ? t->len : 1) * sizeof(TF_TString);
    TF_TString *s = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!s) {
        snprintf(err, RAI_ERRLEN, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < t->len; i++) {
        const char *e = t->data + t->offsets[i];
        TF_StringInit(&s[i]);
        TF_StringCopy(&s[i], e, strlen(e));
    }
    TF_Tensor *tt = TF_NewTensor(TF_STRING, dims, t->ndims, s, t->len * sizeof(TF_TString),
                                 tstring_dealloc, NULL);
    if (!tt) snprintf(err, RAI_ERRLEN, "TF rejected a STRING input tensor");
    return tt;
}

/* Takes ownership of `tt`; returns an engine tensor or NULL with err. */
static RAI_Tensor *output_from_tf(TF_Tensor *tt, TF_Tensor *const *in_tf, RAI_Tensor *const *inputs,
                                  size_t ninputs, char *err) {
    RAI_DTypeId dt = from_tf(TF_TensorType(tt));
    int nd = TF_NumDims(tt);
    long long dims[64];
    if (dt == RAI_DT_INVALID || nd > 64) {
        snprintf(err, RAI_ERRLEN, "unsupported output type %d from TF graph", (int)TF_TensorType(tt));
        TF_DeleteTensor(tt);
        return NULL;
    }
    size_t n = 1;
    for (int d = 0; d < nd; d++) n *= (size_t)(dims[d] = TF_Dim(tt, d));
    char *data = TF_TensorData(tt);
    size_t nbytes = TF_TensorByteSize(tt);
    RAI_Tensor *out = NULL;
    if (dt == RAI_DT_STRING) {
        /* Copy out: TF_TString elements -> NUL-separated blob. */
        const TF_TString *s = (const TF_TString *)data;
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            const char *p = TF_StringGetDataPointer(&s[i]);
            size_t l = TF_StringGetSize(&s[i]);
            if (memchr(p, '\0', l)) {
                snprintf(err, RAI_ERRLEN, "TF string output contains a NUL byte");
                TF_DeleteTensor(tt);
                return NULL;
            }
            total += l + 1;
        }
        char *blob = engine->alloc(total ? total : 1);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            size_t l = TF_StringGetSize(&s[i]);
            memcpy(blob + off, TF_StringGetDataPointer(&s[i]), l);
            blob[off + l] = '\0';
            off += l + 1;
        }
        TF_DeleteTensor(tt);
        out = engine->tensor_wrap(dt, dims, nd, blob, total, NULL, NULL); /* freed by the engine */
        if (!out) engine->free(blob);
    } else {
        int aliased = 0;
        for (size_t i = 0; i < ninputs && !aliased; i++) {
            if (!in_tf[i] || inputs[i]->dtype == RAI_DT_STRING || !nbytes) continue;
            const char *b = inputs[i]->data;
            aliased = data >= b && data < b + inputs[i]->nbytes;
        }
        if (aliased) {
            /* Copy: the output shares the engine input's memory. */
            out = engine->tensor_new(dt, dims, nd);
            if (out) memcpy(out->data, data, nbytes < out->nbytes ? nbytes : out->nbytes);
            TF_DeleteTensor(tt);
        } else {
            out = engine->tensor_wrap(dt, dims, nd, data, nbytes, tt, release_tf_tensor);
            if (!out) TF_DeleteTensor(tt);
        }
    }
    if (!out) snprintf(err, RAI_ERRLEN, "could not create output tensor");
    return out;
}

static int tf_model_run(void *model, RAI_Tensor *const *inputs, size_t ninputs, RAI_Tensor **outputs,
                        size_t noutputs, char *err) {
    TFModel *m = model;
    /* No inputs and no outputs go to TensorFlow, which refuses them itself. */
    if (ninputs != m->sig.ninputs && !(ninputs == 0 && noutputs == 0)) {
        snprintf(err, RAI_ERRLEN, "Number of names given as INPUTS during MODELSET and keys given "
                 "as INPUTS here do not match");
        return -1;
    }
    if (noutputs > m->sig.noutputs) {
        snprintf(err, RAI_ERRLEN, "Number of names given as OUTPUTS during MODELSET and keys given "
                 "as OUTPUTS here do not match");
        return -1;
    }
    int rc = -1;
    TF_Tensor **in_tf = calloc(ninputs ? ninputs : 1, sizeof(TF_Tensor *));
    TF_Tensor **out_tf = calloc(noutputs ? noutputs : 1, sizeof(TF_Tensor *));
    TF_Status *st = TF_NewStatus();
    for (size_t i = 0; i < ninputs; i++)
        if (!(in_tf[i] = input_to_tf(inputs[i], err))) goto done;
    TF_SessionRun(m->session, NULL, m->in_ops, in_tf, (int)ninputs, m->out_ops, out_tf,
                  (int)noutputs, NULL, 0, NULL, st);
    if (TF_GetCode(st) != TF_OK) {
        set_err(err, "", TF_Message(st));
        goto done;
    }
    size_t i = 0;
    for (; i < noutputs; i++) {
        outputs[i] = output_from_tf(out_tf[i], in_tf, inputs, ninputs, err);
        out_tf[i] = NULL;
        if (!outputs[i]) break;
    }
    if (i < noutputs) {
        for (size_t j = 0; j < i; j++) {
            engine->tensor_free(outputs[j]);
            outputs[j] = NULL;
        }
        goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < noutputs; i++)
        if (out_tf[i]) TF_DeleteTensor(out_tf[i]);
    /* Inputs go last: an output may still reference an input buffer. */
    for (size_t i = 0; i < ninputs; i++)
        if (in_tf[i]) TF_DeleteTensor(in_tf[i]);
    TF_DeleteStatus(st);
    free(in_tf);
    free(out_tf);
    return rc;
}

static const RAI_BackendOps ops = {
    .abi_version = RAI_BACKEND_ABI_VERSION,
    .name = "TF",
    .init = tf_init,
    .version = tf_version,
    .model_create = tf_model_create,
    .model_free = tf_model_free,
    .model_signature = tf_model_signature,
    .model_run = tf_model_run,
};

EXPORT const RAI_BackendOps *RAI_BackendGetOps(void) { return &ops; }
