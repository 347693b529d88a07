/* model_commands.c -- AI.MODELSTORE, AI.MODELGET, AI.MODELDEL, AI._MODELSCAN. */
#include <stdio.h>
#include <string.h>

#include "command_args.h"
#include "config.h"
#include "model.h"
#include "model_commands.h"
#include "run_queue.h"
#include "size_limits.h"

typedef struct {
    RAI_Backend backend;
    const char *device;
    RedisModuleString *tag;
    RAI_ModelOpts opts;
    size_t ninputs, noutputs;
    const char **inputs, **outputs; /* point into argv */
    int blob_at;                    /* index of the first chunk */
} StoreArgs;

static int parse_count(RedisModuleString *arg, long long *out) {
    return RedisModule_StringToLongLong(arg, out) == REDISMODULE_OK && *out > 0;
}

static int is_store_keyword(RedisModuleString *arg) {
    static const char *const keywords[] = {"TAG", "BATCHSIZE", "MINBATCHSIZE", "MINBATCHTIMEOUT", "INPUTS",
                                           "OUTPUTS", "BLOB"};
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++)
        if (RAI_ArgIs(arg, keywords[k])) return 1;
    return 0;
}

static int parse_names(RedisModuleString **argv, int argc, int *i, const char *what, size_t *n,
                       const char ***names, RAI_Error *err) {
    long long count;
    char msg[128];
    if (*i + 1 >= argc || !parse_count(argv[*i + 1], &count)) {
        snprintf(msg, sizeof(msg), "ERR Invalid argument for %s_count", what);
        RAI_SetError(err, RAI_EMODELCREATE, msg);
        return 0;
    }
    *i += 2;
    /* No more names than arguments left: a count like 2^63 must give the
     * count error below, not an allocation that aborts the server. */
    long long room = argc - *i;
    RedisModule_Free(*names); /* INPUTS / OUTPUTS given twice: the last one counts */
    *names = RedisModule_Calloc(count < room ? count : room > 0 ? room : 1, sizeof(char *));
    long long got = 0;
    for (; got < count && *i < argc && !RAI_ArgIs(argv[*i], "OUTPUTS") && !RAI_ArgIs(argv[*i], "BLOB"); got++)
        (*names)[got] = RedisModule_StringPtrLen(argv[(*i)++], NULL);
    *n = (size_t)got;
    /* Names run up to the next keyword, as RedisAI reads them: more names
     * than the count is a count mismatch too, not an unknown argument. */
    long long more = 0;
    while (*i + more < argc && !is_store_keyword(argv[*i + more])) more++;
    if (got != count || more > 0) {
        snprintf(msg, sizeof(msg), "ERR number of model %ss does not match the number of given arguments", what);
        RAI_SetError(err, RAI_EMODELCREATE, msg);
        return 0;
    }
    return 1;
}

static int parse_store(RedisModuleString **argv, int argc, StoreArgs *a, RAI_Error *err) {
    int b = RAI_BackendFromString(RedisModule_StringPtrLen(argv[2], NULL));
    if (b < 0) return RAI_SetError(err, RAI_EUNSUPPORTEDBACKEND, "ERR unsupported backend"), 0;
    a->backend = (RAI_Backend)b;
    a->device = RedisModule_StringPtrLen(argv[3], NULL);
    if (RAI_ArgHasNul(argv[3]) || !RAI_DeviceIsValid(a->device))
        return RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid DEVICE"), 0;
    a->opts.backends_intra_op_parallelism = RAI_config.intra_op_parallelism;
    a->opts.backends_inter_op_parallelism = RAI_config.inter_op_parallelism;
    int i = 4, has_batch = 0, has_minbatch = 0;
    long long v;
    while (i < argc && !RAI_ArgIs(argv[i], "BLOB")) {
        if (RAI_ArgIs(argv[i], "TAG") && i + 1 < argc) {
            a->tag = argv[i + 1];
            i += 2;
        } else if (RAI_ArgIs(argv[i], "BATCHSIZE")) {
            if (i + 1 >= argc || RedisModule_StringToLongLong(argv[i + 1], &v) != REDISMODULE_OK || v < 0)
                return RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid argument for BATCHSIZE"), 0;
            a->opts.batchsize = (size_t)v, has_batch = 1, i += 2;
        } else if (RAI_ArgIs(argv[i], "MINBATCHSIZE")) {
            if (!has_batch) return RAI_SetError(err, RAI_EMODELCREATE, "ERR MINBATCHSIZE specified without BATCHSIZE"), 0;
            if (i + 1 >= argc || RedisModule_StringToLongLong(argv[i + 1], &v) != REDISMODULE_OK || v < 0)
                return RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid argument for MINBATCHSIZE"), 0;
            a->opts.minbatchsize = (size_t)v, has_minbatch = 1, i += 2;
        } else if (RAI_ArgIs(argv[i], "MINBATCHTIMEOUT")) {
            if (!has_minbatch) return RAI_SetError(err, RAI_EMODELCREATE, "ERR MINBATCHTIMEOUT specified without MINBATCHSIZE"), 0;
            if (i + 1 >= argc || RedisModule_StringToLongLong(argv[i + 1], &v) != REDISMODULE_OK || v < 0)
                return RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid argument for MINBATCHTIMEOUT"), 0;
            a->opts.minbatchtimeout = (size_t)v, i += 2;
        } else if (RAI_ArgIs(argv[i], "INPUTS")) {
            if (a->backend != RAI_BACKEND_TF)
                return RAI_SetError(err, RAI_EMODELCREATE, "ERR INPUTS argument should not be specified for this backend"), 0;
            if (!parse_names(argv, argc, &i, "input", &a->ninputs, &a->inputs, err)) return 0;
        } else if (RAI_ArgIs(argv[i], "OUTPUTS")) {
            if (a->backend != RAI_BACKEND_TF)
                return RAI_SetError(err, RAI_EMODELCREATE, "ERR INPUTS argument should not be specified for this backend"), 0;
            if (!parse_names(argv, argc, &i, "output", &a->noutputs, &a->outputs, err)) return 0;
        } else {
            return RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid argument, expected BLOB"), 0;
        }
    }
    /* A batch holds at most BATCHSIZE rows: it could never reach a larger
     * minimum, and its runs would wait for ever (the original accepts it). */
    if (a->opts.batchsize > 0 && a->opts.minbatchsize > a->opts.batchsize)
        return RAI_SetError(err, RAI_EMODELCREATE, "ERR MINBATCHSIZE must not exceed BATCHSIZE"), 0;
    if (a->backend == RAI_BACKEND_TF && !a->inputs)
        return RAI_SetError(err, RAI_EMODELCREATE, "ERR INPUTS not specified for TF"), 0;
    if (a->backend == RAI_BACKEND_TF && !a->outputs)
        return RAI_SetError(err, RAI_EMODELCREATE, "ERR OUTPUTS not specified for TF"), 0;
    if (i >= argc) return RAI_SetError(err, RAI_EMODELCREATE, "ERR Invalid argument, expected BLOB"), 0;
    if (i + 1 >= argc)
        return RAI_SetError(err, RAI_EMODELCREATE, "ERR Insufficient arguments, missing model BLOB"), 0;
    a->blob_at = i + 1;
    return 1;
}

static int key_holds_other_type(RedisModuleCtx *ctx, RedisModuleString *name, RedisModuleType *type) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ);
    int t = RedisModule_KeyType(key);
    int other = t != REDISMODULE_KEYTYPE_EMPTY &&
                !(t == REDISMODULE_KEYTYPE_MODULE && RedisModule_ModuleTypeGetType(key) == type);
    RedisModule_CloseKey(key);
    return other;
}

static RAI_Model *create_from_args(RedisModuleCtx *ctx, RedisModuleString **argv, int argc,
                                   StoreArgs *a, RAI_Error *err) {
    if (RAI_DeviceIsGPU(a->device)) {
        RAI_SetError(err, RAI_EMODELCREATE, "ERR GPU device requested but this build of the engine has no GPU support");
        return NULL;
    }
    if (!RAI_BackendGet(a->backend)) {
        RedisModule_Log(ctx, "notice", "backend %s not loaded, will try loading default backend",
                        RAI_BackendName(a->backend));
        if (RAI_LoadDefaultBackend(ctx, a->backend) != REDISMODULE_OK) {
            RAI_SetError(err, RAI_EBACKENDNOTLOADED, "ERR Could not load backend");
            return NULL;
        }
    }
    /* A single chunk is passed as it is; several are joined (one copy). */
    size_t len = 0;
    const char *blob = RedisModule_StringPtrLen(argv[a->blob_at], &len);
    char *joined = NULL;
    for (int i = a->blob_at + 1; i < argc; i++) {
        size_t n;
        RedisModule_StringPtrLen(argv[i], &n);
        len += n;
    }
    /* The backend makes its own copy of the blob, and the model keeps one. */
    if (!RAI_SizeAllowed("model", len, RAI_EMODELCREATE, err)) return NULL;
    if (argc - a->blob_at > 1) {
        joined = RedisModule_Alloc(len ? len : 1);
        size_t at = 0;
        for (int i = a->blob_at; i < argc; i++) {
            size_t n;
            const char *p = RedisModule_StringPtrLen(argv[i], &n);
            memcpy(joined + at, p, n);
            at += n;
        }
        blob = joined;
    }
    RAI_Model *m = RAI_ModelCreate(a->backend, a->device, a->tag, a->opts, a->ninputs, a->inputs,
                                   a->noutputs, a->outputs, blob, len, err);
    RedisModule_Free(joined);
    return m;
}

int RAI_ModelStoreCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 6) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    StoreArgs a = {0};
    RAI_Model *m = NULL;
    if (key_holds_other_type(ctx, argv[1], RAI_ModelType))
        RAI_SetError(&err, RAI_EMODELCREATE, REDISMODULE_ERRORMSG_WRONGTYPE);
    else if (parse_store(argv, argc, &a, &err) && (m = create_from_args(ctx, argv, argc, &a, &err)) &&
             RAI_QueueEnsure(a.device) != REDISMODULE_OK)
        RAI_SetError(&err, RAI_EMODELCREATE, "ERR Could not initialize queue on requested device");
    RedisModule_Free(a.inputs);
    RedisModule_Free(a.outputs);
    if (err.code != RAI_OK) {
        RAI_ModelFree(m, NULL);
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    m->stats = RAI_StatsCreate(argv[1], RAI_RUN_MODEL, m->backend, m->devicestr, m->tag);
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_WRITE);
    RedisModule_ModuleTypeSetValue(key, RAI_ModelType, m);
    RedisModule_CloseKey(key);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

static void reply_names(RedisModuleCtx *ctx, size_t n, char **names) {
    RedisModule_ReplyWithArray(ctx, (long)n);
    for (size_t i = 0; i < n; i++) RedisModule_ReplyWithCString(ctx, names[i]);
}

static void reply_blob(RedisModuleCtx *ctx, RAI_Model *m) {
    size_t chunk = (size_t)RAI_config.model_chunk_size;
    if (m->bloblen <= chunk) {
        RedisModule_ReplyWithStringBuffer(ctx, m->blob, m->bloblen);
        return;
    }
    size_t n = (m->bloblen + chunk - 1) / chunk;
    RedisModule_ReplyWithArray(ctx, (long)n);
    for (size_t i = 0; i < n; i++) {
        size_t len = m->bloblen - i * chunk < chunk ? m->bloblen - i * chunk : chunk;
        RedisModule_ReplyWithStringBuffer(ctx, m->blob + i * chunk, len);
    }
}

int RAI_ModelGetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2 || argc > 4) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    RAI_Model *m;
    if (RAI_GetModelFromKeyspace(ctx, argv[1], &m, REDISMODULE_READ, &err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    int meta = 0, blob = 0;
    for (int i = 2; i < argc; i++) {
        if (RAI_ArgIs(argv[i], "META")) meta = 1;
        else if (RAI_ArgIs(argv[i], "BLOB")) blob = 1;
        else return RedisModule_ReplyWithError(ctx, "ERR unsupported data format");
    }
    if (!meta && !blob) meta = blob = 1;
    if (!meta) {
        reply_blob(ctx, m);
        return REDISMODULE_OK;
    }
    RedisModule_ReplyWithArray(ctx, blob ? 18 : 16);
    RedisModule_ReplyWithCString(ctx, "backend");
    RedisModule_ReplyWithCString(ctx, RAI_BackendName(m->backend));
    RedisModule_ReplyWithCString(ctx, "device");
    RedisModule_ReplyWithCString(ctx, m->devicestr);
    RedisModule_ReplyWithCString(ctx, "tag");
    if (m->tag) RedisModule_ReplyWithString(ctx, m->tag);
    else RedisModule_ReplyWithCString(ctx, "");
    RedisModule_ReplyWithCString(ctx, "batchsize");
    RedisModule_ReplyWithLongLong(ctx, (long long)m->opts.batchsize);
    RedisModule_ReplyWithCString(ctx, "minbatchsize");
    RedisModule_ReplyWithLongLong(ctx, (long long)m->opts.minbatchsize);
    RedisModule_ReplyWithCString(ctx, "inputs");
    reply_names(ctx, m->ninputs, m->inputs);
    RedisModule_ReplyWithCString(ctx, "outputs");
    reply_names(ctx, m->noutputs, m->outputs);
    RedisModule_ReplyWithCString(ctx, "minbatchtimeout");
    RedisModule_ReplyWithLongLong(ctx, (long long)m->opts.minbatchtimeout);
    if (blob) {
        RedisModule_ReplyWithCString(ctx, "blob");
        reply_blob(ctx, m);
    }
    return REDISMODULE_OK;
}

int RAI_ModelDelCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    RAI_Error err = {0};
    RAI_Model *m;
    if (RAI_GetModelFromKeyspace(ctx, argv[1], &m, REDISMODULE_WRITE, &err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    RedisModuleKey *key = RedisModule_OpenKey(ctx, argv[1], REDISMODULE_WRITE);
    RedisModule_DeleteKey(key);
    RedisModule_CloseKey(key);
    RAI_StatsRemove(argv[1]);
    RedisModule_ReplicateVerbatim(ctx);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

int RAI_ModelScanCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    if (argc != 1) return RedisModule_WrongArity(ctx);
    RedisModule_Log(ctx, "warning", "MODELSCAN is experimental and might be removed in future versions");
    RAI_StatsReplyScan(ctx, RAI_RUN_MODEL);
    return REDISMODULE_OK;
}
