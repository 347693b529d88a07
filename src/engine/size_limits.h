/* size_limits.h -- how large a tensor, model or script one command may
 * make: no larger than the server's proto-max-bulk-len (what one bulk
 * string may hold), and not so large that it would take the server past
 * maxmemory.  Checked before anything is allocated. */
#ifndef ENGINE_SIZE_LIMITS_H
#define ENGINE_SIZE_LIMITS_H

#include <stddef.h>

#include "../common/rm_api.h"
#include "error.h"

/* At load, on the main thread: reads both settings, and reads them again
 * whenever CONFIG SET changes a setting. */
void RAI_SizeLimitsInit(RedisModuleCtx *ctx);

/* 1 if `nbytes` of new data for a `what` ("tensor", "model", "script") fit
 * both limits; otherwise 0 and an error of kind `code` in `err`.  Any
 * thread. */
int RAI_SizeAllowed(const char *what, size_t nbytes, RAI_ErrorCode code, RAI_Error *err);

#endif
