/* Texts, a growable buffer and the Avro binary primitives the sealer writes. */
#ifndef MCP_AUDIT_WIRE_H
#define MCP_AUDIT_WIRE_H

#include "capi.h"

#include <stdint.h>
#include <string.h>

/* ---- text: a str's UTF-8 bytes, as the Python encoder's strict encode() ---- */

typedef struct {
    const char *p;
    Py_ssize_t n;
    PyObject *owner; /* a bytes object holding p, or NULL when p points into the str */
} Text;

static int text_of(PyObject *o, Text *t, const char *field) {
    t->owner = NULL;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.80s", field, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (PyUnicode_IS_ASCII(o)) {
        t->p = (const char *)PyUnicode_DATA(o);
        t->n = PyUnicode_GET_LENGTH(o);
        return 0;
    }
    /* Lone surrogates raise UnicodeEncodeError here: no reader reads them, so the
     * seal repairs the event (producers/event/repair.py) and reads it again. */
    t->p = PyUnicode_AsUTF8AndSize(o, &t->n);
    return t->p != NULL ? 0 : -1;
}

/* An optional str: p is NULL for None. */
static int opt_text_of(PyObject *o, Text *t, const char *field) {
    if (o == Py_None) {
        t->p = NULL, t->n = 0, t->owner = NULL;
        return 0;
    }
    return text_of(o, t, field);
}

static int int64_of(PyObject *o, int64_t *out, const char *field) {
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be int, not %.80s", field, Py_TYPE(o)->tp_name);
        return -1;
    }
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

/* An Avro int: 32 bits (a Java reader reads a larger one as 0 or -1). */
static int int32_of(PyObject *o, int64_t *out, const char *field) {
    if (int64_of(o, out, field) < 0) return -1;
    if (*out >= INT32_MIN && *out <= INT32_MAX) return 0;
    PyErr_Format(PyExc_OverflowError, "%s does not fit in an Avro int", field);
    return -1;
}

/* Position of s in names, by identity first (the usual case: interned literals). */
static Py_ssize_t index_in(PyObject *names, PyObject *s, const char *field) {
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < n; i++)
        if (PyTuple_GET_ITEM(names, i) == s) return i;
    if (PyUnicode_Check(s))
        for (Py_ssize_t i = 0; i < n; i++) {
            int eq = PyUnicode_Compare(PyTuple_GET_ITEM(names, i), s);
            if (eq == 0) return i;
            if (eq == -1 && PyErr_Occurred()) return -1;
        }
    PyErr_Format(PyExc_ValueError, "%s %R is not in the schema", field, s);
    return -1;
}

/* ---- a growable byte buffer, on the stack until it outgrows it ---- */

typedef struct {
    char *p;
    size_t n, cap;
    char local[1024];
} Buf;

static void buf_init(Buf *b) { b->p = b->local, b->n = 0, b->cap = sizeof b->local; }

static void buf_free(Buf *b) {
    if (b->p != b->local) PyMem_Free(b->p);
}

static int buf_reserve(Buf *b, size_t more) {
    if (b->n + more <= b->cap) return 0;
    size_t cap = b->cap * 2 > b->n + more ? b->cap * 2 : b->n + more;
    char *p = PyMem_Malloc(cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(p, b->p, b->n);
    buf_free(b);
    b->p = p, b->cap = cap;
    return 0;
}

static int put(Buf *b, const void *p, size_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

static int put_byte(Buf *b, char c) { return put(b, &c, 1); }

/* Avro long: zig-zag, then little-endian groups of 7 bits. */
static int put_long(Buf *b, int64_t value) {
    uint64_t z = ((uint64_t)value << 1) ^ (uint64_t)(value >> 63);
    char out[10];
    int n = 0;
    while (z > 0x7F) {
        out[n++] = (char)((z & 0x7F) | 0x80);
        z >>= 7;
    }
    out[n++] = (char)z;
    return put(b, out, (size_t)n);
}

static int put_string(Buf *b, const Text *t) {
    if (put_long(b, t->n) < 0) return -1;
    return put(b, t->p, (size_t)t->n);
}

/* A ["null", "string"] union. */
static int put_opt_string(Buf *b, const Text *t) {
    if (t->p == NULL) return put_byte(b, 0);
    if (put_byte(b, 2) < 0) return -1;
    return put_string(b, t);
}

/* str(value) of an int (snprintf costs more than the rest of a field). */
static int put_decimal(Buf *b, int64_t value) {
    char out[24];
    char *p = out + sizeof out;
    uint64_t u = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do *--p = (char)('0' + u % 10); while (u /= 10);
    if (value < 0) *--p = '-';
    return put(b, p, (size_t)(out + sizeof out - p));
}

static const Text EMPTY = {"", 0, NULL};
#define OR_EMPTY(t) ((t).p != NULL ? &(t) : &EMPTY)

#endif
