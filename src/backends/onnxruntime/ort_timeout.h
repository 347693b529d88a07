/* ort_timeout.h -- MODEL_EXECUTION_TIMEOUT for ONNX runs.  Every run
 * registers its OrtRunOptions; a watchdog thread sets the terminate flag of
 * runs older than the timeout, and ORT stops before its next node. */
#ifndef ORT_TIMEOUT_H
#define ORT_TIMEOUT_H

#include "ort_api.h"

typedef struct OrtRunSlot {
    OrtRunOptions *options;
    double start_ms;
    struct OrtRunSlot *prev, *next;
} OrtRunSlot;

/* Starts the watchdog (once) when timeout_ms > 0.  Returns 0, or -1 with err. */
int ort_timeout_init(const OrtFns *fns, long long timeout_ms, char *err);
/* Registers a run (slot on the caller's stack; options already created). */
void ort_timeout_begin(OrtRunSlot *slot);
void ort_timeout_end(OrtRunSlot *slot);

#endif
