/* The event's attributes, read and written by slot offset (included by sealc.c). */
#ifndef MCP_AUDIT_LAYOUT_H
#define MCP_AUDIT_LAYOUT_H

#include "capi.h"

#include <structmember.h>

enum { A_EVENT_TYPE, A_PHASE, A_CALL_ID, A_ARGS_DIGEST, A_RESULT_DIGEST, A_RESULT_JSON,
       A_TRUNCATED, A_REDACTIONS, A_OUTCOME, A_EVENT_ID, A_EVENT_TIME_US, A_SEQ, A_PREV_HASH,
       A_HASH, A_STATUS, A_DURATION_US, A_ERROR_TYPE, A_ERROR_MESSAGE, A_RESULT_SIZE,
       A_STREAM_ID, A_ARGS_JSON, A_REQUEST_ID, A_TRACE_ID, A_SPAN_ID, A_ACTOR, A_TARGET,
       A_ARG_KEYS, A_PRODUCER, A_COMPLIANCE, A_AI, A_LINEAGE, A_HEARTBEAT, A_ATTRIBUTES,
       A_ORIGIN_KEY_ID, A_ORIGIN_MAC, N_ATTRS };

static const char *ATTR_NAMES[N_ATTRS] = {
    "event_type", "phase", "call_id", "args_digest", "result_digest", "result_json",
    "truncated", "redactions", "outcome", "event_id", "event_time_us", "seq", "prev_hash",
    "hash", "status", "duration_us", "error_type", "error_message", "result_size",
    "stream_id", "args_json", "request_id", "trace_id", "span_id", "actor", "target",
    "arg_keys", "producer", "compliance", "ai", "lineage", "heartbeat", "attributes",
    "origin_key_id", "origin_mac"};
static PyObject *ATTR[N_ATTRS]; /* interned names */

/* Where a class keeps each attribute: the attribute protocol costs more per event than
 * the hash does. Only an instance of exactly that class, with a plain slot (a dataclass
 * with slots=True) and the default setattr, takes the short way; all else the protocol. */
typedef struct {
    PyTypeObject *cls;
    int plain_setattr;
    Py_ssize_t offset[N_ATTRS];
} Layout;

static int layout_init(Layout *l, PyObject *cls) {
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "Sealer: event and outcome classes must be types");
        return -1;
    }
    l->cls = (PyTypeObject *)cls;
    l->plain_setattr = l->cls->tp_setattro == PyObject_GenericSetAttr;
    for (int i = 0; i < N_ATTRS; i++) {
        l->offset[i] = -1;
        PyObject *d = PyObject_GetAttr(cls, ATTR[i]);
        if (d == NULL) {
            PyErr_Clear();
            continue;
        }
        if (PyObject_TypeCheck(d, &PyMemberDescr_Type)) {
            PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
            if (m->type == T_OBJECT_EX && !(m->flags & READONLY)) l->offset[i] = m->offset;
        }
        Py_DECREF(d);
    }
    return 0;
}

/* New reference to attribute i of o, or NULL with an exception. */
static PyObject *attr_get(const Layout *l, PyObject *o, int i) {
    if (Py_TYPE(o) == l->cls && l->offset[i] >= 0) {
        PyObject *v = *(PyObject **)((char *)o + l->offset[i]);
        if (v != NULL) return Py_NewRef(v);
    }
    return PyObject_GetAttr(o, ATTR[i]);
}

static int attr_set(const Layout *l, PyObject *o, int i, PyObject *v) {
    if (Py_TYPE(o) == l->cls && l->plain_setattr && l->offset[i] >= 0) {
        PyObject **slot = (PyObject **)((char *)o + l->offset[i]);
        PyObject *old = *slot;
        *slot = Py_NewRef(v);
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(o, ATTR[i], v);
}

#endif
