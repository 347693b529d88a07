/* dag_parse.h -- parsing AI.DAGEXECUTE / AI.DAGRUN (and their _RO forms) and
 * the `|> <op> ...` chains that RedisAI_DAGAddOpsFromString also accepts.
 * Every parser runs with the Redis lock held: ops look their model or script
 * up in the keyspace while they are parsed. */
#ifndef ENGINE_DAG_PARSE_H
#define ENGINE_DAG_PARSE_H

#include "dag.h"

#define RAI_DAG_RO 1         /* _RO: no PERSIST, no SCRIPTEXECUTE */
#define RAI_DAG_DEPRECATED 2 /* AI.DAGRUN: MODELRUN/SCRIPTRUN ops, ROUTING not required */

/* A parsed command: the DAG (LOADed tensors and ops), what to PERSIST and
 * the TIMEOUT. */
typedef struct RAI_DAGCommand {
    RAI_DAGRunCtx *dag;
    RedisModuleString **persist; /* held */
    size_t npersist;
    long long timeout_ms; /* 0 = none */
} RAI_DAGCommand;

/* Parses and validates a whole command (argv[0] is its name).  On error the
 * command is cleared and `err` holds the reply text. */
int RAI_DAGParseCommand(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int flags,
                        RAI_DAGCommand *cmd, RAI_Error *err);
void RAI_DAGCommandClear(RAI_DAGCommand *cmd);
/* Reports LOAD, PERSIST and ROUTING keys and the model/script keys (and
 * script KEYS) of the ops, for COMMAND GETKEYS and cluster routing. */
void RAI_DAGReportKeys(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

/* Parses `|> op ... [|> op ...]` (argv[0] must be "|>") and appends the ops
 * to `dag`: all of them, or none and REDISMODULE_ERR with `err` set. */
int RAI_DAGParseOps(RedisModuleCtx *ctx, RAI_DAGRunCtx *dag, RedisModuleString **argv, int argc,
                    int flags, RAI_Error *err);

/* One op (argv[0] is its command name); NULL with `err` set on error.  In
 * dag_parse_op.c. */
RAI_DAGRunOp *RAI_DAGParseOp(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int flags,
                             RAI_Error *err);
/* AI.SCRIPTEXECUTE and the deprecated AI.SCRIPTRUN ops; in dag_parse_script.c. */
RAI_DAGRunOp *RAI_DAGParseScriptExecute(RedisModuleCtx *ctx, RedisModuleString **argv, int argc,
                                        RAI_Error *err);
RAI_DAGRunOp *RAI_DAGParseScriptRun(RedisModuleCtx *ctx, RedisModuleString **argv, int argc,
                                    RAI_Error *err);

#endif
