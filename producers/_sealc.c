/* The producer's per-event seal and encode, compiled (see producers/sealer.py).
 *
 * One call gives an event its UUIDv7 id, time, stream position and chain hash,
 * and returns its Avro single-object bytes. It is the same computation as
 * producers.chain.Stream.seal followed by producers.encoder.EventEncoder, which
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
 * The sealer holds no reference back to its owner (make_shape must not either), so
 * it needs no cycle collection.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- random bits for ids: xoshiro256**, seeded from the OS, reseeded after fork ---- */

static uint64_t rng[4];
static volatile int rng_stale = 1; /* set in a forked child: never share ids with the parent */

static void rng_mark_stale(void) { rng_stale = 1; }

static int rng_seed(void) {
    unsigned char seed[sizeof rng];
    size_t got = 0;
    while (got < sizeof seed) {
        ssize_t n = getrandom(seed + got, sizeof seed - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        got += (size_t)n;
    }
    memcpy(rng, seed, sizeof rng);
    if (!(rng[0] | rng[1] | rng[2] | rng[3])) rng[0] = 1; /* the all-zero state is a fixed point */
    rng_stale = 0;
    return 0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void) {
    uint64_t out = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
    rng[2] ^= rng[0];
    rng[3] ^= rng[1];
    rng[1] ^= rng[2];
    rng[0] ^= rng[3];
    rng[2] ^= t;
    rng[3] = rotl(rng[3], 45);
    return out;
}

static const char HEX[] = "0123456789abcdef";

static void put_hex(char *out, uint64_t value, int digits) {
    for (int i = digits - 1; i >= 0; i--, value >>= 4) out[i] = HEX[value & 0xF];
}

/* RFC 9562 UUIDv7 text: 48-bit Unix milliseconds, version 7, 74 random bits, variant 10. */
static void uuid7(char out[36], uint64_t ms) {
    uint64_t a = rng_next(), b = rng_next();
    put_hex(out, ms >> 16, 8);
    out[8] = '-';
    put_hex(out + 9, ms & 0xFFFF, 4);
    out[13] = '-';
    out[14] = '7';
    put_hex(out + 15, a & 0xFFF, 3);
    out[18] = '-';
    out[19] = HEX[0x8 | ((a >> 12) & 0x3)];
    put_hex(out + 20, (a >> 14) & 0xFFF, 3);
    out[23] = '-';
    put_hex(out + 24, b & 0xFFFFFFFFFFFFULL, 12);
}

/* ---- text: a str's UTF-8 bytes, as the Python encoder's encode("utf-8", "surrogatepass") ---- */

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
    t->p = PyUnicode_AsUTF8AndSize(o, &t->n);
    if (t->p != NULL) return 0;
    PyErr_Clear(); /* lone surrogates: encoded as they are, like the Python encoder does */
    t->owner = PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass");
    if (t->owner == NULL) return -1;
    t->p = PyBytes_AS_STRING(t->owner);
    t->n = PyBytes_GET_SIZE(t->owner);
    return 0;
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

/* ---- attributes of the caller's slotted classes, read and written by offset ---- */

enum { A_EVENT_TYPE, A_PHASE, A_CALL_ID, A_ARGS_DIGEST, A_RESULT_DIGEST, A_RESULT_JSON,
       A_TRUNCATED, A_REDACTIONS, A_OUTCOME, A_EVENT_ID, A_EVENT_TIME_US, A_SEQ, A_PREV_HASH,
       A_HASH, A_STATUS, A_DURATION_US, A_ERROR_TYPE, A_ERROR_MESSAGE, A_RESULT_SIZE,
       A_STREAM_ID, A_ARGS_JSON, A_REQUEST_ID, A_TRACE_ID, A_SPAN_ID, A_ACTOR, A_TARGET,
       A_ARG_KEYS, A_PRODUCER, A_COMPLIANCE, A_AI, A_LINEAGE, A_HEARTBEAT, A_ATTRIBUTES,
       N_ATTRS };

static const char *ATTR_NAMES[N_ATTRS] = {
    "event_type", "phase", "call_id", "args_digest", "result_digest", "result_json",
    "truncated", "redactions", "outcome", "event_id", "event_time_us", "seq", "prev_hash",
    "hash", "status", "duration_us", "error_type", "error_message", "result_size",
    "stream_id", "args_json", "request_id", "trace_id", "span_id", "actor", "target",
    "arg_keys", "producer", "compliance", "ai", "lineage", "heartbeat", "attributes"};
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

/* ---- the Sealer ---- */

/* The parts of an event's bytes and chain text that follow from its actor, target,
 * argument names, producer and compliance: made once by the caller's make_shape and
 * remembered by the identity of those five objects (held, so no id is reused). */
#define N_SHAPE_KEYS 5
#define N_SHAPES 256 /* a power of two: direct-mapped by the objects' addresses */
typedef struct {
    PyObject *key[N_SHAPE_KEYS];
    PyObject *shape; /* (head: bytes, middle: bytes, part: str) */
} Shape;

static const int SHAPE_ATTRS[N_SHAPE_KEYS] = {A_ACTOR, A_TARGET, A_ARG_KEYS, A_PRODUCER,
                                              A_COMPLIANCE};

static void shape_clear(Shape *s) {
    for (int i = 0; i < N_SHAPE_KEYS; i++) Py_CLEAR(s->key[i]);
    Py_CLEAR(s->shape);
}

typedef struct {
    PyObject_HEAD
    PyObject *stream_id;   /* str */
    PyObject *header;      /* bytes: single-object magic and schema fingerprint */
    PyObject *event_types; /* tuples of str: the schema's enum symbols, in order */
    PyObject *phases;
    PyObject *statuses;
    PyObject *last_hash; /* str */
    int64_t seq;
    EVP_MD_CTX *sha;
    PyObject *classes; /* (event class, outcome class), kept alive for the layouts */
    Layout event, outcome;
    PyObject *make_shape; /* event -> (head, middle, part), called on a cache miss */
    Shape shapes[N_SHAPES];
} Sealer;

static const EVP_MD *SHA256_MD;

static int Sealer_init(Sealer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"stream_id",   "header",        "event_types", "phases", "statuses",
                             "event_class", "outcome_class", "make_shape",  NULL};
    PyObject *stream_id, *header, *event_types, *phases, *statuses, *event_class, *outcome_class,
        *make_shape;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO!O!O!O!OOO:Sealer", kwlist, &stream_id,
                                     &PyBytes_Type, &header, &PyTuple_Type, &event_types,
                                     &PyTuple_Type, &phases, &PyTuple_Type, &statuses,
                                     &event_class, &outcome_class, &make_shape))
        return -1;
    if (!PyCallable_Check(make_shape)) {
        PyErr_SetString(PyExc_TypeError, "Sealer: make_shape must be callable");
        return -1;
    }
    Py_XSETREF(self->make_shape, Py_NewRef(make_shape));
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
    for (int i = 0; i < N_SHAPES; i++) shape_clear(&self->shapes[i]);
    if (self->sha != NULL) EVP_MD_CTX_free(self->sha);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

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

/* Attribute i of o, held by f: a borrowed reference, or NULL with an error. */
static PyObject *hold(Fields *f, const Layout *l, PyObject *o, int i) {
    PyObject *v = attr_get(l, o, i);
    if (v != NULL) f->held[f->nheld++] = v;
    return v;
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
        PyObject *s = PyObject_Str(v);
        if (s == NULL) return -1;
        f->held[f->nheld++] = s;
        if (text_of(s, &f->duration_text, "outcome duration_us") < 0) return -1;
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
        if (hit) f->held[f->nheld++] = shape = Py_NewRef(slot->shape);
    }
    if (shape == NULL) {
        if (!(shape = PyObject_CallOneArg(self->make_shape, e))) return -1;
        f->held[f->nheld++] = shape;
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
    PyObject *v;
    if (!(v = hold(f, &self->event, e, A_EVENT_TYPE)) || text_of(v, &f->event_type, "event_type") < 0) return -1;
    if ((f->type_index = index_in(self->event_types, v, "event_type")) < 0) return -1;
    if (!(v = hold(f, &self->event, e, A_PHASE)) || text_of(v, &f->phase, "phase") < 0) return -1;
    if ((f->phase_index = index_in(self->phases, v, "phase")) < 0) return -1;
    if (!(v = hold(f, &self->event, e, A_CALL_ID)) || text_of(v, &f->call_id, "call_id") < 0) return -1;
    if (!(v = hold(f, &self->event, e, A_ARGS_DIGEST)) || opt_text_of(v, &f->args_digest, "args_digest") < 0)
        return -1;
    if (!(v = hold(f, &self->event, e, A_RESULT_DIGEST)) ||
        opt_text_of(v, &f->result_digest, "result_digest") < 0)
        return -1;
    if (!(v = hold(f, &self->event, e, A_RESULT_JSON)) || opt_text_of(v, &f->result_json, "result_json") < 0)
        return -1;
    if (!(v = hold(f, &self->event, e, A_TRUNCATED))) return -1;
    if (!PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "truncated must be bool, not %.80s", Py_TYPE(v)->tp_name);
        return -1;
    }
    f->truncated = v == Py_True;
    if (!(v = hold(f, &self->event, e, A_REDACTIONS)) || int64_of(v, &f->redactions, "redactions") < 0)
        return -1;
    const struct { int attr; Text *text; const char *name; } optional[] = {
        {A_ARGS_JSON, &f->args_json, "args_json"},    {A_REQUEST_ID, &f->request_id, "request_id"},
        {A_TRACE_ID, &f->trace_id, "trace_id"},       {A_SPAN_ID, &f->span_id, "span_id"},
    };
    for (size_t i = 0; i < sizeof optional / sizeof *optional; i++)
        if (!(v = hold(f, &self->event, e, optional[i].attr)) ||
            opt_text_of(v, optional[i].text, optional[i].name) < 0)
            return -1;
    if (!(v = hold(f, &self->event, e, A_OUTCOME)) || read_outcome(self, v, f) < 0) return -1;
    return read_shape(self, e, f);
}

static const Text EMPTY = {"", 0, NULL};
#define OR_EMPTY(t) ((t).p != NULL ? &(t) : &EMPTY)

/* What schemas.integrity.chain_hash hashes, joined by the unit separator. */
static int chain_material(Sealer *self, Buf *m, const Text *prev, const Text *id, int64_t time_us,
                          const Fields *f, const Text *call_id, const Text *part,
                          const Text *stream, int64_t seq) {
    Text status = EMPTY;
    if (f->status_index >= 0 &&
        text_of(PyTuple_GET_ITEM(self->statuses, f->status_index), &status, "status") < 0)
        return -1;
    const Text *before_time[] = {prev, id};
    const Text *after_time[] = {&f->event_type, &f->phase, call_id, part,
                                OR_EMPTY(f->args_digest), OR_EMPTY(f->result_digest), &status};
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

static PyObject *Sealer_seal(Sealer *self, PyObject *e) {
    Fields f;
    memset(&f, 0, sizeof f);
    Text stream = EMPTY, prev = EMPTY;
    Buf b;
    buf_init(&b);
    PyObject *result = NULL, *event_id = NULL, *hash = NULL, *prev_hash = NULL;
    if (read_fields(self, e, &f) < 0 || text_of(self->stream_id, &stream, "stream_id") < 0)
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
    if ((hash = PyUnicode_New(64, 127)) == NULL) goto done;
    char *hex = (char *)PyUnicode_DATA(hash);
    for (int i = 0; i < 32; i++) hex[2 * i] = HEX[digest[i] >> 4], hex[2 * i + 1] = HEX[digest[i] & 0xF];
    self->seq = seq;
    Py_INCREF(hash);
    Py_SETREF(self->last_hash, hash);
    /* The stream has advanced: the event is sealed. */

    if ((event_id = PyUnicode_FromStringAndSize(id, 36)) == NULL) goto done;
    const Layout *l = &self->event;
    if (attr_set(l, e, A_EVENT_ID, event_id) < 0 ||
        (assign_call_id && attr_set(l, e, A_CALL_ID, event_id) < 0) ||
        set_new(self, e, A_EVENT_TIME_US, PyLong_FromLongLong(time_us)) < 0 ||
        set_new(self, e, A_SEQ, PyLong_FromLongLong(seq)) < 0 ||
        attr_set(l, e, A_PREV_HASH, prev_hash) < 0 || attr_set(l, e, A_HASH, hash) < 0 ||
        attr_set(l, e, A_STREAM_ID, self->stream_id) < 0)
        goto done;
    Text hash_text = {hex, 64, NULL};
    b.n = 0;
    if (put(&b, PyBytes_AS_STRING(self->header), (size_t)PyBytes_GET_SIZE(self->header)) < 0 ||
        put_string(&b, &id_text) < 0 || put_long(&b, time_us) < 0 ||
        put_long(&b, f.type_index) < 0 || put_long(&b, f.phase_index) < 0 ||
        put_string(&b, call_id) < 0 || put(&b, f.head.p, (size_t)f.head.n) < 0 ||
        put_opt_string(&b, &f.args_json) < 0 || put_opt_string(&b, &f.args_digest) < 0 ||
        put_result(&b, &f) < 0 || put_opt_string(&b, &f.request_id) < 0 ||
        put_opt_string(&b, &f.trace_id) < 0 || put_opt_string(&b, &f.span_id) < 0 ||
        put(&b, f.middle.p, (size_t)f.middle.n) < 0 || put_string(&b, &stream) < 0 ||
        put_long(&b, seq) < 0 || put_string(&b, &prev) < 0 || put_string(&b, &hash_text) < 0)
        goto done;
    result = PyBytes_FromStringAndSize(b.p, (Py_ssize_t)b.n);
done:
    fields_release(&f);
    Py_XDECREF(stream.owner);
    Py_XDECREF(prev.owner);
    Py_XDECREF(prev_hash);
    Py_XDECREF(event_id);
    Py_XDECREF(hash);
    buf_free(&b);
    return result;
}

static PyObject *Sealer_get_stream_id(Sealer *self, void *Py_UNUSED(closure)) { return Py_NewRef(self->stream_id); }
static PyObject *Sealer_get_last_hash(Sealer *self, void *Py_UNUSED(closure)) { return Py_NewRef(self->last_hash); }
static PyObject *Sealer_get_seq(Sealer *self, void *Py_UNUSED(closure)) { return PyLong_FromLongLong(self->seq); }

static PyGetSetDef Sealer_getset[] = {
    {"stream_id", (getter)Sealer_get_stream_id, NULL, "This stream's id.", NULL},
    {"seq", (getter)Sealer_get_seq, NULL, "The last sealed event's sequence number.", NULL},
    {"last_hash", (getter)Sealer_get_last_hash, NULL, "The last sealed event's hash.", NULL},
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
