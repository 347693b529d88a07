/* host.h -- internal interfaces of the Python host (Redis module "rg").
 *
 * Threads: Redis's main thread runs the RG.* commands; a small pool of C
 * threads runs async executions; one Python thread runs the asyncio loop.
 * Lock order is always Redis lock, then GIL: no thread waits for the Redis
 * lock while it holds the GIL. */
#ifndef RG_HOST_H
#define RG_HOST_H

#include <pthread.h>
#include <stddef.h>

#include "../common/command_acl.h"
#include "../common/rm_api.h"

typedef struct _object PyObject;

/* ---- creply.c: replies owned by C, built and sent without the GIL ---- */
enum { CR_STRING, CR_ERROR, CR_INTEGER, CR_NULL, CR_ARRAY, CR_DOUBLE, CR_STATUS /* simple string */ };
typedef struct CReply {
    int type;
    long long integer;
    double dbl;
    char *str; /* STRING, STATUS and ERROR, NUL-terminated, `len` bytes */
    size_t len;
    struct CReply **elems; /* ARRAY, `len` elements */
} CReply;

CReply *CReply_String(const char *s, size_t len);
CReply *CReply_Error(const char *msg);
CReply *CReply_Integer(long long v);
CReply *CReply_Null(void);
CReply *CReply_Array(size_t len); /* elements start NULL (sent as null) */
CReply *CReply_FromCall(RedisModuleCallReply *r);
void CReply_Send(RedisModuleCtx *ctx, const CReply *r);
void CReply_Free(CReply *r);
#define OOM_ERROR "OOM command not allowed when used memory > 'maxmemory'."

/* ---- flow_user.c: the ACL user a flow runs as ---- */
typedef struct FlowUser FlowUser;
FlowUser *FlowUser_New(const char *name, size_t len); /* NULL when out of memory */
/* Main thread: the calling client's user (a new reference), or NULL for a
 * module's call (full rights). */
FlowUser *FlowUser_OfCaller(RedisModuleCtx *ctx);
FlowUser *FlowUser_Retain(FlowUser *u);
void FlowUser_Release(FlowUser *u); /* any thread */
const char *FlowUser_Name(const FlowUser *u);
void FlowUser_AclChanged(void); /* an ACL command is about to run, or just ran (Redis lock held) */
/* Redis lock held.  NULL when `u` may run argv (argv[0] the command) or
 * touch the keys (to read, or with `write` to write), else the error. */
const char *FlowUser_DenyCommand(FlowUser *u, RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
const char *FlowUser_DenyKeys(FlowUser *u, RedisModuleCtx *ctx, RedisModuleString **keys, size_t n, int write);
int FlowUser_Exists(FlowUser *u, RedisModuleCtx *ctx); /* Redis lock held */

/* ---- host_api.c: the RG_HostAPI table and the per-thread Redis lock ---- */
void HostAPI_Init(RedisModuleCtx *onload_ctx);
void HostAPI_Release(void); /* a refused load: frees what HostAPI_Init made */
RedisModuleCtx *Host_Lock(void);
void Host_Unlock(void);
/* Marks the calling (main) thread as inside a command with `ctx`, where the
 * Redis lock is already held.  Returns a token for Host_CommandExit. */
typedef struct { int depth; RedisModuleCtx *ctx; } HostCmdScope;
HostCmdScope Host_CommandEnter(RedisModuleCtx *ctx);
void Host_CommandExit(HostCmdScope saved);
void Host_Log(const char *level, const char *msg);
const void *Host_APIAddress(void);

/* ---- pool.c: execution threads waiting in C for jobs ---- */
typedef struct PoolJob {
    struct PoolJob *next;
    void (*run)(struct PoolJob *job); /* runs on a pool thread, owns `job` */
} PoolJob;
int Pool_Start(int nthreads);
int Pool_Submit(PoolJob *job); /* REDISMODULE_ERR once stopped */
void Pool_Stop(void);          /* no join: a runaway flow must not hang SHUTDOWN */

/* ---- loopq.c: jobs for the loop thread, queued without the GIL ---- */
int LoopQ_Start(void);          /* before Python starts: makes the eventfd */
int LoopQ_Fd(void);             /* the eventfd the loop watches */
int LoopQ_Submit(PoolJob *job); /* REDISMODULE_ERR once stopped */
void LoopQ_Drain(void);         /* loop thread, GIL held: runs every queued job */
void LoopQ_Stop(void);

/* ---- mainq.c: jobs for Redis's main thread, from any thread ---- */
int MainQ_Submit(PoolJob *job); /* REDISMODULE_ERR once stopped */
int MainQ_Call(void (*fn)(void *arg), void *arg); /* the same, for a plain C call */
void MainQ_Stop(void);

/* ---- waiter.c: the client waiting for one execution ---- */
typedef struct Waiter Waiter;
Waiter *Waiter_New(RedisModuleBlockedClient *bc); /* bc may be NULL: reply inline */
void Waiter_Retain(Waiter *w);
void Waiter_Release(Waiter *w);
/* Delivers the reply once (takes ownership of r).  REDISMODULE_ERR if the
 * waiter was already completed (r is freed). */
int Waiter_Complete(Waiter *w, CReply *r);
/* Main thread, after an inline run: reply now if done, else block the
 * client (if `may_block`) and reply when the execution ends. */
void Waiter_ReplyOrBlock(RedisModuleCtx *ctx, Waiter *w, int may_block);
RedisModuleBlockedClient *Waiter_Block(RedisModuleCtx *ctx);

/* ---- registry.c: registrations, readable without the GIL ---- */
enum { MODE_ASYNC, MODE_ASYNC_LOCAL, MODE_SYNC };
/* StreamReader registrations are KeysReader ones for `xadd` on streams;
 * the runtime reads the new entries itself. */
enum { READER_COMMAND, READER_KEYS, READER_STREAM };
/* What a hook needs to know of its command (COMMAND INFO): its arity
 * (negative: at least), its key arguments first..last by step (last < 0
 * counts from the end; first 0: none), and whether it writes. */
typedef struct {
    int arity, first_key, last_key, key_step, write;
} HookSpec;

typedef struct Reg {
    char *id, *desc;
    int reader;
    char *trigger;      /* CommandReader: the RG.TRIGGER name (NULL for a hook) */
    char *hook;         /* CommandReader hook: the hooked command, lower case */
    HookSpec spec;      /* hook: what COMMAND INFO says of it */
    char *prefix;       /* KeysReader: a key name, or a prefix ending in '*'; hook: its keyprefix or NULL */
    char **event_types; /* KeysReader: NULL-terminated; NULL for every event */
    unsigned key_types; /* KeysReader: bit (1 << REDISMODULE_KEYTYPE_x); 0 for every type */
    char **commands;    /* KeysReader commands=[...]: NULL-terminated, lower case; NULL for any */
    HookSpec *command_specs; /* what COMMAND INFO says of each of them */
    long long triggered; /* the events or calls that started an execution (under the mutex) */
    int running_sync;   /* KeysReader: a sync execution of it is running on the main thread */
    FlowUser *user;     /* KeysReader: the ACL user its flows act for (who registered it); NULL: full rights */
    int mode;
    int on_loop;        /* the first step is `async def`: start on the loop thread */
    PyObject *handler;  /* the runtime's registration object */
    int refs;           /* under the registry mutex */
} Reg;
int Mode_Parse(const char *s);
const char *Mode_Name(int mode);
/* A new entry, not in the table yet: `name` is the trigger (CommandReader)
 * or the prefix; NULL when out of memory.  `handler` is not referenced yet. */
Reg *Reg_New(int reader, const char *id, const char *name, const char *desc, int mode, int on_loop,
             PyObject *handler);
/* Takes `r` (from Reg_New, filters set) into the table (GIL held: it takes
 * a reference to r->handler).  On failure frees nothing and sets *err. */
int Registry_Add(Reg *r, const char **err);
/* A CommandReader hook on `command` (lower case), for calls with a key
 * starting with `keyprefix` (NULL: every call). */
Reg *Reg_NewHook(const char *id, const char *command, const char *keyprefix, HookSpec spec,
                 const char *desc, int mode, int on_loop, PyObject *handler);
/* Argument `pos` of a command (0: its name). */
typedef const char *(*CommandArgFn)(void *args, int pos, size_t *len);
/* The hook that takes this call of a command (argc arguments, the name
 * included): one whose command it is, with an arity the call fits and, with a
 * keyprefix, a key that starts with it.  A new reference if `ref` (else only
 * non-NULL, not to be used); *write tells rg._hookw from rg._hookr. */
Reg *Registry_FindHook(CommandArgFn arg, void *args, int argc, int ref, int *write);
int Registry_HasHooks(void); /* any hook at all (cheap: every command asks) */
void Reg_Free(Reg *r);                               /* a Reg never added */
Reg *Registry_Find(const char *trigger, size_t len); /* a new reference */
/* The registrations of `reader` (READER_KEYS or READER_STREAM) that take
 * this event (new references, at most `max`); `key_type` is
 * REDISMODULE_KEYTYPE_x, or -1 if not looked up (then registrations that
 * filter on it do not match); `command` is the watched command the event
 * came from (key_commands.c), or NULL: registrations with commands=[...]
 * take only the events of theirs. */
size_t Registry_MatchKeys(int reader, const char *command, const char *key, size_t len, const char *event,
                          int key_type, Reg **out, size_t max);
/* Is this call (argc arguments, the name included) of a command that a
 * KeysReader's commands=[...] watches?  *write tells rg._hookw from rg._hookr. */
int Registry_WatchesCommand(CommandArgFn arg, void *args, int argc, int *write);
int Registry_HasWatchedCommands(void); /* any KeysReader with commands=[...] (cheap) */
int Registry_HasKeys(void);     /* any KeysReader registration at all (cheap) */
int Registry_HasKeyTypes(void); /* any that filters on the key type (cheap) */
void Registry_Release(Reg *reg);                  /* GIL held */
Reg *Registry_Remove(const char *id, size_t len); /* the table's reference */
int Registry_Contains(const char *id);
/* [(handler, numTriggered)...] in the order they were registered (GIL held). */
PyObject *Registry_List(void);

/* ---- script_store.c: the scripts of live registrations, in the RDB ---- */
int ScriptStore_Start(RedisModuleCtx *ctx); /* the aux-data type and the loading hook */
/* `user`: the ACL user who sent it, or NULL (full rights); `reqs`: its
 * requirements with their wheels (Requirements_Restore's form), or empty. */
int ScriptStore_Put(const char *id, const char *desc, const char *code, size_t code_len, const char *dropped,
                    const char *user, const char *reqs, size_t reqs_len);
/* Replaces the readers' state kept with the script of session `id`. */
int ScriptStore_SetState(const char *id, const char *state, size_t len);
void ScriptStore_Drop(const char *id);
/* A command that may change the store: between Begin and Propagate, the
 * sessions it files or drops go to the replicas and the AOF (RG._SCRIPT)
 * when it ends. */
void ScriptStore_BeginChanges(void);
void ScriptStore_PropagateChanges(RedisModuleCtx *ctx);
/* True while a saved script runs again: its top-level writes are not run
 * again (their effects are in the data already); executeCommand skips them. */
extern int ScriptStore_Replaying;

/* ---- key_events.c: keyspace events that start KeysReader executions ---- */
int KeyEvents_Subscribe(RedisModuleCtx *ctx);
/* redisgears._register_keys(id, prefix, mode, handler, desc, on_loop,
 * eventTypes, keyTypes, stream, user[, commands, command_specs]): the lists
 * may be None; `stream` marks a StreamReader registration; `user` the capsule
 * of its ACL user or None.  GIL held. */
PyObject *KeyEvents_Register(PyObject *args);

/* ---- key_commands.c: the commands KeysReader's commands=[...] watches ---- */
/* The watched command running on the main thread: its events may start
 * executions linked to its client, which then waits for them. */
typedef struct KeyCall {
    const char *name; /* lower case */
    int may_block;    /* else (MULTI, Lua) nothing is linked */
    Waiter *waiter;   /* once an execution is linked */
    PyObject *py;     /* the runtime's gears_hooks.KeyCommandCall, once linked */
} KeyCall;
int KeyCommands_Run(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);
/* The watched command in progress on this thread, or NULL; Swap sets it
 * and returns the one before (sync flows run with none). */
KeyCall *KeyCommands_Current(void);
KeyCall *KeyCommands_Swap(KeyCall *call);
/* Links one more execution to the call's client: a new reference to give
 * to it, or NULL when the client can not wait (GIL held). */
PyObject *KeyCommands_Link(KeyCall *call);

/* ---- requirements.c: RG.PYEXECUTE's REQUIREMENTS, RG.PYDUMPREQS, RG.PYEXPORTREQ/IMPORTREQ ---- */
/* Those of argv[first..argc) not met yet are installed off the main thread,
 * the client blocked, then the script runs (Commands_RunScript) for `user`,
 * the caller's ACL user.  Returns 1 when it replied or took the client over
 * (and took `user`), 0 when the script may run now (`user` untouched). */
int Requirements_Prepare(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int first, int force,
                         int may_block, FlowUser *user);
/* A saved session's requirements (serialized with their wheels), installed
 * before its script runs again: a new list of their names (GIL held). */
PyObject *Requirements_Restore(const char *blob, size_t len);
int Requirements_Register(RedisModuleCtx *ctx);

/* ---- pyhost.c: the interpreter and the runtime's entry points ---- */
typedef struct HostConfig {
    const char *python_home, *venv, *runtime_dir, *python_path;
    const char *requirements_dir;   /* where pip installs REQUIREMENTS (NULL: the default) */
    const char *requirements_index; /* a wheel folder or index URL for pip (NULL: PyPI) */
    int threads;
    const char **args; /* the module arguments as given, name value...: the runtime reads them */
    int nargs;
} HostConfig;
extern HostConfig host_config;
void HostConfig_UseInstalledDirs(void); /* install_dirs.c: runtime/ and venv/ beside the module */
int PyHost_Start(const char **err);
extern PyObject *rt_trigger, *rt_pyexecute, *rt_on_key, *rt_requirements, *rt_forget_session,
    *rt_results, *rt_keep_sessions, *rt_key_command_call, *rt_tool; /* runtime functions and objects */
PyObject *PyHost_TakeError(void);         /* the pending exception (cleared), or NULL */
CReply *PyHost_ErrorReply(void);          /* the pending exception's message as an error (cleared) */
void PyHost_LogError(const char *where);     /* logs and clears the Python error */

/* ---- flow_user_py.c: flow users in Python (GIL held) ---- */
int FlowUserPy_Init(PyObject *module); /* adds the context variable `_current_user` */
PyObject *FlowUser_Capsule(FlowUser *u); /* takes u's reference; None for NULL */
FlowUser *FlowUser_FromCapsule(PyObject *cap); /* borrowed; NULL for None */
FlowUser *FlowUser_Current(void); /* the running code's user (a new reference), or NULL */
/* redisgears._flow_user(name), _user_name(capsule), _user_exists(capsule), _current_user_address() */
PyObject *FlowUserPy_New(PyObject *self, PyObject *args);
PyObject *FlowUserPy_Name(PyObject *self, PyObject *cap);
PyObject *FlowUserPy_Exists(PyObject *self, PyObject *cap);
PyObject *FlowUserPy_CurrentAddress(PyObject *self, PyObject *unused);

/* ---- gears_module.c: the built-in module `redisgears` ---- */
PyObject *GearsModule_Init(void); /* PyImport_AppendInittab callback */
PyObject *Waiter_Capsule(Waiter *w); /* a new Python reference owning a waiter ref */
PyObject *GearsModule_ReplyToPy(const CReply *r); /* str (errors too), int, float, list or None */
/* The reply for a Python value as the flows' records convert, except that a
 * GearsError in it is an error element; NULL with the Python error set. */
CReply *GearsModule_ToReply(PyObject *o);

/* ---- commands.c ---- */
int Commands_Register(RedisModuleCtx *ctx);
/* Sends PyHost_ErrorReply(): the Python exception the runtime raised (GIL held). */
void Commands_ReplyWithPyError(RedisModuleCtx *ctx);
/* Runs RG.PYEXECUTE's script (argv as the command had it; its requirements
 * are met) for `user`, the ACL user who sent it (taken; NULL: full rights),
 * and replies on ctx, or through `blocked`, the waiter of a client blocked
 * while they were installed (then ctx is a timer's). */
void Commands_RunScript(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, Waiter *blocked, FlowUser *user);

/* ---- tooling_commands.c: RG.CONFIGGET/SET, RG.PYSTATS, RG.INFOCLUSTER... ---- */
int ToolingCommands_Register(RedisModuleCtx *ctx);
/* Runs `reg`'s flow on the record [record...] as RG.TRIGGER does (taking
 * the reference to reg) and replies, now or when it ends. */
int Commands_RunFlow(RedisModuleCtx *ctx, Reg *reg, RedisModuleString **record, int n);

/* ---- command_hooks.c: commands that CommandReader hooks take over ---- */
int CommandHooks_Start(RedisModuleCtx *ctx);

#endif
