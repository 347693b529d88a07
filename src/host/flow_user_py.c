/* flow_user_py.c -- the Python side of flow users (flow_user.c): the
 * context variable that says whom the running code acts for, the capsules
 * that carry a FlowUser in it, and the redisgears functions on them. */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for the "z#" format */
#include <Python.h>

#include "host.h"

#define USER_CAPSULE "rg.user"

/* Context variable `_current_user`: the capsule of the FlowUser the code
 * running now acts for, or None (full rights: a saved script run again, the
 * runtime's own calls).  The runtime sets it per execution, and asyncio
 * copies it into each coroutine's task. */
static PyObject *current_user_var;

static void user_capsule_free(PyObject *cap) { FlowUser_Release(PyCapsule_GetPointer(cap, USER_CAPSULE)); }

/* A new reference owning a FlowUser reference (taken), or None for NULL. */
PyObject *FlowUser_Capsule(FlowUser *u) {
    if (!u) Py_RETURN_NONE;
    PyObject *cap = PyCapsule_New(u, USER_CAPSULE, user_capsule_free);
    if (!cap) FlowUser_Release(u);
    return cap;
}

/* The FlowUser of a capsule (borrowed), NULL for None or anything else. */
FlowUser *FlowUser_FromCapsule(PyObject *cap) {
    return PyCapsule_IsValid(cap, USER_CAPSULE) ? PyCapsule_GetPointer(cap, USER_CAPSULE) : NULL;
}

/* The current value of `_current_user` (a new reference, maybe None). */
static PyObject *current_user_ref(void) {
    PyObject *v = NULL;
    if (PyContextVar_Get(current_user_var, Py_None, &v) < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return v;
}

FlowUser *FlowUser_Current(void) {
    PyObject *cap = current_user_ref();
    FlowUser *u = FlowUser_Retain(FlowUser_FromCapsule(cap));
    Py_DECREF(cap);
    return u;
}

/* _flow_user(name): a capsule for the user called `name` (None: None). */
PyObject *FlowUserPy_New(PyObject *self, PyObject *args) {
    (void)self;
    const char *name = NULL;
    Py_ssize_t len = 0;
    if (!PyArg_ParseTuple(args, "z#", &name, &len)) return NULL;
    if (!name) Py_RETURN_NONE;
    FlowUser *u = FlowUser_New(name, (size_t)len);
    return u ? FlowUser_Capsule(u) : PyErr_NoMemory();
}

/* _user_name(capsule): its name, or None. */
PyObject *FlowUserPy_Name(PyObject *self, PyObject *cap) {
    (void)self;
    FlowUser *u = FlowUser_FromCapsule(cap);
    if (!u) Py_RETURN_NONE;
    return PyUnicode_FromString(FlowUser_Name(u));
}

/* _user_exists(capsule): whether the server still has that ACL user (None:
 * full rights, True).  Redis lock held (RG.DUMPREGISTRATIONS). */
PyObject *FlowUserPy_Exists(PyObject *self, PyObject *cap) {
    (void)self;
    FlowUser *u = FlowUser_FromCapsule(cap);
    if (!u) Py_RETURN_TRUE;
    RedisModuleCtx *ctx = RedisModule_GetThreadSafeContext(NULL);
    if (!ctx) return PyErr_NoMemory();
    int exists = FlowUser_Exists(u, ctx);
    RedisModule_FreeThreadSafeContext(ctx);
    return PyBool_FromLong(exists);
}

/* _current_user_address(): the FlowUser the running code acts for, as an
 * int for the redisAI extension (0: full rights); valid while that code runs. */
PyObject *FlowUserPy_CurrentAddress(PyObject *self, PyObject *unused) {
    (void)self, (void)unused;
    PyObject *cap = current_user_ref();
    PyObject *r = PyLong_FromVoidPtr(FlowUser_FromCapsule(cap));
    Py_DECREF(cap);
    return r;
}

int FlowUserPy_Init(PyObject *module) {
    current_user_var = PyContextVar_New("current_user", Py_None);
    return current_user_var ? PyModule_AddObjectRef(module, "_current_user", current_user_var) : -1;
}
