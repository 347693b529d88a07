/* rm_api.h -- the project's own declarations of the Redis module API.
 *
 * No registry ships redismodule.h, and the project commits no third-party
 * source, so every module here (engine, Python host, test modules) declares
 * the entries it uses in this one list.  The constants and struct layouts
 * below are the ABI of Redis 6.2 / 7.x; each was checked against the public
 * header of that version.  Entries are resolved by name at load time through
 * the GetApi pointer that the server stores in the first word of the OnLoad
 * context.  An entry the running server lacks stays NULL: callers that use
 * an optional entry must check it first. */
#ifndef RM_API_H
#define RM_API_H

#include <stddef.h>
#include <stdint.h>

#define REDISMODULE_OK 0
#define REDISMODULE_ERR 1
#define REDISMODULE_APIVER_1 1

#define REDISMODULE_READ (1 << 0)
#define REDISMODULE_WRITE (1 << 1)

#define REDISMODULE_KEYTYPE_EMPTY 0
#define REDISMODULE_KEYTYPE_STRING 1
#define REDISMODULE_KEYTYPE_LIST 2
#define REDISMODULE_KEYTYPE_HASH 3
#define REDISMODULE_KEYTYPE_SET 4
#define REDISMODULE_KEYTYPE_ZSET 5
#define REDISMODULE_KEYTYPE_MODULE 6
#define REDISMODULE_KEYTYPE_STREAM 7

#define REDISMODULE_REPLY_UNKNOWN -1
#define REDISMODULE_REPLY_STRING 0
#define REDISMODULE_REPLY_ERROR 1
#define REDISMODULE_REPLY_INTEGER 2
#define REDISMODULE_REPLY_ARRAY 3
#define REDISMODULE_REPLY_NULL 4
#define REDISMODULE_REPLY_MAP 5
#define REDISMODULE_REPLY_SET 6
#define REDISMODULE_REPLY_BOOL 7
#define REDISMODULE_REPLY_DOUBLE 8
#define REDISMODULE_REPLY_BIG_NUMBER 9
#define REDISMODULE_REPLY_VERBATIM_STRING 10

#define REDISMODULE_POSTPONED_LEN -1

#define REDISMODULE_OPTIONS_HANDLE_IO_ERRORS (1 << 0)

#define REDISMODULE_CTX_FLAGS_LUA (1 << 0)
#define REDISMODULE_CTX_FLAGS_MULTI (1 << 1)
#define REDISMODULE_CTX_FLAGS_MASTER (1 << 2)
#define REDISMODULE_CTX_FLAGS_SLAVE (1 << 3)
#define REDISMODULE_CTX_FLAGS_READONLY (1 << 4)
#define REDISMODULE_CTX_FLAGS_CLUSTER (1 << 5)
#define REDISMODULE_CTX_FLAGS_OOM (1 << 10)       /* over maxmemory */
#define REDISMODULE_CTX_FLAGS_REPLICATED (1 << 12) /* the command came over the replication link */
#define REDISMODULE_CTX_FLAGS_LOADING (1 << 13)
#define REDISMODULE_CTX_FLAGS_DENY_BLOCKING (1 << 21)

#define REDISMODULE_NOTIFY_GENERIC (1 << 2)
#define REDISMODULE_NOTIFY_STRING (1 << 3)
#define REDISMODULE_NOTIFY_LIST (1 << 4)
#define REDISMODULE_NOTIFY_SET (1 << 5)
#define REDISMODULE_NOTIFY_HASH (1 << 6)
#define REDISMODULE_NOTIFY_ZSET (1 << 7)
#define REDISMODULE_NOTIFY_EXPIRED (1 << 8)
#define REDISMODULE_NOTIFY_EVICTED (1 << 9)
#define REDISMODULE_NOTIFY_STREAM (1 << 10)
#define REDISMODULE_NOTIFY_KEY_MISS (1 << 11) /* not in ALL: subscribed by name */
#define REDISMODULE_NOTIFY_MODULE (1 << 13)
/* Every class but key misses (and, in 7.x, "new"), as redismodule.h has it. */
#define REDISMODULE_NOTIFY_ALL                                                             \
    (REDISMODULE_NOTIFY_GENERIC | REDISMODULE_NOTIFY_STRING | REDISMODULE_NOTIFY_LIST |    \
     REDISMODULE_NOTIFY_SET | REDISMODULE_NOTIFY_HASH | REDISMODULE_NOTIFY_ZSET |          \
     REDISMODULE_NOTIFY_EXPIRED | REDISMODULE_NOTIFY_EVICTED | REDISMODULE_NOTIFY_STREAM | \
     REDISMODULE_NOTIFY_MODULE)

#define REDISMODULE_EVENT_LOADING 3
#define REDISMODULE_SUBEVENT_LOADING_ENDED 3
#define REDISMODULE_EVENT_SHUTDOWN 5
#define REDISMODULE_EVENT_CRON_LOOP 8
#define REDISMODULE_EVENT_EVENTLOOP 15 /* Redis >= 7.0 */
#define REDISMODULE_SUBEVENT_EVENTLOOP_BEFORE_SLEEP 0
#define REDISMODULE_SUBEVENT_EVENTLOOP_AFTER_SLEEP 1
#define REDISMODULE_EVENT_CONFIG 16 /* Redis >= 7.0 */

/* Key permissions for RedisModule_ACLCheckKeyPermissions (Redis >= 7.0). */
#define REDISMODULE_CMD_KEY_ACCESS (1 << 4)
#define REDISMODULE_CMD_KEY_UPDATE (1 << 5)
/* Reasons of RedisModule_ACLAddLogEntry (an enum in redismodule.h). */
#define REDISMODULE_ACL_LOG_CMD 1
#define REDISMODULE_ACL_LOG_KEY 2

#define REDISMODULE_ERRORMSG_WRONGTYPE \
    "WRONGTYPE Operation against a key holding the wrong kind of value"

/* Version 3 of the type-methods struct (Redis >= 6.2): adds copy/defrag. */
#define REDISMODULE_TYPE_METHOD_VERSION 3
#define REDISMODULE_AUX_BEFORE_RDB (1 << 0)
#define REDISMODULE_AUX_AFTER_RDB (1 << 1)

typedef struct RedisModuleCtx RedisModuleCtx;
typedef struct RedisModuleKey RedisModuleKey;
typedef struct RedisModuleString RedisModuleString;
typedef struct RedisModuleCallReply RedisModuleCallReply;
typedef struct RedisModuleIO RedisModuleIO;
typedef struct RedisModuleType RedisModuleType;
typedef struct RedisModuleDigest RedisModuleDigest;
typedef struct RedisModuleBlockedClient RedisModuleBlockedClient;
typedef struct RedisModuleInfoCtx RedisModuleInfoCtx;
typedef struct RedisModuleDefragCtx RedisModuleDefragCtx;
typedef struct RedisModuleCommand RedisModuleCommand;

typedef struct RedisModuleEvent {
    uint64_t id;
    uint64_t dataver;
} RedisModuleEvent;

typedef int (*RedisModuleCmdFunc)(RedisModuleCtx *ctx, RedisModuleString **argv, int argc);

/* Command filters (Redis >= 5.0): NOSELF skips the commands the module
 * itself runs with RedisModule_Call. */
#define REDISMODULE_CMDFILTER_NOSELF (1 << 0)
typedef struct RedisModuleCommandFilter RedisModuleCommandFilter;
typedef struct RedisModuleUser RedisModuleUser;
typedef struct RedisModuleCommandFilterCtx RedisModuleCommandFilterCtx;
typedef void (*RedisModuleCommandFilterFunc)(RedisModuleCommandFilterCtx *filter);
typedef void *(*RedisModuleTypeLoadFunc)(RedisModuleIO *rdb, int encver);
typedef void (*RedisModuleTypeSaveFunc)(RedisModuleIO *rdb, void *value);
typedef int (*RedisModuleTypeAuxLoadFunc)(RedisModuleIO *rdb, int encver, int when);
typedef void (*RedisModuleTypeAuxSaveFunc)(RedisModuleIO *rdb, int when);
typedef void (*RedisModuleTypeRewriteFunc)(RedisModuleIO *aof, RedisModuleString *key, void *value);
typedef size_t (*RedisModuleTypeMemUsageFunc)(const void *value);
typedef void (*RedisModuleTypeDigestFunc)(RedisModuleDigest *digest, void *value);
typedef void (*RedisModuleTypeFreeFunc)(void *value);
typedef size_t (*RedisModuleTypeFreeEffortFunc)(RedisModuleString *key, const void *value);
typedef void (*RedisModuleTypeUnlinkFunc)(RedisModuleString *key, const void *value);
typedef void *(*RedisModuleTypeCopyFunc)(RedisModuleString *fromkey, RedisModuleString *tokey,
                                         const void *value);
typedef int (*RedisModuleTypeDefragFunc)(RedisModuleDefragCtx *ctx, RedisModuleString *key,
                                         void **value);
typedef void (*RedisModuleInfoFunc)(RedisModuleInfoCtx *ctx, int for_crash_report);
typedef void (*RedisModuleEventCallback)(RedisModuleCtx *ctx, RedisModuleEvent eid,
                                         uint64_t subevent, void *data);
typedef void (*RedisModuleFreePrivDataFunc)(RedisModuleCtx *ctx, void *privdata);
typedef void (*RedisModuleEventLoopOneShotFunc)(void *user_data);
typedef uint64_t RedisModuleTimerID;
typedef void (*RedisModuleTimerProc)(RedisModuleCtx *ctx, void *data);
typedef int (*RedisModuleNotificationFunc)(RedisModuleCtx *ctx, int type, const char *event,
                                           RedisModuleString *key);

typedef struct RedisModuleTypeMethods {
    uint64_t version;
    RedisModuleTypeLoadFunc rdb_load;
    RedisModuleTypeSaveFunc rdb_save;
    RedisModuleTypeRewriteFunc aof_rewrite;
    RedisModuleTypeMemUsageFunc mem_usage;
    RedisModuleTypeDigestFunc digest;
    RedisModuleTypeFreeFunc free;
    RedisModuleTypeAuxLoadFunc aux_load;
    RedisModuleTypeAuxSaveFunc aux_save;
    int aux_save_triggers;
    RedisModuleTypeFreeEffortFunc free_effort;
    RedisModuleTypeUnlinkFunc unlink;
    RedisModuleTypeCopyFunc copy;
    RedisModuleTypeDefragFunc defrag;
} RedisModuleTypeMethods;

/* X(return type, name without the RedisModule_ prefix, parameter list) */
#define RM_API_LIST(X)                                                                          \
    X(void *, Alloc, (size_t bytes))                                                            \
    X(void *, Calloc, (size_t nmemb, size_t size))                                              \
    X(void *, Realloc, (void *ptr, size_t bytes))                                               \
    X(void, Free, (void *ptr))                                                                  \
    X(char *, Strdup, (const char *str))                                                        \
    X(size_t, MallocSize, (void *ptr))                                                          \
    X(int, IsModuleNameBusy, (const char *name))                                                \
    X(int, SetModuleAttribs, (RedisModuleCtx * ctx, const char *name, int ver, int apiver))     \
    X(int, CreateCommand, (RedisModuleCtx * ctx, const char *name, RedisModuleCmdFunc fn,       \
                           const char *flags, int firstkey, int lastkey, int keystep))          \
    X(int, WrongArity, (RedisModuleCtx * ctx))                                                  \
    X(int, ReplyWithLongLong, (RedisModuleCtx * ctx, long long ll))                             \
    X(int, ReplyWithError, (RedisModuleCtx * ctx, const char *err))                             \
    X(int, ReplyWithSimpleString, (RedisModuleCtx * ctx, const char *msg))                      \
    X(int, ReplyWithArray, (RedisModuleCtx * ctx, long len))                                    \
    X(void, ReplySetArrayLength, (RedisModuleCtx * ctx, long len))                              \
    X(int, ReplyWithStringBuffer, (RedisModuleCtx * ctx, const char *buf, size_t len))          \
    X(int, ReplyWithCString, (RedisModuleCtx * ctx, const char *buf))                           \
    X(int, ReplyWithString, (RedisModuleCtx * ctx, RedisModuleString * str))                    \
    X(int, ReplyWithNull, (RedisModuleCtx * ctx))                                               \
    X(int, ReplyWithDouble, (RedisModuleCtx * ctx, double d))                                   \
    X(int, ReplyWithCallReply, (RedisModuleCtx * ctx, RedisModuleCallReply * reply))            \
    X(void *, OpenKey, (RedisModuleCtx * ctx, RedisModuleString * keyname, int mode))           \
    X(void, CloseKey, (RedisModuleKey * kp))                                                    \
    X(int, KeyType, (RedisModuleKey * kp))                                                      \
    X(int, DeleteKey, (RedisModuleKey * kp))                                                    \
    X(int, ModuleTypeSetValue, (RedisModuleKey * key, RedisModuleType * mt, void *value))       \
    X(RedisModuleType *, ModuleTypeGetType, (RedisModuleKey * key))                             \
    X(void *, ModuleTypeGetValue, (RedisModuleKey * key))                                       \
    X(RedisModuleType *, CreateDataType, (RedisModuleCtx * ctx, const char *name, int encver,   \
                                          RedisModuleTypeMethods *typemethods))                 \
    X(void, SaveUnsigned, (RedisModuleIO * io, uint64_t value))                                 \
    X(uint64_t, LoadUnsigned, (RedisModuleIO * io))                                             \
    X(void, SaveSigned, (RedisModuleIO * io, int64_t value))                                    \
    X(int64_t, LoadSigned, (RedisModuleIO * io))                                                \
    X(void, SaveString, (RedisModuleIO * io, RedisModuleString * s))                            \
    X(RedisModuleString *, LoadString, (RedisModuleIO * io))                                    \
    X(void, SaveStringBuffer, (RedisModuleIO * io, const char *str, size_t len))                \
    X(char *, LoadStringBuffer, (RedisModuleIO * io, size_t * lenptr))                          \
    X(int, IsIOError, (RedisModuleIO * io))                                                     \
    X(void, SetModuleOptions, (RedisModuleCtx * ctx, int options))                              \
    X(void, EmitAOF, (RedisModuleIO * io, const char *cmdname, const char *fmt, ...))           \
    X(void, Log, (RedisModuleCtx * ctx, const char *level, const char *fmt, ...))               \
    X(void, LogIOError, (RedisModuleIO * io, const char *levelstr, const char *fmt, ...))       \
    X(RedisModuleString *, CreateString, (RedisModuleCtx * ctx, const char *ptr, size_t len))   \
    X(RedisModuleString *, CreateStringPrintf, (RedisModuleCtx * ctx, const char *fmt, ...))    \
    X(RedisModuleString *, CreateStringFromLongLong, (RedisModuleCtx * ctx, long long ll))      \
    X(void, FreeString, (RedisModuleCtx * ctx, RedisModuleString * str))                        \
    X(void, RetainString, (RedisModuleCtx * ctx, RedisModuleString * str))                      \
    X(void, TrimStringAllocation, (RedisModuleString * str))                                    \
    X(RedisModuleString *, HoldString, (RedisModuleCtx * ctx, RedisModuleString * str))         \
    X(const char *, StringPtrLen, (const RedisModuleString *str, size_t *len))                  \
    X(int, StringToLongLong, (const RedisModuleString *str, long long *ll))                     \
    X(int, StringToDouble, (const RedisModuleString *str, double *d))                           \
    X(int, StringCompare, (RedisModuleString * a, RedisModuleString * b))                       \
    X(int, Replicate, (RedisModuleCtx * ctx, const char *cmdname, const char *fmt, ...))        \
    X(int, ReplicateVerbatim, (RedisModuleCtx * ctx))                                           \
    X(int, NotifyKeyspaceEvent, (RedisModuleCtx * ctx, int type, const char *event,             \
                                 RedisModuleString *key))                                       \
    X(int, GetContextFlags, (RedisModuleCtx * ctx))                                             \
    X(int, GetSelectedDb, (RedisModuleCtx * ctx))                                               \
    X(int, SelectDb, (RedisModuleCtx * ctx, int newid))                                         \
    X(int, IsKeysPositionRequest, (RedisModuleCtx * ctx))                                       \
    X(void, KeyAtPos, (RedisModuleCtx * ctx, int pos))                                          \
    X(int, ExportSharedAPI, (RedisModuleCtx * ctx, const char *apiname, void *func))            \
    X(void *, GetSharedAPI, (RedisModuleCtx * ctx, const char *apiname))                        \
    X(int, RegisterInfoFunc, (RedisModuleCtx * ctx, RedisModuleInfoFunc cb))                    \
    X(int, InfoAddSection, (RedisModuleInfoCtx * ctx, const char *name))                        \
    X(int, InfoAddFieldCString, (RedisModuleInfoCtx * ctx, const char *field,                   \
                                 const char *value))                                            \
    X(int, InfoAddFieldLongLong, (RedisModuleInfoCtx * ctx, const char *field, long long v))    \
    X(int, InfoAddFieldULongLong, (RedisModuleInfoCtx * ctx, const char *field,                 \
                                   unsigned long long v))                                       \
    X(int, InfoAddFieldDouble, (RedisModuleInfoCtx * ctx, const char *field, double v))         \
    X(RedisModuleBlockedClient *, BlockClient,                                                  \
      (RedisModuleCtx * ctx, RedisModuleCmdFunc reply_callback,                                 \
       RedisModuleCmdFunc timeout_callback, RedisModuleFreePrivDataFunc free_privdata,          \
       long long timeout_ms))                                                                   \
    X(int, UnblockClient, (RedisModuleBlockedClient * bc, void *privdata))                      \
    X(int, AbortBlock, (RedisModuleBlockedClient * bc))                                         \
    X(int, BlockedClientMeasureTimeStart, (RedisModuleBlockedClient * bc)) /* Redis >= 6.2 */   \
    X(int, BlockedClientMeasureTimeEnd, (RedisModuleBlockedClient * bc)) /* Redis >= 6.2 */     \
    X(int, GetServerVersion, (void)) /* Redis >= 6.0.9 */                                       \
    X(void *, GetBlockedClientPrivateData, (RedisModuleCtx * ctx))                              \
    X(RedisModuleCtx *, GetThreadSafeContext, (RedisModuleBlockedClient * bc))                  \
    X(RedisModuleCtx *, GetDetachedThreadSafeContext, (RedisModuleCtx * ctx))                   \
    X(void, FreeThreadSafeContext, (RedisModuleCtx * ctx))                                      \
    X(void, ThreadSafeContextLock, (RedisModuleCtx * ctx))                                      \
    X(int, ThreadSafeContextTryLock, (RedisModuleCtx * ctx))                                    \
    X(void, ThreadSafeContextUnlock, (RedisModuleCtx * ctx))                                    \
    X(int, SubscribeToKeyspaceEvents, (RedisModuleCtx * ctx, int types,                        \
                                       RedisModuleNotificationFunc callback))                   \
    X(int, SubscribeToServerEvent, (RedisModuleCtx * ctx, RedisModuleEvent event,               \
                                    RedisModuleEventCallback callback))                         \
    X(int, EventLoopAddOneShot, (RedisModuleEventLoopOneShotFunc func, void *user_data))        \
    X(RedisModuleCallReply *, Call, (RedisModuleCtx * ctx, const char *cmdname,                 \
                                     const char *fmt, ...))                                     \
    X(void, FreeCallReply, (RedisModuleCallReply * reply))                                      \
    X(int, CallReplyType, (RedisModuleCallReply * reply))                                       \
    X(long long, CallReplyInteger, (RedisModuleCallReply * reply))                              \
    X(double, CallReplyDouble, (RedisModuleCallReply * reply))                                  \
    X(size_t, CallReplyLength, (RedisModuleCallReply * reply))                                  \
    X(RedisModuleCallReply *, CallReplyArrayElement, (RedisModuleCallReply * reply, size_t i))  \
    X(const char *, CallReplyStringPtr, (RedisModuleCallReply * reply, size_t * len))           \
    X(long long, Milliseconds, (void))                                                          \
    X(float, GetUsedMemoryRatio, (void))                                                        \
    X(RedisModuleTimerID, CreateTimer, (RedisModuleCtx * ctx, long long period_ms,             \
                                        RedisModuleTimerProc callback, void *data))             \
    X(const RedisModuleString *, GetKeyNameFromIO, (RedisModuleIO * io))                      \
    X(RedisModuleCommandFilter *, RegisterCommandFilter,                                      \
      (RedisModuleCtx * ctx, RedisModuleCommandFilterFunc cb, int flags))                     \
    X(int, CommandFilterArgsCount, (RedisModuleCommandFilterCtx * fctx))                      \
    X(const RedisModuleString *, CommandFilterArgGet, (RedisModuleCommandFilterCtx * fctx, int pos)) \
    X(int, CommandFilterArgInsert, (RedisModuleCommandFilterCtx * fctx, int pos,              \
                                    RedisModuleString * arg))                                 \
    X(RedisModuleString *, GetCurrentUserName, (RedisModuleCtx * ctx)) /* Redis >= 7.0 */      \
    X(unsigned long long, GetClientId, (RedisModuleCtx * ctx))                                \
    X(RedisModuleString *, GetClientUserNameById, (RedisModuleCtx * ctx, uint64_t id))        \
    X(RedisModuleUser *, GetModuleUserFromUserName, (RedisModuleString * name))               \
    X(int, ACLCheckCommandPermissions, (RedisModuleUser * user, RedisModuleString * *argv, int argc)) \
    X(int, FreeModuleUser, (RedisModuleUser * user))                                           \
    X(int, ACLCheckKeyPermissions, (RedisModuleUser * user, RedisModuleString * key, int flags)) \
    X(int, ACLAddLogEntry, (RedisModuleCtx * ctx, RedisModuleUser * user,                     \
                            RedisModuleString * object, int reason))                          \
    X(int *, GetCommandKeys, (RedisModuleCtx * ctx, RedisModuleString * *argv, int argc,        \
                              int *num_keys))                                                 \
    X(RedisModuleCommand *, GetCommand, (RedisModuleCtx * ctx, const char *name))             \
    X(int, SetCommandACLCategories, (RedisModuleCommand * command, const char *categories)) /* Redis >= 7.2 */

#define RM_DECLARE_ENTRY(ret, name, params) extern ret(*RedisModule_##name) params;
RM_API_LIST(RM_DECLARE_ENTRY)
#undef RM_DECLARE_ENTRY

/* Resolves every entry of RM_API_LIST and registers the module.  Returns
 * REDISMODULE_ERR when the name is taken or a mandatory entry is missing. */
int RMAPI_Init(RedisModuleCtx *ctx, const char *name, int ver, int apiver);

/* Both modules need Redis 7.0 or newer: on 6.2 they loaded, and TorchScript's
 * redis.execute then failed with 'Bad file descriptor'.  `version` is
 * RedisModule_GetServerVersion's 0x00MMmmpp. */
#define RMAPI_MIN_SERVER_VERSION 0x00070000
int RMAPI_ServerVersionSupported(int version);
/* REDISMODULE_OK on a supported server; otherwise logs why `module` does not
 * load (also when the server is too old to tell its version, < 6.0.9). */
int RMAPI_CheckServerVersion(RedisModuleCtx *ctx, const char *module);

/* Server events this project subscribes to. */
static const RedisModuleEvent RedisModuleEvent_Loading = {REDISMODULE_EVENT_LOADING, 1};
static const RedisModuleEvent RedisModuleEvent_Shutdown = {REDISMODULE_EVENT_SHUTDOWN, 1};
static const RedisModuleEvent RedisModuleEvent_CronLoop = {REDISMODULE_EVENT_CRON_LOOP, 1};
static const RedisModuleEvent RedisModuleEvent_EventLoop = {REDISMODULE_EVENT_EVENTLOOP, 1};
static const RedisModuleEvent RedisModuleEvent_Config = {REDISMODULE_EVENT_CONFIG, 1};

#define RM_EXPORT __attribute__((visibility("default")))

#endif
