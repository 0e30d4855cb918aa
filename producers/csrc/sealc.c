/* The producer's per-event seal and encode, compiled (see producers/event/sealer.py).
 *
 * One call gives an event its UUIDv7 id, time, stream position and chain hash,
 * and returns its Avro single-object bytes. It is the same computation as
 * producers.event.chain.Stream.seal followed by producers.event.encoder.EventEncoder, which
 * stay as the reference and the fallback; tests hold the two to the same bytes.
 * What follows from an event's actor, target, argument names, producer and
 * compliance (most of its bytes) comes from the caller's make_shape and is
 * remembered by those objects' identity; the rest is read off the event.
 *
 * Thread safety: from reading the stream's position to storing its new hash the
 * seal holds the GIL and nothing in it can give the GIL up (no Python code runs,
 * OpenSSL hashes in place, the objects made are not tracked by the cycle
 * collector), so numbering follows the order of calls, as the Python version's
 * lock makes it. Every check that can fail runs before that: a refused event
 * leaves no gap in the chain.
 *
 * With an origin key the seal also makes the event's origin MAC,
 * HMAC-SHA256(key, the 32 bytes of its hash), as schemas.integrity.origin_mac does.
 *
 * The sealer holds no reference back to its owner (make_shape must not either), so
 * it needs no cycle collection.
 */
#include "capi.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "fields.h"
#include "ids.h"
#include "layout.h"
#include "sealer.h"
#include "wire.h"

static const EVP_MD *SHA256_MD;

/* The SHA-256 states after the key's HMAC pads (RFC 2104): an event's MAC then costs
 * one compression per half, not two, and no key handling. */
static int origin_init(Sealer *self, PyObject *key_id, PyObject *key) {
    Py_CLEAR(self->key_id);
    if (key_id == Py_None && key == Py_None) return 0;
    if (!PyUnicode_Check(key_id) || !PyUnicode_IS_ASCII(key_id) || !PyBytes_Check(key)) {
        PyErr_SetString(PyExc_TypeError,
                        "Sealer: key_id must be an ASCII str and key bytes, or both None");
        return -1;
    }
    if ((self->mac_inner == NULL && (self->mac_inner = EVP_MD_CTX_new()) == NULL) ||
        (self->mac_outer == NULL && (self->mac_outer = EVP_MD_CTX_new()) == NULL)) {
        PyErr_NoMemory();
        return -1;
    }
    unsigned char block[64] = {0}, pad[64];
    const unsigned char *k = (const unsigned char *)PyBytes_AS_STRING(key);
    size_t n = (size_t)PyBytes_GET_SIZE(key);
    int ok = 1;
    if (n > sizeof block) /* a long key is replaced by its hash, as HMAC says */
        ok = EVP_Digest(k, n, block, NULL, SHA256_MD, NULL);
    else
        memcpy(block, k, n);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex(self->mac_inner, SHA256_MD, NULL) &&
         EVP_DigestUpdate(self->mac_inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(self->mac_outer, SHA256_MD, NULL) &&
         EVP_DigestUpdate(self->mac_outer, pad, sizeof pad);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
        return -1;
    }
    self->key_id = Py_NewRef(key_id);
    return 0;
}

/* HMAC-SHA256 of a 32-byte chain link from the padded states, in the sha context. */
static int origin_mac(Sealer *self, const unsigned char link[32], unsigned char mac[32]) {
    unsigned char inner[32];
    return EVP_MD_CTX_copy_ex(self->sha, self->mac_inner) &&
           EVP_DigestUpdate(self->sha, link, 32) && EVP_DigestFinal_ex(self->sha, inner, NULL) &&
           EVP_MD_CTX_copy_ex(self->sha, self->mac_outer) &&
           EVP_DigestUpdate(self->sha, inner, 32) && EVP_DigestFinal_ex(self->sha, mac, NULL);
}

static PyObject *hex_str(const unsigned char digest[32]) {
    PyObject *s = PyUnicode_New(64, 127);
    if (s == NULL) return NULL;
    char *hex = (char *)PyUnicode_DATA(s);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = HEX[digest[i] >> 4];
        hex[2 * i + 1] = HEX[digest[i] & 0xF];
    }
    return s;
}

static int Sealer_init(Sealer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"stream_id",   "header",        "event_types", "phases",
                             "statuses",    "event_class",   "outcome_class", "make_shape",
                             "repair",      "key_id",        "key",           NULL};
    PyObject *stream_id, *header, *event_types, *phases, *statuses, *event_class, *outcome_class,
        *make_shape, *repair, *key_id = Py_None, *key = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO!O!O!O!OOOO|$OO:Sealer", kwlist, &stream_id,
                                     &PyBytes_Type, &header, &PyTuple_Type, &event_types,
                                     &PyTuple_Type, &phases, &PyTuple_Type, &statuses,
                                     &event_class, &outcome_class, &make_shape, &repair, &key_id,
                                     &key))
        return -1;
    if (!PyCallable_Check(make_shape) || !PyCallable_Check(repair)) {
        PyErr_SetString(PyExc_TypeError, "Sealer: make_shape and repair must be callable");
        return -1;
    }
    Py_XSETREF(self->make_shape, Py_NewRef(make_shape));
    Py_XSETREF(self->repair, Py_NewRef(repair));
    for (int i = 0; i < N_SHAPES; i++) shape_clear(&self->shapes[i]);
    if (layout_init(&self->event, event_class) < 0 ||
        layout_init(&self->outcome, outcome_class) < 0)
        return -1;
    Py_XSETREF(self->classes, PyTuple_Pack(2, event_class, outcome_class));
    if (self->classes == NULL) return -1;
    if (self->sha == NULL && (self->sha = EVP_MD_CTX_new()) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (origin_init(self, key_id, key) < 0) return -1;
    Py_XSETREF(self->stream_id, Py_NewRef(stream_id));
    Py_XSETREF(self->header, Py_NewRef(header));
    Py_XSETREF(self->event_types, Py_NewRef(event_types));
    Py_XSETREF(self->phases, Py_NewRef(phases));
    Py_XSETREF(self->statuses, Py_NewRef(statuses));
    Py_XSETREF(self->last_hash, PyUnicode_FromStringAndSize("", 0));
    self->seq = 0;
    return self->last_hash == NULL ? -1 : 0;
}

static void Sealer_dealloc(Sealer *self) {
    Py_XDECREF(self->stream_id);
    Py_XDECREF(self->header);
    Py_XDECREF(self->event_types);
    Py_XDECREF(self->phases);
    Py_XDECREF(self->statuses);
    Py_XDECREF(self->last_hash);
    Py_XDECREF(self->classes);
    Py_XDECREF(self->make_shape);
    Py_XDECREF(self->repair);
    for (int i = 0; i < N_SHAPES; i++) shape_clear(&self->shapes[i]);
    if (self->sha != NULL) EVP_MD_CTX_free(self->sha);
    Py_XDECREF(self->key_id);
    if (self->mac_inner != NULL) EVP_MD_CTX_free(self->mac_inner);
    if (self->mac_outer != NULL) EVP_MD_CTX_free(self->mac_outer);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int chain_fields(Buf *m, const Text *prev, const Text *id, int64_t time_us,
                        const Fields *f, const Text *call_id, const Text *part,
                        const Text *stream, int64_t seq, const Text *status);

/* What schemas.integrity.chain_hash hashes, joined by the unit separator. */
static int chain_material(Sealer *self, Buf *m, const Text *prev, const Text *id,
                          int64_t time_us, const Fields *f, const Text *call_id, const Text *part,
                          const Text *stream, int64_t seq) {
    Text status = EMPTY;
    if (f->status_index >= 0 &&
        text_of(PyTuple_GET_ITEM(self->statuses, f->status_index), &status, "status") < 0)
        return -1;
    int rc = chain_fields(m, prev, id, time_us, f, call_id, part, stream, seq, &status);
    Py_XDECREF(status.owner);
    return rc;
}

static int chain_fields(Buf *m, const Text *prev, const Text *id, int64_t time_us,
                        const Fields *f, const Text *call_id, const Text *part,
                        const Text *stream, int64_t seq, const Text *status) {
    const Text *before_time[] = {prev, id};
    const Text *after_time[] = {&f->event_type, &f->phase, call_id, part,
                                OR_EMPTY(f->args_digest), OR_EMPTY(f->result_digest), status};
    for (size_t i = 0; i < 2; i++)
        if (put(m, before_time[i]->p, (size_t)before_time[i]->n) < 0 || put_byte(m, 0x1f) < 0)
            return -1;
    if (put_decimal(m, time_us) < 0) return -1;
    for (size_t i = 0; i < sizeof after_time / sizeof *after_time; i++)
        if (put_byte(m, 0x1f) < 0 || put(m, after_time[i]->p, (size_t)after_time[i]->n) < 0)
            return -1;
    if (put_byte(m, 0x1f) < 0) return -1;
    if (f->status_index >= 0) {
        int rc = f->duration_text.p != NULL
                     ? put(m, f->duration_text.p, (size_t)f->duration_text.n)
                     : put_decimal(m, f->duration_us);
        if (rc < 0) return -1;
    }
    const Text *tail[] = {OR_EMPTY(f->error_type), stream};
    for (size_t i = 0; i < 2; i++)
        if (put_byte(m, 0x1f) < 0 || put(m, tail[i]->p, (size_t)tail[i]->n) < 0) return -1;
    if (put_byte(m, 0x1f) < 0) return -1;
    return put_decimal(m, seq);
}

static int put_result(Buf *b, const Fields *f) {
    if (put_opt_string(b, &f->result_json) < 0 || put_opt_string(b, &f->result_digest) < 0 ||
        put_byte(b, f->truncated) < 0 || put_long(b, f->redactions) < 0)
        return -1;
    if (f->status_index < 0) return put_byte(b, 0);
    if (put_byte(b, 2) < 0 || put_long(b, f->status_index) < 0 || put_long(b, f->duration_us) < 0 ||
        put_opt_string(b, &f->error_type) < 0 || put_opt_string(b, &f->error_message) < 0)
        return -1;
    if (!f->has_result_size) return put_byte(b, 0);
    return put_byte(b, 2) < 0 ? -1 : put_long(b, f->result_size);
}

static int set_new(Sealer *self, PyObject *e, int i, PyObject *value) {
    if (value == NULL) return -1;
    int rc = attr_set(&self->event, e, i, value);
    Py_DECREF(value);
    return rc;
}

/* read_fields, and when a value is one no reader reads (a lone surrogate, a number out of
 * its Avro type's range), repair the event and read it again: never refuse it for that. */
static int read_fields_repaired(Sealer *self, PyObject *e, Fields *f) {
    if (read_fields(self, e, f) == 0) return 0;
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError) &&
        !PyErr_ExceptionMatches(PyExc_OverflowError))
        return -1;
    PyErr_Clear();
    fields_release(f);
    memset(f, 0, sizeof *f);
    PyObject *done = PyObject_CallOneArg(self->repair, e);
    if (done == NULL) return -1;
    Py_DECREF(done);
    return read_fields(self, e, f);
}

static PyObject *Sealer_seal(Sealer *self, PyObject *e) {
    if (self->sha == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Sealer.__init__ was not called");
        return NULL;
    }
    Fields f;
    memset(&f, 0, sizeof f);
    Text stream = EMPTY, prev = EMPTY;
    Buf b;
    buf_init(&b);
    PyObject *result = NULL, *event_id = NULL, *hash = NULL, *prev_hash = NULL, *mac = NULL;
    if (read_fields_repaired(self, e, &f) < 0 ||
        text_of(self->stream_id, &stream, "stream_id") < 0)
        goto done;
    if (rng_stale && rng_seed() < 0) goto done;

    /* From here to the new last_hash nothing can run Python code or release the GIL. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t time_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    char id[36];
    uuid7(id, (uint64_t)((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
    Text id_text = {id, 36, NULL};
    /* An ATTEMPT without a call id names its call: the RESULT copies it from here. */
    int assign_call_id = f.call_id.n == 0 && f.phase.n == 7 && memcmp(f.phase.p, "ATTEMPT", 7) == 0;
    const Text *call_id = assign_call_id ? &id_text : &f.call_id;
    int64_t seq = self->seq + 1;
    prev_hash = self->last_hash;
    Py_INCREF(prev_hash);
    if (text_of(prev_hash, &prev, "last_hash") < 0 ||
        chain_material(self, &b, &prev, &id_text, time_us, &f, call_id, &f.part, &stream, seq) < 0)
        goto done;
    unsigned char digest[32];
    if (!EVP_DigestInit_ex(self->sha, SHA256_MD, NULL) ||
        !EVP_DigestUpdate(self->sha, b.p, b.n) || !EVP_DigestFinal_ex(self->sha, digest, NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL SHA-256 failed");
        goto done;
    }
    if ((hash = hex_str(digest)) == NULL) goto done;
    self->seq = seq;
    Py_INCREF(hash);
    Py_SETREF(self->last_hash, hash);
    /* The stream has advanced: the event is sealed. */

    unsigned char mac_bytes[32];
    if (self->key_id != NULL) {
        if (!origin_mac(self, digest, mac_bytes)) {
            PyErr_SetString(PyExc_RuntimeError, "OpenSSL HMAC-SHA256 failed");
            goto done;
        }
        if ((mac = hex_str(mac_bytes)) == NULL) goto done;
    }

    if ((event_id = PyUnicode_FromStringAndSize(id, 36)) == NULL) goto done;
    const Layout *l = &self->event;
    if (attr_set(l, e, A_EVENT_ID, event_id) < 0 ||
        (assign_call_id && attr_set(l, e, A_CALL_ID, event_id) < 0) ||
        set_new(self, e, A_EVENT_TIME_US, PyLong_FromLongLong(time_us)) < 0 ||
        set_new(self, e, A_SEQ, PyLong_FromLongLong(seq)) < 0 ||
        attr_set(l, e, A_PREV_HASH, prev_hash) < 0 || attr_set(l, e, A_HASH, hash) < 0 ||
        attr_set(l, e, A_STREAM_ID, self->stream_id) < 0 ||
        (mac != NULL && (attr_set(l, e, A_ORIGIN_KEY_ID, self->key_id) < 0 ||
                         attr_set(l, e, A_ORIGIN_MAC, mac) < 0)))
        goto done;
    Text hash_text = {(const char *)PyUnicode_DATA(hash), 64, NULL}, key_text = {NULL, 0, NULL},
         mac_text = {NULL, 0, NULL};
    if (mac != NULL) { /* both ASCII: the bytes are the str's own */
        mac_text.p = (const char *)PyUnicode_DATA(mac), mac_text.n = 64;
        key_text.p = (const char *)PyUnicode_DATA(self->key_id);
        key_text.n = PyUnicode_GET_LENGTH(self->key_id);
    }
    b.n = 0;
    if (put(&b, PyBytes_AS_STRING(self->header), (size_t)PyBytes_GET_SIZE(self->header)) < 0 ||
        put_string(&b, &id_text) < 0 || put_long(&b, time_us) < 0 ||
        put_long(&b, f.type_index) < 0 || put_long(&b, f.phase_index) < 0 ||
        put_string(&b, call_id) < 0 || put(&b, f.head.p, (size_t)f.head.n) < 0 ||
        put_opt_string(&b, &f.args_json) < 0 || put_opt_string(&b, &f.args_digest) < 0 ||
        put_result(&b, &f) < 0 || put_opt_string(&b, &f.request_id) < 0 ||
        put_opt_string(&b, &f.trace_id) < 0 || put_opt_string(&b, &f.span_id) < 0 ||
        put(&b, f.middle.p, (size_t)f.middle.n) < 0 || put_string(&b, &stream) < 0 ||
        put_long(&b, seq) < 0 || put_string(&b, &prev) < 0 || put_string(&b, &hash_text) < 0 ||
        put_opt_string(&b, &key_text) < 0 || put_opt_string(&b, &mac_text) < 0)
        goto done;
    result = PyBytes_FromStringAndSize(b.p, (Py_ssize_t)b.n);
done:
    fields_release(&f);
    Py_XDECREF(stream.owner);
    Py_XDECREF(prev.owner);
    Py_XDECREF(prev_hash);
    Py_XDECREF(event_id);
    Py_XDECREF(hash);
    Py_XDECREF(mac);
    buf_free(&b);
    return result;
}

static PyObject *Sealer_get_stream_id(Sealer *self, void *Py_UNUSED(closure)) {
    return Py_NewRef(self->stream_id);
}

static PyObject *Sealer_get_last_hash(Sealer *self, void *Py_UNUSED(closure)) {
    return Py_NewRef(self->last_hash);
}

static PyObject *Sealer_get_key_id(Sealer *self, void *Py_UNUSED(closure)) {
    return Py_NewRef(self->key_id != NULL ? self->key_id : Py_None);
}

static PyObject *Sealer_get_seq(Sealer *self, void *Py_UNUSED(closure)) {
    return PyLong_FromLongLong(self->seq);
}

static PyObject *Sealer_get_header(Sealer *self, void *Py_UNUSED(closure)) {
    return Py_NewRef(self->header);
}

/* Swapped while others seal (Confluent framing once the registry answers): each seal
 * reads it once, under the GIL. */
static int Sealer_set_header(Sealer *self, PyObject *value, void *Py_UNUSED(closure)) {
    if (value == NULL || !PyBytes_CheckExact(value)) {
        PyErr_SetString(PyExc_TypeError, "Sealer.header must be bytes");
        return -1;
    }
    Py_SETREF(self->header, Py_NewRef(value));
    return 0;
}

static PyGetSetDef Sealer_getset[] = {
    {"header", (getter)Sealer_get_header, (setter)Sealer_set_header,
     "What goes before each event's body.", NULL},
    {"stream_id", (getter)Sealer_get_stream_id, NULL, "This stream's id.", NULL},
    {"seq", (getter)Sealer_get_seq, NULL, "The last sealed event's sequence number.", NULL},
    {"last_hash", (getter)Sealer_get_last_hash, NULL, "The last sealed event's hash.", NULL},
    {"key_id", (getter)Sealer_get_key_id, NULL, "The origin key's id, or None.", NULL},
    {NULL},
};

static PyMethodDef Sealer_methods[] = {
    {"seal", (PyCFunction)Sealer_seal, METH_O,
     "seal(event) -> bytes\n\n"
     "Give event its stream id, id, time, stream position and hash (and an ATTEMPT\n"
     "without one its call id), and return its single-object bytes."},
    {NULL},
};

static PyTypeObject SealerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "producers._sealc.Sealer",
    .tp_basicsize = sizeof(Sealer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One producer stream's numbering, hash chain and event bytes, compiled.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Sealer_init,
    .tp_dealloc = (destructor)Sealer_dealloc,
    .tp_methods = Sealer_methods,
    .tp_getset = Sealer_getset,
};

static struct PyModuleDef sealc_module = {
    PyModuleDef_HEAD_INIT, "producers._sealc",
    "The producer's per-event seal and encode, compiled.", -1, NULL, NULL, NULL, NULL, NULL,
};

static int intern_names(void) {
    for (int i = 0; i < N_ATTRS; i++)
        if ((ATTR[i] = PyUnicode_InternFromString(ATTR_NAMES[i])) == NULL) return -1;
    return 0;
}

PyMODINIT_FUNC PyInit__sealc(void) {
    if (intern_names() < 0) return NULL;
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    SHA256_MD = EVP_MD_fetch(NULL, "SHA256", NULL); /* fetched once, not per digest */
#else
    SHA256_MD = EVP_sha256();
#endif
    if (SHA256_MD == NULL) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL has no SHA-256");
        return NULL;
    }
    if (pthread_atfork(NULL, NULL, rng_mark_stale) != 0) {
        PyErr_SetString(PyExc_ImportError, "cannot register the fork handler");
        return NULL;
    }
    if (PyType_Ready(&SealerType) < 0) return NULL;
    PyObject *m = PyModule_Create(&sealc_module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Sealer", (PyObject *)&SealerType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
