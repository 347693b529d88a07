/* model_type.c -- AI__MODEL: RDB (RedisAI v4 layout, chunked blob) and AOF. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "model.h"
#include "rdb_cstring.h"
#include "tensor_type.h"

RedisModuleType *RAI_ModelType = NULL;

static void model_rdb_save(RedisModuleIO *io, void *value) {
    RAI_Model *m = value;
    RedisModule_SaveUnsigned(io, m->backend);
    RAI_SaveCString(io, m->devicestr);
    if (m->tag) {
        RedisModule_SaveString(io, m->tag);
    } else {
        RedisModule_SaveStringBuffer(io, "", 0);
    }
    RedisModule_SaveUnsigned(io, m->opts.batchsize);
    RedisModule_SaveUnsigned(io, m->opts.minbatchsize);
    RedisModule_SaveUnsigned(io, m->opts.minbatchtimeout);
    RedisModule_SaveUnsigned(io, m->ninputs);
    for (size_t i = 0; i < m->ninputs; i++) RAI_SaveCString(io, m->inputs[i]);
    RedisModule_SaveUnsigned(io, m->noutputs);
    for (size_t i = 0; i < m->noutputs; i++) RAI_SaveCString(io, m->outputs[i]);
    size_t chunk = (size_t)RAI_config.model_chunk_size;
    size_t nchunks = (m->bloblen + chunk - 1) / chunk;
    RedisModule_SaveUnsigned(io, m->bloblen);
    RedisModule_SaveUnsigned(io, nchunks);
    for (size_t i = 0; i < nchunks; i++) {
        size_t n = m->bloblen - i * chunk < chunk ? m->bloblen - i * chunk : chunk;
        RedisModule_SaveStringBuffer(io, m->blob + i * chunk, n);
    }
}

/* Loads `n` names; NULL entries when the stream ends early (IsIOError). */
static char **load_names(RedisModuleIO *io, size_t n) {
    char **names = RedisModule_Calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n && !RedisModule_IsIOError(io); i++)
        names[i] = RAI_LoadCString(io);
    return names;
}

static void free_loaded_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (names[i]) RedisModule_Free(names[i]);
    RedisModule_Free(names);
}

/* More names than any model has: the value is corrupt, and a huge count
 * must not turn into a huge allocation. */
#define MAX_LOADED_NAMES 65536

/* The blob grows with the chunks actually read, so a corrupt total can not
 * make us allocate more than the payload holds.  Returns NULL on a short
 * or inconsistent stream. */
static char *load_blob(RedisModuleIO *io, size_t total, size_t nchunks) {
    char *blob = NULL;
    size_t at = 0;
    for (size_t i = 0; i < nchunks; i++) {
        size_t n = 0;
        char *chunk = RedisModule_IsIOError(io) ? NULL : RedisModule_LoadStringBuffer(io, &n);
        if (!chunk || n > total - at) {
            if (chunk) RedisModule_Free(chunk);
            if (blob) RedisModule_Free(blob);
            return NULL;
        }
        if (!blob) { /* the first chunk's own buffer becomes the blob: no copy */
            blob = chunk;
        } else {
            blob = RedisModule_Realloc(blob, at + n); /* one copy per extra chunk */
            memcpy(blob + at, chunk, n);
            RedisModule_Free(chunk);
        }
        at += n;
    }
    if (at != total || !blob) {
        if (blob) RedisModule_Free(blob);
        return NULL;
    }
    return blob;
}

/* Older encodings (spec 5.3), read from the layout's description: v0 kept
 * the tag as a C string and the blob in one piece, with no MINBATCHTIMEOUT;
 * v1 brought string tags and chunks; v2 MINBATCHTIMEOUT.  v3 and v4 changed
 * only scripts and tensors. */
static void *model_rdb_load(RedisModuleIO *io, int encver) {
    if (encver < 0 || encver > RAI_ENC_VER) {
        RedisModule_LogIOError(io, "warning", "AI__MODEL: unsupported encoding version %d", encver);
        return NULL;
    }
    uint64_t backend_code = RedisModule_LoadUnsigned(io);
    char *device = RAI_LoadCString(io);
    RedisModuleString *tag = RedisModule_IsIOError(io) ? NULL : RAI_LoadTag(io, encver);
    RAI_ModelOpts opts = {
        .backends_intra_op_parallelism = RAI_config.intra_op_parallelism,
        .backends_inter_op_parallelism = RAI_config.inter_op_parallelism,
    };
    opts.batchsize = RedisModule_LoadUnsigned(io);
    opts.minbatchsize = RedisModule_LoadUnsigned(io);
    if (encver >= 2) opts.minbatchtimeout = RedisModule_LoadUnsigned(io);
    size_t ninputs = RedisModule_LoadUnsigned(io);
    if (ninputs > MAX_LOADED_NAMES) ninputs = 0;
    char **inputs = load_names(io, ninputs);
    size_t noutputs = RedisModule_LoadUnsigned(io);
    if (noutputs > MAX_LOADED_NAMES) noutputs = 0;
    char **outputs = load_names(io, noutputs);
    size_t total = 0;
    char *blob = NULL;
    if (encver == 0) {
        blob = RedisModule_IsIOError(io) ? NULL : RedisModule_LoadStringBuffer(io, &total);
    } else {
        total = RedisModule_LoadUnsigned(io);
        size_t nchunks = RedisModule_LoadUnsigned(io);
        blob = RedisModule_IsIOError(io) ? NULL : load_blob(io, total, nchunks);
    }
    RAI_Model *m = NULL;
    RAI_Error err = {0};
    /* Batch settings past LLONG_MAX would read back as negative numbers (and
     * an AOF rewrite would then write a command that cannot load). */
    int bad_opts = opts.batchsize > LLONG_MAX || opts.minbatchsize > LLONG_MAX || opts.minbatchtimeout > LLONG_MAX;
    RAI_Backend backend = backend_code < RAI_BACKEND_COUNT ? (RAI_Backend)backend_code : RAI_BACKEND_COUNT;
    if (!blob || !device || !tag || backend == RAI_BACKEND_COUNT || bad_opts || RedisModule_IsIOError(io)) {
        RedisModule_LogIOError(io, "warning", "AI__MODEL: corrupt model in RDB");
    } else {
        if (RAI_LoadDefaultBackend(NULL, backend) != REDISMODULE_OK)
            RedisModule_LogIOError(io, "warning", "Could not load default backend");
        size_t taglen;
        RedisModule_StringPtrLen(tag, &taglen);
        m = RAI_ModelCreate(backend, device, taglen ? tag : NULL, opts, ninputs, (const char **)inputs,
                            noutputs, (const char **)outputs, blob, total, &err);
        if (!m) RedisModule_LogIOError(io, "warning", "AI__MODEL: %s", RAI_GetError(&err));
    }
    if (m && RedisModule_GetKeyNameFromIO) {
        const RedisModuleString *key = RedisModule_GetKeyNameFromIO(io);
        if (key) m->stats = RAI_StatsCreate((RedisModuleString *)key, RAI_RUN_MODEL, backend, device, m->tag);
    }
    RAI_ClearError(&err);
    if (tag) RedisModule_FreeString(NULL, tag);
    if (device) RedisModule_Free(device);
    free_loaded_names(inputs, ninputs);
    free_loaded_names(outputs, noutputs);
    if (blob) RedisModule_Free(blob);
    return m;
}

/* AI.MODELSTORE key backend device TAG t BATCHSIZE n MINBATCHSIZE m
 * MINBATCHTIMEOUT t [INPUTS n ... OUTPUTS m ...] BLOB chunk...  A TF model
 * without names (an RDB v0 value) gets INPUTS 0 OUTPUTS 0, which MODELSTORE
 * accepts only while loading. */
static void model_aof_rewrite(RedisModuleIO *aof, RedisModuleString *key, void *value) {
    RAI_Model *m = value;
    size_t chunk = (size_t)RAI_config.model_chunk_size;
    size_t nchunks = (m->bloblen + chunk - 1) / chunk;
    int tf = m->backend == RAI_BACKEND_TF;
    size_t n = 0, cap = 12 + (tf ? 4 + m->ninputs + m->noutputs : 0) + nchunks;
    RedisModuleString **argv = RedisModule_Alloc(sizeof(*argv) * cap);
#define ADD_C(s) argv[n++] = RedisModule_CreateString(NULL, (s), strlen(s))
#define ADD_LL(v) argv[n++] = RedisModule_CreateStringFromLongLong(NULL, (long long)(v))
    ADD_C(RAI_BackendName(m->backend));
    ADD_C(m->devicestr);
    ADD_C("TAG");
    argv[n++] = m->tag ? RedisModule_HoldString(NULL, m->tag) : RedisModule_CreateString(NULL, "", 0);
    ADD_C("BATCHSIZE"); ADD_LL(m->opts.batchsize);
    ADD_C("MINBATCHSIZE"); ADD_LL(m->opts.minbatchsize);
    ADD_C("MINBATCHTIMEOUT"); ADD_LL(m->opts.minbatchtimeout);
    if (tf) {
        ADD_C("INPUTS"); ADD_LL(m->ninputs);
        for (size_t i = 0; i < m->ninputs; i++) ADD_C(m->inputs[i]);
        ADD_C("OUTPUTS"); ADD_LL(m->noutputs);
        for (size_t i = 0; i < m->noutputs; i++) ADD_C(m->outputs[i]);
    }
    ADD_C("BLOB");
    for (size_t i = 0; i < nchunks; i++) {
        size_t len = m->bloblen - i * chunk < chunk ? m->bloblen - i * chunk : chunk;
        argv[n++] = RedisModule_CreateString(NULL, m->blob + i * chunk, len);
    }
#undef ADD_C
#undef ADD_LL
    RedisModule_EmitAOF(aof, "AI.MODELSTORE", "sv", key, argv, n);
    for (size_t i = 0; i < n; i++) RedisModule_FreeString(NULL, argv[i]);
    RedisModule_Free(argv);
}

static size_t model_mem_usage(const void *value) {
    const RAI_Model *m = value;
    return sizeof(*m) + m->bloblen;
}

/* The key is gone (DEL, overwrite, FLUSHALL...): so is its AI.INFO entry. */
static void model_free(void *value) {
    RAI_Model *m = value;
    RAI_StatsRemoveEntry(m->stats);
    RAI_ModelFree(m, NULL);
}

int RAI_ModelTypeRegister(RedisModuleCtx *ctx) {
    RedisModuleTypeMethods tm = {
        .version = REDISMODULE_TYPE_METHOD_VERSION,
        .rdb_load = model_rdb_load,
        .rdb_save = model_rdb_save,
        .aof_rewrite = model_aof_rewrite,
        .mem_usage = model_mem_usage,
        .free = model_free,
    };
    RAI_ModelType = RedisModule_CreateDataType(ctx, "AI__MODEL", RAI_ENC_VER, &tm);
    return RAI_ModelType ? REDISMODULE_OK : REDISMODULE_ERR;
}
