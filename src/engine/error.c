/* error.c -- see error.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../common/rm_api.h"
#include "error.h"

void RAI_SetError(RAI_Error *err, RAI_ErrorCode code, const char *detail) {
    if (!err || err->code != RAI_OK) return;
    if (!detail) detail = "ERR Generic error";
    char *full = RedisModule_Strdup(detail);
    char *oneline = RedisModule_Strdup(detail);
    for (char *p = oneline; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    err->code = code;
    err->detail = full;
    err->detail_oneline = oneline;
}

void RAI_SetErrorFormat(RAI_Error *err, RAI_ErrorCode code, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    RAI_SetError(err, code, buf);
}

int RAI_InitError(RAI_Error **err) {
    *err = RedisModule_Calloc(1, sizeof(RAI_Error));
    return REDISMODULE_OK;
}

void RAI_ClearError(RAI_Error *err) {
    if (!err) return;
    RedisModule_Free(err->detail);
    RedisModule_Free(err->detail_oneline);
    err->detail = err->detail_oneline = NULL;
    err->code = RAI_OK;
}

void RAI_FreeError(RAI_Error *err) {
    if (!err) return;
    RAI_ClearError(err);
    RedisModule_Free(err);
}

const char *RAI_GetError(RAI_Error *err) { return err ? err->detail : NULL; }
const char *RAI_GetErrorOneLine(RAI_Error *err) { return err ? err->detail_oneline : NULL; }
RAI_ErrorCode RAI_GetErrorCode(RAI_Error *err) { return err ? err->code : RAI_OK; }

/* The original asserts that dest is empty; we clear it instead of crashing. */
void RAI_CloneError(RAI_Error *dest, const RAI_Error *src) {
    if (!dest || !src) return;
    RAI_ClearError(dest);
    if (src->code != RAI_OK) RAI_SetError(dest, src->code, src->detail);
}
