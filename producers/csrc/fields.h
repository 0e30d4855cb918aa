/* Reading one event's fields, checked before the stream advances (included by sealc.c). */
#ifndef MCP_AUDIT_FIELDS_H
#define MCP_AUDIT_FIELDS_H

#include "capi.h"

#include "layout.h"
#include "sealer.h"
#include "wire.h"

/* What one event contributes, read and checked before the stream advances. Attribute
 * values are held until the seal ends, so texts pointing into them stay valid. */
typedef struct {
    PyObject *held[N_ATTRS + 4];
    int nheld;
    Py_ssize_t type_index, phase_index, status_index;
    Text event_type, phase, call_id, args_digest, result_digest, result_json, error_type,
        error_message, duration_text, args_json, request_id, trace_id, span_id, head, middle,
        part;
    int truncated, has_result_size;
    int64_t redactions, duration_us, result_size;
} Fields;

static void fields_release(Fields *f) {
    Text *texts[] = {&f->event_type,    &f->phase,         &f->call_id,    &f->args_digest,
                     &f->result_digest, &f->result_json,   &f->error_type, &f->error_message,
                     &f->duration_text, &f->args_json,     &f->request_id, &f->trace_id,
                     &f->span_id,       &f->head,          &f->middle,     &f->part};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) Py_CLEAR(texts[i]->owner);
    while (f->nheld > 0) Py_DECREF(f->held[--f->nheld]);
}

/* v, held by f until the seal ends (a new reference, or NULL with an error). */
static PyObject *keep(Fields *f, PyObject *v) {
    if (v == NULL) return NULL;
    if (f->nheld == (int)(sizeof f->held / sizeof *f->held)) {
        Py_DECREF(v);
        PyErr_SetString(PyExc_SystemError, "Sealer: more values held than room for them");
        return NULL;
    }
    return f->held[f->nheld++] = v;
}

/* Attribute i of o, held by f: a borrowed reference, or NULL with an error. */
static PyObject *hold(Fields *f, const Layout *l, PyObject *o, int i) {
    return keep(f, attr_get(l, o, i));
}

static int read_outcome(Sealer *self, PyObject *outcome, Fields *f) {
    PyObject *v;
    if (outcome == Py_None) {
        f->status_index = -1;
        return 0;
    }
    if (!(v = hold(f, &self->outcome, outcome, A_STATUS))) return -1;
    if ((f->status_index = index_in(self->statuses, v, "outcome status")) < 0) return -1;
    if (!(v = hold(f, &self->outcome, outcome, A_DURATION_US))) return -1;
    if (int64_of(v, &f->duration_us, "outcome duration_us") < 0) return -1;
    if (!PyLong_CheckExact(v)) { /* the chain hashes str(duration_us): a subclass may differ */
        PyObject *s = keep(f, PyObject_Str(v));
        if (s == NULL || text_of(s, &f->duration_text, "outcome duration_us") < 0) return -1;
    }
    if (!(v = hold(f, &self->outcome, outcome, A_ERROR_TYPE))) return -1;
    if (opt_text_of(v, &f->error_type, "outcome error_type") < 0) return -1;
    if (!(v = hold(f, &self->outcome, outcome, A_ERROR_MESSAGE))) return -1;
    if (opt_text_of(v, &f->error_message, "outcome error_message") < 0) return -1;
    if (!(v = hold(f, &self->outcome, outcome, A_RESULT_SIZE))) return -1;
    f->has_result_size = v != Py_None;
    return f->has_result_size ? int64_of(v, &f->result_size, "outcome result_size") : 0;
}

static int bytes_of(PyObject *o, Text *t, const char *field) {
    if (!PyBytes_Check(o)) {
        PyErr_Format(PyExc_TypeError, "shape %s must be bytes, not %.80s", field,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    t->p = PyBytes_AS_STRING(o), t->n = PyBytes_GET_SIZE(o), t->owner = NULL;
    return 0;
}

/* The event's head, middle and part: remembered when its middle is the usual one (no AI
 * context, lineage, heartbeat or attributes), made anew by make_shape otherwise. */
static int read_shape(Sealer *self, PyObject *e, Fields *f) {
    PyObject *key[N_SHAPE_KEYS], *v, *shape = NULL;
    for (int i = 0; i < N_SHAPE_KEYS; i++)
        if (!(key[i] = hold(f, &self->event, e, SHAPE_ATTRS[i]))) return -1;
    int usual = 1;
    const int plain[] = {A_AI, A_LINEAGE, A_HEARTBEAT};
    for (size_t i = 0; i < 3; i++) {
        if (!(v = hold(f, &self->event, e, plain[i]))) return -1;
        usual &= v == Py_None;
    }
    if (!(v = hold(f, &self->event, e, A_ATTRIBUTES))) return -1;
    usual &= PyDict_CheckExact(v) && PyDict_GET_SIZE(v) == 0;
    Shape *slot = NULL;
    if (usual) {
        uintptr_t h = 0;
        for (int i = 0; i < N_SHAPE_KEYS; i++) h = h * 31 + ((uintptr_t)key[i] >> 4);
        slot = &self->shapes[(h ^ (h >> 8)) & (N_SHAPES - 1)];
        int hit = slot->shape != NULL;
        for (int i = 0; hit && i < N_SHAPE_KEYS; i++) hit = slot->key[i] == key[i];
        if (hit && !(shape = keep(f, Py_NewRef(slot->shape)))) return -1;
    }
    if (shape == NULL) {
        if (!(shape = keep(f, PyObject_CallOneArg(self->make_shape, e)))) return -1;
        if (!PyTuple_CheckExact(shape) || PyTuple_GET_SIZE(shape) != 3) {
            PyErr_SetString(PyExc_TypeError, "make_shape must return (head, middle, part)");
            return -1;
        }
        if (slot != NULL) {
            shape_clear(slot);
            for (int i = 0; i < N_SHAPE_KEYS; i++) slot->key[i] = Py_NewRef(key[i]);
            slot->shape = Py_NewRef(shape);
        }
    }
    if (bytes_of(PyTuple_GET_ITEM(shape, 0), &f->head, "head") < 0 ||
        bytes_of(PyTuple_GET_ITEM(shape, 1), &f->middle, "middle") < 0)
        return -1;
    return text_of(PyTuple_GET_ITEM(shape, 2), &f->part, "part");
}

static int read_fields(Sealer *self, PyObject *e, Fields *f) {
    const Layout *l = &self->event;
    PyObject *v;
    if (!(v = hold(f, l, e, A_EVENT_TYPE)) || text_of(v, &f->event_type, "event_type") < 0)
        return -1;
    if ((f->type_index = index_in(self->event_types, v, "event_type")) < 0) return -1;
    if (!(v = hold(f, l, e, A_PHASE)) || text_of(v, &f->phase, "phase") < 0) return -1;
    if ((f->phase_index = index_in(self->phases, v, "phase")) < 0) return -1;
    if (!(v = hold(f, l, e, A_CALL_ID)) || text_of(v, &f->call_id, "call_id") < 0) return -1;
    if (!(v = hold(f, l, e, A_TRUNCATED))) return -1;
    if (!PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "truncated must be bool, not %.80s", Py_TYPE(v)->tp_name);
        return -1;
    }
    f->truncated = v == Py_True;
    if (!(v = hold(f, l, e, A_REDACTIONS)) || int32_of(v, &f->redactions, "redactions") < 0)
        return -1;
    const struct {
        int attr;
        Text *text;
        const char *name;
    } optional[] = {
        {A_ARGS_DIGEST, &f->args_digest, "args_digest"},
        {A_RESULT_DIGEST, &f->result_digest, "result_digest"},
        {A_RESULT_JSON, &f->result_json, "result_json"},
        {A_ARGS_JSON, &f->args_json, "args_json"},
        {A_REQUEST_ID, &f->request_id, "request_id"},
        {A_TRACE_ID, &f->trace_id, "trace_id"},
        {A_SPAN_ID, &f->span_id, "span_id"},
    };
    for (size_t i = 0; i < sizeof optional / sizeof *optional; i++)
        if (!(v = hold(f, l, e, optional[i].attr)) ||
            opt_text_of(v, optional[i].text, optional[i].name) < 0)
            return -1;
    if (!(v = hold(f, l, e, A_OUTCOME)) || read_outcome(self, v, f) < 0) return -1;
    return read_shape(self, e, f);
}

#endif
