/* cdef.h -- the C surface of the redisAI extension that Python sees.
 * build_ffi.py feeds this file (minus the preprocessor lines) to cffi's
 * cdef, and the C sources include it, so both sides share one declaration.
 * Every fallible call returns 0 (or a non-NULL pointer) on success and fills
 * *err otherwise. */
#ifndef REDISAI_EXT_CDEF_H
#define REDISAI_EXT_CDEF_H
#include <stddef.h>
#include <stdint.h>

typedef struct RAI_Tensor RAI_Tensor;
typedef struct rx_err {
    int code;      /* 0 ok, 1 error (msg), 2 engine not loaded */
    char msg[512];
} rx_err;

/* Binding (thread-safe, idempotent; retried by the caller while it fails). */
int rx_bind(uintptr_t host_api_address, rx_err *err);
int rx_has_entry(const char *name); /* 1 if the engine exported RedisAI_<name> */
/* The Redis lock (re-entrant per thread), for Python code that must take it
 * before one of its own locks; 0 when taken. */
int rx_lock_redis(void);
void rx_unlock_redis(void);

/* Dtypes: ids 0..9 = FLOAT DOUBLE INT8 INT16 INT32 INT64 UINT8 UINT16 BOOL STRING. */
int rx_dtype_parse(const char *s); /* -1 if unknown */
const char *rx_dtype_name(int id);

/* Tensors (no lock needed: a PyTensor's tensor is only read once shared). */
RAI_Tensor *rx_tensor_create(const char *dtype, const long long *dims, int ndims, rx_err *err);
int rx_tensor_set_doubles(RAI_Tensor *t, const double *values, size_t n, rx_err *err);
int rx_tensor_set_longs(RAI_Tensor *t, const long long *values, size_t n, rx_err *err);
int rx_tensor_set_blob(RAI_Tensor *t, int dtype, const char *data, size_t len, rx_err *err);
void rx_tensor_free(RAI_Tensor *t);
int rx_tensor_ndims(RAI_Tensor *t);
long long rx_tensor_dim(RAI_Tensor *t, int i);
size_t rx_tensor_length(RAI_Tensor *t);
size_t rx_tensor_bytesize(RAI_Tensor *t);
char *rx_tensor_data(RAI_Tensor *t);
int rx_tensor_dtype(RAI_Tensor *t); /* probed from the shared API; -1 if undecidable */

/* Keyspace (take the Redis lock only around keyspace access).  The n key
 * names lie end to end in `keys` (Python passes one bytes object, no copy);
 * keylens[i] is the length of the i-th.  `user`: the caller's
 * redisgears._current_user_address(), whose ACL the keys must pass (0:
 * full rights). */
int rx_keys_set(size_t n, const char *keys, const size_t *keylens, RAI_Tensor *const *tensors,
                const int *dtypes, uintptr_t user, rx_err *err);
int rx_keys_get(size_t n, const char *keys, const size_t *keylens, RAI_Tensor **out, int *dtypes,
                uintptr_t user, rx_err *err);
/* One key, for getTensorFromKey / setTensorInKey: the same calls without
 * the arrays, which cost a flow more than the keyspace access does. */
typedef struct rx_got {
    RAI_Tensor *tensor;
    int dtype;
    rx_err err;
} rx_got;
int rx_key_get(const char *key, size_t keylen, uintptr_t user, rx_got *got);
int rx_key_set(const char *key, size_t keylen, RAI_Tensor *t, int dtype, uintptr_t user, rx_err *err);

/* Runs (runners.c, dag.c).  The outcome of a run: its outputs (each one
 * engine reference, which the caller takes by wrapping it and setting the
 * slot to NULL) or its error (err.code != 0).  rx_result_clear frees the
 * rest. */
typedef struct RAI_ModelRunCtx RAI_ModelRunCtx;
typedef struct RAI_ScriptRunCtx RAI_ScriptRunCtx;
typedef struct rx_result {
    size_t n;
    RAI_Tensor **tensors;
    int *dtypes;
    rx_err err;
} rx_result;
void rx_result_clear(rx_result *res);

/* Model runners.  run consumes the context whatever the outcome; run_async
 * consumes it only when the run was queued (rx_run_done is then called once
 * with `handle`: on Redis's main thread if `on_main`, else on the engine
 * worker). */
RAI_ModelRunCtx *rx_model_runner_create(const char *key, size_t keylen, uintptr_t user, rx_err *err);
int rx_model_runner_add_input(RAI_ModelRunCtx *c, const char *name, RAI_Tensor *t, rx_err *err);
int rx_model_runner_add_output(RAI_ModelRunCtx *c, const char *name, rx_err *err);
int rx_model_runner_run(RAI_ModelRunCtx *c, rx_result *res);
int rx_model_runner_run_async(RAI_ModelRunCtx *c, void *handle, int on_main, rx_err *err);
void rx_model_runner_free(RAI_ModelRunCtx *c);

/* Script runners, the same way. */
RAI_ScriptRunCtx *rx_script_runner_create(const char *key, size_t keylen, const char *fn, uintptr_t user,
                                          rx_err *err);
int rx_script_runner_add_input(RAI_ScriptRunCtx *c, RAI_Tensor *t, rx_err *err);
int rx_script_runner_add_input_list(RAI_ScriptRunCtx *c, RAI_Tensor **ts, size_t n, rx_err *err);
int rx_script_runner_add_output(RAI_ScriptRunCtx *c, rx_err *err);
int rx_script_runner_run(RAI_ScriptRunCtx *c, rx_result *res);
int rx_script_runner_run_async(RAI_ScriptRunCtx *c, void *handle, int on_main, rx_err *err);
void rx_script_runner_free(RAI_ScriptRunCtx *c);

/* DAGs (dag.c).  rx_dag_run consumes the DAG whatever the outcome (freed at
 * once when it cannot be queued, else after rx_run_done); rx_dag_add_op
 * consumes the op whatever the outcome.  fn = NULL makes a model op. */
typedef struct RAI_DAGRunCtx RAI_DAGRunCtx;
typedef struct RAI_DAGRunOp RAI_DAGRunOp;
RAI_DAGRunCtx *rx_dag_create(rx_err *err);
void rx_dag_free(RAI_DAGRunCtx *d);
int rx_dag_load(RAI_DAGRunCtx *d, const char *name, RAI_Tensor *t, rx_err *err);
int rx_dag_tensor_set(RAI_DAGRunCtx *d, const char *name, RAI_Tensor *t, rx_err *err);
int rx_dag_tensor_get(RAI_DAGRunCtx *d, const char *name, rx_err *err);
RAI_DAGRunOp *rx_dag_run_op(const char *key, size_t keylen, const char *fn, uintptr_t user, rx_err *err);
void rx_dag_op_free(RAI_DAGRunOp *op);
int rx_dag_add_op(RAI_DAGRunCtx *d, RAI_DAGRunOp *op, const char *const *inputs, size_t nin,
                  const char *const *outputs, size_t nout, rx_err *err);
int rx_dag_ops_from_string(RAI_DAGRunCtx *d, const char *ops, uintptr_t user, rx_err *err);
int rx_dag_run(RAI_DAGRunCtx *d, void *handle, int on_main, rx_err *err);
#endif
