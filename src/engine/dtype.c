/* dtype.c -- see dtype.h. */
#include <limits.h>
#include <strings.h>

#include "dtype.h"

static const struct {
    const char *name;
    RAI_DType dt;
} dtypes[] = {
    [RAI_DT_FLOAT] = {"FLOAT", {RAI_CODE_FLOAT, 32}},   [RAI_DT_DOUBLE] = {"DOUBLE", {RAI_CODE_FLOAT, 64}},
    [RAI_DT_INT8] = {"INT8", {RAI_CODE_INT, 8}},        [RAI_DT_INT16] = {"INT16", {RAI_CODE_INT, 16}},
    [RAI_DT_INT32] = {"INT32", {RAI_CODE_INT, 32}},     [RAI_DT_INT64] = {"INT64", {RAI_CODE_INT, 64}},
    [RAI_DT_UINT8] = {"UINT8", {RAI_CODE_UINT, 8}},     [RAI_DT_UINT16] = {"UINT16", {RAI_CODE_UINT, 16}},
    [RAI_DT_BOOL] = {"BOOL", {RAI_CODE_BOOL, 8}},       [RAI_DT_STRING] = {"STRING", {RAI_CODE_STRING, 8}},
};

RAI_DTypeId RAI_DTypeFromString(const char *s, size_t len) {
    for (int i = 0; i < RAI_DT_INVALID; i++) {
        size_t n = 0;
        while (dtypes[i].name[n]) n++;
        if (n == len && strncasecmp(s, dtypes[i].name, len) == 0) return (RAI_DTypeId)i;
    }
    return RAI_DT_INVALID;
}

RAI_DTypeId RAI_DTypeFromCodeBits(unsigned code, unsigned bits) {
    for (int i = 0; i < RAI_DT_INVALID; i++)
        if (dtypes[i].dt.code == code && dtypes[i].dt.bits == bits) return (RAI_DTypeId)i;
    return RAI_DT_INVALID;
}

RAI_DType RAI_DTypeOf(RAI_DTypeId id) { return dtypes[id].dt; }
const char *RAI_DTypeName(RAI_DTypeId id) { return id < RAI_DT_INVALID ? dtypes[id].name : "INVALID"; }
size_t RAI_DTypeSize(RAI_DTypeId id) { return dtypes[id].dt.bits / 8; }
int RAI_DTypeIsInteger(RAI_DTypeId id) { return id >= RAI_DT_INT8 && id <= RAI_DT_UINT16; }
int RAI_DTypeIsFloat(RAI_DTypeId id) { return id == RAI_DT_FLOAT || id == RAI_DT_DOUBLE; }

void RAI_DTypeIntRange(RAI_DTypeId id, long long *min, long long *max) {
    switch (id) {
    case RAI_DT_INT8: *min = SCHAR_MIN; *max = SCHAR_MAX; break;
    case RAI_DT_INT16: *min = SHRT_MIN; *max = SHRT_MAX; break;
    case RAI_DT_INT32: *min = INT_MIN; *max = INT_MAX; break;
    case RAI_DT_UINT8: *min = 0; *max = UCHAR_MAX; break;
    case RAI_DT_UINT16: *min = 0; *max = USHRT_MAX; break;
    case RAI_DT_BOOL: *min = 0; *max = 1; break;
    default: *min = LLONG_MIN; *max = LLONG_MAX; break;
    }
}
