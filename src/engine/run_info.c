/* run_info.c -- see run_info.h. */
#include "model_run.h"
#include "run_info.h"
#include "script_run.h"

void RAI_OnFinishCtxFree(RAI_OnFinishCtx *f) {
    if (!f) return;
    RAI_ModelRunCtxFree(f->mctx);
    RAI_ScriptRunCtxFree(f->sctx);
    RAI_ClearError(&f->err);
    RedisModule_Free(f);
}
