/* dag_parse_op.c -- one op of a DAG: AI.TENSORSET, AI.TENSORGET,
 * AI.MODELEXECUTE, AI.SCRIPTEXECUTE, and in AI.DAGRUN the deprecated
 * AI.MODELRUN / AI.SCRIPTRUN.  Errors are those of the commands themselves;
 * tensor names refer to the DAG, not to keys. */
#include <stdio.h>

#include "command_args.h"
#include "dag_parse.h"
#include "model_deprecated.h"
#include "tensor_commands.h"

#define ERR_TIMEOUT "ERR TIMEOUT not allowed within a DAG command"

/* Frees the op; `msg` (if any) becomes the error unless one is set. */
static RAI_DAGRunOp *fail(RAI_DAGRunOp *op, RAI_Error *err, const char *msg) {
    if (msg) RAI_SetError(err, RAI_EDAGBUILDER, msg);
    RAI_DAGOpFree(op);
    return NULL;
}

static void add_input(RAI_DAGRunOp *op, RedisModuleString *name) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(name, &len);
    RAI_DAGOpAddInput(op, s, len);
}

static void add_output(RAI_DAGRunOp *op, RedisModuleString *name) {
    size_t len;
    const char *s = RedisModule_StringPtrLen(name, &len);
    RAI_DAGOpAddOutput(op, s, len);
}

static RAI_DAGRunOp *parse_tensorset(RedisModuleString **argv, int argc, RAI_Error *err) {
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_TENSORSET);
    if (argc < 4) return fail(op, err, "ERR wrong number of arguments for 'AI.TENSORSET' command");
    op->tensor = RAI_TensorCreateFromArgs(argv + 2, argc - 2, err);
    if (!op->tensor) return fail(op, err, NULL);
    add_output(op, argv[1]);
    return op;
}

static RAI_DAGRunOp *parse_tensorget(RedisModuleString **argv, int argc, RAI_Error *err) {
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_TENSORGET);
    if (argc < 2 || argc > 4) return fail(op, err, "ERR wrong number of arguments for 'AI.TENSORGET' command");
    op->fmt = RAI_TensorParseReplyFormat(argv + 2, argc - 2, err);
    if (op->fmt < 0) return fail(op, err, NULL);
    add_input(op, argv[1]);
    return op;
}

static RAI_DAGRunOp *model_op(RedisModuleCtx *ctx, RedisModuleString *key, RAI_Error *err) {
    RAI_Model *model;
    if (RAI_GetModelFromKeyspace(ctx, key, &model, REDISMODULE_READ, err) != REDISMODULE_OK) return NULL;
    RAI_DAGRunOp *op = RAI_DAGOpNew(RAI_DAGOP_MODEL);
    op->model = RAI_ModelGetShallowCopy(model);
    return op;
}

/* AI.MODELEXECUTE <key> INPUTS <n> <name>... OUTPUTS <m> <name>... */
static RAI_DAGRunOp *parse_modelexecute(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, RAI_Error *err) {
    if (argc < 8) {
        RAI_SetError(err, RAI_EDAGBUILDER, "ERR wrong number of arguments for 'AI.MODELEXECUTE' command");
        return NULL;
    }
    RAI_DAGRunOp *op = model_op(ctx, argv[1], err);
    if (!op) return NULL;
    RAI_Model *model = op->model;
    long long nin, nout;
    if (!RAI_ArgIs(argv[2], "INPUTS")) return fail(op, err, "ERR INPUTS not specified");
    if (RedisModule_StringToLongLong(argv[3], &nin) != REDISMODULE_OK)
        return fail(op, err, "ERR Invalid argument for input_count");
    if (nin <= 0) return fail(op, err, "ERR Input count must be a positive integer");
    if ((size_t)nin != model->ninputs && model->ninputs > 0)
        return fail(op, err, "Number of keys given as INPUTS here does not match model definition");
    int i = 4;
    for (long long k = 0; k < nin; k++, i++) {
        if (i >= argc || RAI_ArgIs(argv[i], "OUTPUTS"))
            return fail(op, err,
                        "ERR number of input keys to AI.MODELEXECUTE command does not match the number of given arguments");
        add_input(op, argv[i]);
    }
    if (i >= argc || !RAI_ArgIs(argv[i], "OUTPUTS")) return fail(op, err, "ERR OUTPUTS not specified");
    if (i + 1 >= argc || RedisModule_StringToLongLong(argv[i + 1], &nout) != REDISMODULE_OK || nout <= 0)
        return fail(op, err, "ERR Output count must be a positive integer");
    if ((size_t)nout != model->noutputs && model->noutputs > 0)
        return fail(op, err, "Number of keys given as OUTPUTS here does not match model definition");
    i += 2;
    if (argc - i < nout)
        return fail(op, err,
                    "ERR number of output keys to AI.MODELEXECUTE command does not match the number of given arguments");
    for (long long k = 0; k < nout; k++, i++) add_output(op, argv[i]);
    if (i < argc) {
        if (RAI_ArgIs(argv[i], "TIMEOUT")) return fail(op, err, ERR_TIMEOUT);
        char msg[256];
        snprintf(msg, sizeof(msg), "Invalid argument: %s", RedisModule_StringPtrLen(argv[i], NULL));
        return fail(op, err, msg);
    }
    return op;
}

/* Deprecated: AI.MODELRUN <key> INPUTS <name>... OUTPUTS <name>... */
static RAI_DAGRunOp *parse_modelrun(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, RAI_Error *err) {
    if (argc < 3) {
        RAI_SetError(err, RAI_EDAGBUILDER, RAI_ERR_MODELRUN_ARGS);
        return NULL;
    }
    RAI_DAGRunOp *op = model_op(ctx, argv[1], err);
    if (!op) return NULL;
    if (RAI_ArgIs(argv[2], "TIMEOUT")) return fail(op, err, ERR_TIMEOUT);
    if (!RAI_ArgIs(argv[2], "INPUTS")) return fail(op, err, "ERR INPUTS not specified");
    int i = 3;
    for (; i < argc && !RAI_ArgIs(argv[i], "OUTPUTS"); i++) add_input(op, argv[i]);
    if (i >= argc) return fail(op, err, "ERR OUTPUTS not specified");
    for (i++; i < argc; i++) add_output(op, argv[i]);
    if (op->noutputs == 0) return fail(op, err, RAI_ERR_MODELRUN_ARGS);
    if (op->ninputs == 0 || (op->ninputs != op->model->ninputs && op->model->ninputs > 0))
        return fail(op, err, "Number of keys given as INPUTS here does not match model definition");
    if (op->noutputs != op->model->noutputs && op->model->noutputs > 0) return fail(op, err, RAI_ERR_MODELRUN_OUTPUTS);
    return op;
}

RAI_DAGRunOp *RAI_DAGParseOp(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int flags,
                             RAI_Error *err) {
    int deprecated = flags & RAI_DAG_DEPRECATED, ro = flags & RAI_DAG_RO;
    if (argc == 0) return fail(NULL, err, "Unsupported command within DAG");
    RedisModuleString *name = argv[0];
    if (RAI_ArgIs(name, "AI.TENSORSET")) return parse_tensorset(argv, argc, err);
    if (RAI_ArgIs(name, "AI.TENSORGET")) return parse_tensorget(argv, argc, err);
    if (RAI_ArgIs(name, "AI.MODELEXECUTE")) {
        if (deprecated) return fail(NULL, err, "ERR AI.MODELEXECUTE cannot be used in a deprecated AI.DAGRUN command");
        return parse_modelexecute(ctx, argv, argc, err);
    }
    if (RAI_ArgIs(name, "AI.MODELRUN")) {
        if (!deprecated) return fail(NULL, err, "Deprecated AI.MODELRUN cannot be used in AI.DAGEXECUTE command");
        return parse_modelrun(ctx, argv, argc, err);
    }
    if (RAI_ArgIs(name, "AI.SCRIPTEXECUTE")) {
        if (deprecated) return fail(NULL, err, "ERR AI.SCRIPTEXECUTE cannot be used in a deprecated AI.DAGRUN command");
        if (ro) return fail(NULL, err, "ERR AI.SCRIPTEXECUTE command cannot be specified in a read-only DAG");
        return RAI_DAGParseScriptExecute(ctx, argv, argc, err);
    }
    if (RAI_ArgIs(name, "AI.SCRIPTRUN")) {
        if (!deprecated) return fail(NULL, err, "Deprecated AI.SCRIPTRUN cannot be used in AI.DAGEXECUTE command");
        if (ro) return fail(NULL, err, "ERR AI.SCRIPTRUN command cannot be specified in a read-only DAG");
        return RAI_DAGParseScriptRun(ctx, argv, argc, err);
    }
    return fail(NULL, err, "Unsupported command within DAG");
}
