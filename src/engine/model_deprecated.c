/* model_deprecated.c -- the deprecated AI.MODELSET and AI.MODELRUN.
 *
 * Both differ from AI.MODELSTORE / AI.MODELEXECUTE only in their syntax (no
 * counts before the INPUTS/OUTPUTS names; TIMEOUT first).  They check what
 * is theirs alone, rewrite their arguments into the modern form and hand
 * them to the modern command, so models are parsed, created, run, replied
 * to and counted in one place.  Replication is unaffected: a verbatim
 * replicated write sends the client's own command, and run outputs are
 * replicated as AI.TENSORSET. */
#include "command_args.h"
#include "model.h"
#include "model_commands.h"
#include "model_deprecated.h"

static int is_option_with_value(RedisModuleString *arg) {
    return RAI_ArgIs(arg, "TAG") || RAI_ArgIs(arg, "BATCHSIZE") || RAI_ArgIs(arg, "MINBATCHSIZE") ||
           RAI_ArgIs(arg, "MINBATCHTIMEOUT");
}

static int ends_names(RedisModuleString *arg) {
    return RAI_ArgIs(arg, "INPUTS") || RAI_ArgIs(arg, "OUTPUTS") || RAI_ArgIs(arg, "BLOB");
}

static int key_holds_other_type(RedisModuleCtx *ctx, RedisModuleString *name) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ);
    int t = RedisModule_KeyType(key);
    int other = t != REDISMODULE_KEYTYPE_EMPTY &&
                !(t == REDISMODULE_KEYTYPE_MODULE && RedisModule_ModuleTypeGetType(key) == RAI_ModelType);
    RedisModule_CloseKey(key);
    return other;
}

/* AI.MODELSET <key> <backend> <device> [TAG t] [BATCHSIZE n [MINBATCHSIZE m
 * [MINBATCHTIMEOUT ms]]] [INPUTS name... OUTPUTS name...] BLOB <model>...
 * The errors MODELSTORE does not have (TFLITE batching, MINBATCHTIMEOUT
 * without BATCHSIZE, RedisAI's TF INPUTS/OUTPUTS texts for this form) are
 * found here, in the order the options come; everything else is
 * MODELSTORE's. */
int RAI_ModelSetCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 4) return RedisModule_WrongArity(ctx);
    int backend = RAI_BackendFromString(RedisModule_StringPtrLen(argv[2], NULL));
    int valid = backend >= 0 && RAI_DeviceIsValid(RedisModule_StringPtrLen(argv[3], NULL));
    /* Each argument becomes at most two (a name list gains its count). */
    RedisModuleString **out = RedisModule_Alloc(sizeof(*out) * 2 * (size_t)argc);
    RedisModuleString **counts = RedisModule_Alloc(sizeof(*counts) * (size_t)argc);
    int n = 0, ncounts = 0, i = 4, has_batch = 0, has_minbatch = 0, has_inputs = 0, has_outputs = 0;
    int tf = backend == RAI_BACKEND_TF;
    const char *extra = NULL;
    for (; n < 4; n++) out[n] = argv[n];
    while (i < argc && !RAI_ArgIs(argv[i], "BLOB")) {
        if (is_option_with_value(argv[i])) {
            if (RAI_ArgIs(argv[i], "BATCHSIZE")) {
                if (backend == RAI_BACKEND_TFLITE && !extra)
                    extra = "ERR Auto-batching not supported by the TFLITE backend";
                has_batch = 1;
            } else if (RAI_ArgIs(argv[i], "MINBATCHSIZE")) {
                has_minbatch = 1; /* without BATCHSIZE: MODELSTORE's own error, which comes first */
            } else if (RAI_ArgIs(argv[i], "MINBATCHTIMEOUT") && !has_batch && !has_minbatch && !extra) {
                extra = "ERR MINBATCHTIMEOUT specified without BATCHSIZE";
            }
            out[n++] = argv[i++];
            if (i < argc) out[n++] = argv[i++];
            continue;
        }
        if (!RAI_ArgIs(argv[i], "INPUTS") && !RAI_ArgIs(argv[i], "OUTPUTS")) {
            if (tf && !has_inputs && !extra) extra = "ERR INPUTS not specified";
            out[n++] = argv[i++]; /* MODELSTORE reports it */
            continue;
        }
        if (RAI_ArgIs(argv[i], "INPUTS")) has_inputs = 1;
        else has_outputs = 1;
        int first = i + 1, end = first;
        while (end < argc && !ends_names(argv[end])) end++;
        /* An empty TF list is a missing one: "INPUTS not specified for TF". */
        if (end > first || backend != RAI_BACKEND_TF) {
            out[n++] = argv[i];
            out[n++] = counts[ncounts++] = RedisModule_CreateStringFromLongLong(NULL, end - first);
            for (int k = first; k < end; k++) out[n++] = argv[k];
        }
        i = end;
    }
    while (i < argc) out[n++] = argv[i++];
    if (tf && !has_inputs && !has_outputs && !extra) extra = "ERR Insufficient arguments, INPUTS and OUTPUTS not specified";
    if (tf && has_inputs && !has_outputs && !extra) extra = "ERR OUTPUTS not specified";
    if (extra && valid) {
        if (key_holds_other_type(ctx, argv[1])) RedisModule_ReplyWithError(ctx, REDISMODULE_ERRORMSG_WRONGTYPE);
        else RedisModule_ReplyWithError(ctx, extra);
    } else {
        RAI_ModelStoreFromArgs(ctx, out, n);
    }
    for (int k = 0; k < ncounts; k++) RedisModule_FreeString(NULL, counts[k]);
    RedisModule_Free(counts);
    RedisModule_Free(out);
    return REDISMODULE_OK;
}

/* Key positions: the model, then every input and output name. */
static int report_run_keys(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc > 1) RedisModule_KeyAtPos(ctx, 1);
    int i = 2;
    if (i + 1 < argc && RAI_ArgIs(argv[i], "TIMEOUT")) i += 2;
    if (i < argc && RAI_ArgIs(argv[i], "INPUTS")) i++;
    int seen_outputs = 0;
    for (; i < argc; i++) {
        if (!seen_outputs && RAI_ArgIs(argv[i], "OUTPUTS")) seen_outputs = 1;
        else RedisModule_KeyAtPos(ctx, i);
    }
    return REDISMODULE_OK;
}

/* AI.MODELRUN <key> [TIMEOUT t] INPUTS <in>... OUTPUTS <out>...
 * Run as AI.MODELEXECUTE <key> INPUTS n <in>... OUTPUTS m <out>... [TIMEOUT t].
 * Its output errors are RedisAI's own for this form (ERR prefix). */
int RAI_ModelRunCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (RedisModule_IsKeysPositionRequest(ctx)) return report_run_keys(ctx, argv, argc);
    if (argc < 3) return RedisModule_WrongArity(ctx);
    if (RAI_CannotBlock(ctx)) return RedisModule_ReplyWithError(ctx, RAI_ERR_CANNOT_BLOCK);
    RAI_Error err = {0};
    RAI_Model *model;
    if (RAI_GetModelFromKeyspace(ctx, argv[1], &model, REDISMODULE_READ, &err) != REDISMODULE_OK) {
        RedisModule_ReplyWithError(ctx, RAI_GetErrorOneLine(&err));
        RAI_ClearError(&err);
        return REDISMODULE_OK;
    }
    int i = 2, timeout_at = 0;
    if (RAI_ArgIs(argv[i], "TIMEOUT")) {
        long long timeout;
        if (i + 1 >= argc) return RedisModule_ReplyWithError(ctx, "ERR No value provided for TIMEOUT");
        if (RedisModule_StringToLongLong(argv[i + 1], &timeout) != REDISMODULE_OK || timeout <= 0)
            return RedisModule_ReplyWithError(ctx, "ERR Invalid value for TIMEOUT");
        timeout_at = i;
        i += 2;
    }
    if (i >= argc || !RAI_ArgIs(argv[i], "INPUTS")) return RedisModule_ReplyWithError(ctx, "ERR INPUTS not specified");
    int first_in = ++i;
    while (i < argc && !RAI_ArgIs(argv[i], "OUTPUTS")) i++;
    if (i >= argc) return RedisModule_ReplyWithError(ctx, "ERR OUTPUTS not specified");
    int nin = i - first_in, first_out = i + 1, nout = argc - first_out;
    if (nout == 0) return RedisModule_ReplyWithError(ctx, RAI_ERR_MODELRUN_ARGS);
    if (nin == 0 || (model->ninputs > 0 && (size_t)nin != model->ninputs))
        return RedisModule_ReplyWithError(ctx, "Number of keys given as INPUTS here does not match model definition");
    if (model->noutputs > 0 && (size_t)nout != model->noutputs)
        return RedisModule_ReplyWithError(ctx, RAI_ERR_MODELRUN_OUTPUTS);

    RedisModuleString **out = RedisModule_Alloc(sizeof(*out) * (size_t)(nin + nout + 8));
    RedisModuleString *nin_str = RedisModule_CreateStringFromLongLong(NULL, nin);
    RedisModuleString *nout_str = RedisModule_CreateStringFromLongLong(NULL, nout);
    int n = 0;
    out[n++] = argv[0];
    out[n++] = argv[1];
    out[n++] = argv[first_in - 1];
    out[n++] = nin_str;
    for (int k = 0; k < nin; k++) out[n++] = argv[first_in + k];
    out[n++] = argv[first_out - 1];
    out[n++] = nout_str;
    for (int k = 0; k < nout; k++) out[n++] = argv[first_out + k];
    if (timeout_at) {
        out[n++] = argv[timeout_at];
        out[n++] = argv[timeout_at + 1];
    }
    RAI_ModelExecuteCommand(ctx, out, n);
    RedisModule_FreeString(NULL, nin_str);
    RedisModule_FreeString(NULL, nout_str);
    RedisModule_Free(out);
    return REDISMODULE_OK;
}
