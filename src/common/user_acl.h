/* user_acl.h -- checks a call a module makes for a client (a script's
 * redis.execute...) against that client's ACL user, as Redis checks the
 * commands a Lua script calls. */
#ifndef COMMON_USER_ACL_H
#define COMMON_USER_ACL_H

#include <stddef.h>

#include "rm_api.h"

/* The ACL user name of the client whose command runs in `ctx` (a string
 * to free), or NULL for a call with no client user: the replication link,
 * the AOF, Lua, another module's RedisModule_Call.  (Redis 7.0's
 * RedisModule_GetCurrentUserName crashes on those.) */
RedisModuleString *RMACL_CallerUserName(RedisModuleCtx *ctx);

/* 1 if the ACL user named `user_name` may run argv[0..argc) (its command
 * and keys).  Otherwise 0, Redis's NOPERM text in `err`, and an entry in
 * ACL LOG.  A call refused for its command and for a key gets the key's
 * text.  An unknown command passes (running it gives Redis's error).  Call
 * with the Redis lock held. */
int RMACL_UserMayRun(RedisModuleCtx *ctx, RedisModuleString *user_name, RedisModuleString **argv, int argc,
                     char *err, size_t errlen);

#endif
