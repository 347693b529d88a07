/* error.h -- the engine's error object: a code plus a message.
 * The first error set wins: later sets on a failed object are ignored, so a
 * deep failure is not overwritten by a generic one on the way up. */
#ifndef ENGINE_ERROR_H
#define ENGINE_ERROR_H

typedef enum RAI_ErrorCode {
    RAI_OK = 0,
    RAI_EMODELIMPORT,
    RAI_EMODELCONFIGURE,
    RAI_EMODELCREATE,
    RAI_EMODELRUN,
    RAI_EMODELSERIALIZE,
    RAI_EMODELFREE,
    RAI_ESCRIPTIMPORT,
    RAI_ESCRIPTCONFIGURE,
    RAI_ESCRIPTCREATE,
    RAI_ESCRIPTRUN,
    RAI_EUNSUPPORTEDBACKEND,
    RAI_EBACKENDNOTLOADED,
    RAI_ESCRIPTFREE,
    RAI_ETENSORSET,
    RAI_ETENSORGET,
    RAI_EDAGBUILDER,
    RAI_EDAGRUN,
    RAI_EFINISHCTX,
    RAI_EKEYEMPTY, /* internal only: not in the public enum */
} RAI_ErrorCode;

typedef struct RAI_Error {
    RAI_ErrorCode code;
    char *detail;         /* full message */
    char *detail_oneline; /* the same with CR/LF turned into spaces */
} RAI_Error;

void RAI_SetError(RAI_Error *err, RAI_ErrorCode code, const char *detail);
void RAI_SetErrorFormat(RAI_Error *err, RAI_ErrorCode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int RAI_InitError(RAI_Error **err);
void RAI_ClearError(RAI_Error *err);
void RAI_FreeError(RAI_Error *err);
const char *RAI_GetError(RAI_Error *err);
const char *RAI_GetErrorOneLine(RAI_Error *err);
RAI_ErrorCode RAI_GetErrorCode(RAI_Error *err);
void RAI_CloneError(RAI_Error *dest, const RAI_Error *src);

#endif
