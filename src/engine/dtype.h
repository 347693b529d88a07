/* dtype.h -- tensor element types.
 * A dtype is the DLPack-style pair (code, bits) that RedisAI persists in RDB.
 * The codes are RedisAI's own table, not whatever dlpack.h says today:
 * BOOL = 6 and STRING = 7 (current DLPack uses 7 for a float8 type). */
#ifndef ENGINE_DTYPE_H
#define ENGINE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

enum { RAI_CODE_INT = 0, RAI_CODE_UINT = 1, RAI_CODE_FLOAT = 2, RAI_CODE_BOOL = 6, RAI_CODE_STRING = 7 };

typedef struct RAI_DType {
    uint8_t code;
    uint8_t bits;
} RAI_DType;

typedef enum {
    RAI_DT_FLOAT, RAI_DT_DOUBLE, RAI_DT_INT8, RAI_DT_INT16, RAI_DT_INT32, RAI_DT_INT64,
    RAI_DT_UINT8, RAI_DT_UINT16, RAI_DT_BOOL, RAI_DT_STRING, RAI_DT_INVALID
} RAI_DTypeId;

/* Parses "FLOAT", "int32", ... (case-insensitive).  RAI_DT_INVALID if unknown. */
RAI_DTypeId RAI_DTypeFromString(const char *s, size_t len);
/* From a persisted (code, bits) pair; RAI_DT_INVALID if not one of the ten. */
RAI_DTypeId RAI_DTypeFromCodeBits(unsigned code, unsigned bits);
RAI_DType RAI_DTypeOf(RAI_DTypeId id);
const char *RAI_DTypeName(RAI_DTypeId id);
/* Bytes per element (1 for BOOL and STRING). */
size_t RAI_DTypeSize(RAI_DTypeId id);
int RAI_DTypeIsInteger(RAI_DTypeId id); /* INT*, UINT*; not BOOL */
int RAI_DTypeIsFloat(RAI_DTypeId id);
/* Range of an integer dtype, for value checks. */
void RAI_DTypeIntRange(RAI_DTypeId id, long long *min, long long *max);

#endif
