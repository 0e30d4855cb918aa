/* The producer's per-event seal and encode, compiled (see producers/sealer.py).
 *
 * One call gives an event its UUIDv7 id, time, stream position and chain hash,
 * and returns its Avro single-object bytes. It is the same computation as
 * producers.chain.Stream.seal followed by producers.encoder.EventEncoder, which
 * stay as the reference and the fallback; tests hold the two to the same bytes.
 *
 * Thread safety: the whole seal runs holding the GIL and nothing in it can give
 * the GIL up (no Python code runs, OpenSSL hashes in place, the objects made are
 * not tracked by the cycle collector), so numbering follows the order of calls
 * exactly as the Python version's lock makes it. Every check that can fail runs
 * before the stream advances: a refused event never leaves a gap in the chain.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

static int put_decimal(Buf *b, int64_t value) {
    char out[24];
    int n = snprintf(out, sizeof out, "%lld", (long long)value);
    return put(b, out, (size_t)n);
}

/* ---- the Sealer ---- */

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
} Sealer;

static const EVP_MD *SHA256_MD;
static PyObject *S_event_type, *S_phase, *S_call_id, *S_args_digest, *S_result_digest,
    *S_result_json, *S_truncated, *S_redactions, *S_outcome, *S_status, *S_duration_us,
    *S_error_type, *S_error_message, *S_result_size, *S_event_id, *S_event_time_us, *S_seq,
    *S_prev_hash, *S_hash;

static int Sealer_init(Sealer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"stream_id", "header", "event_types", "phases", "statuses", NULL};
    PyObject *stream_id, *header, *event_types, *phases, *statuses;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "UO!O!O!O!:Sealer", kwlist, &stream_id,
                                     &PyBytes_Type, &header, &PyTuple_Type, &event_types,
                                     &PyTuple_Type, &phases, &PyTuple_Type, &statuses))
        return -1;
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
    if (self->sha != NULL) EVP_MD_CTX_free(self->sha);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* What one event contributes, read and checked before the stream advances. Attribute
 * values are held until the seal ends, so texts pointing into them stay valid. */
typedef struct {
    PyObject *held[16];
    int nheld;
    Py_ssize_t type_index, phase_index, status_index;
    Text event_type, phase, call_id, args_digest, result_digest, result_json, error_type,
        error_message, duration_text;
    int truncated, has_result_size;
    int64_t redactions, duration_us, result_size;
} Fields;

static void fields_release(Fields *f) {
    Text *texts[] = {&f->event_type,  &f->phase,       &f->call_id,
                     &f->args_digest, &f->result_digest, &f->result_json,
                     &f->error_type,  &f->error_message, &f->duration_text};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) Py_CLEAR(texts[i]->owner);
    while (f->nheld > 0) Py_DECREF(f->held[--f->nheld]);
}

/* Attribute ``name`` of ``o``, held by ``f``: a borrowed reference, or NULL with an error. */
static PyObject *hold(Fields *f, PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v != NULL) f->held[f->nheld++] = v;
    return v;
}

static int read_outcome(Sealer *self, PyObject *outcome, Fields *f) {
    PyObject *v;
    if (outcome == Py_None) {
        f->status_index = -1;
        return 0;
    }
    if (!(v = hold(f, outcome, S_status))) return -1;
    if ((f->status_index = index_in(self->statuses, v, "outcome status")) < 0) return -1;
    if (!(v = hold(f, outcome, S_duration_us))) return -1;
    if (int64_of(v, &f->duration_us, "outcome duration_us") < 0) return -1;
    if (!PyLong_CheckExact(v)) { /* the chain hashes str(duration_us): a subclass may differ */
        PyObject *s = PyObject_Str(v);
        if (s == NULL) return -1;
        f->held[f->nheld++] = s;
        if (text_of(s, &f->duration_text, "outcome duration_us") < 0) return -1;
    }
    if (!(v = hold(f, outcome, S_error_type))) return -1;
    if (opt_text_of(v, &f->error_type, "outcome error_type") < 0) return -1;
    if (!(v = hold(f, outcome, S_error_message))) return -1;
    if (opt_text_of(v, &f->error_message, "outcome error_message") < 0) return -1;
    if (!(v = hold(f, outcome, S_result_size))) return -1;
    f->has_result_size = v != Py_None;
    return f->has_result_size ? int64_of(v, &f->result_size, "outcome result_size") : 0;
}

static int read_fields(Sealer *self, PyObject *e, Fields *f) {
    PyObject *v;
    if (!(v = hold(f, e, S_event_type)) || text_of(v, &f->event_type, "event_type") < 0) return -1;
    if ((f->type_index = index_in(self->event_types, v, "event_type")) < 0) return -1;
    if (!(v = hold(f, e, S_phase)) || text_of(v, &f->phase, "phase") < 0) return -1;
    if ((f->phase_index = index_in(self->phases, v, "phase")) < 0) return -1;
    if (!(v = hold(f, e, S_call_id)) || text_of(v, &f->call_id, "call_id") < 0) return -1;
    if (!(v = hold(f, e, S_args_digest)) || opt_text_of(v, &f->args_digest, "args_digest") < 0)
        return -1;
    if (!(v = hold(f, e, S_result_digest)) ||
        opt_text_of(v, &f->result_digest, "result_digest") < 0)
        return -1;
    if (!(v = hold(f, e, S_result_json)) || opt_text_of(v, &f->result_json, "result_json") < 0)
        return -1;
    if (!(v = hold(f, e, S_truncated))) return -1;
    if (!PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "truncated must be bool, not %.80s", Py_TYPE(v)->tp_name);
        return -1;
    }
    f->truncated = v == Py_True;
    if (!(v = hold(f, e, S_redactions)) || int64_of(v, &f->redactions, "redactions") < 0)
        return -1;
    if (!(v = hold(f, e, S_outcome))) return -1;
    return read_outcome(self, v, f);
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

static int set(PyObject *e, PyObject *name, PyObject *value) {
    if (value == NULL) return -1;
    int rc = PyObject_SetAttr(e, name, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *Sealer_seal(Sealer *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "seal(event, part, args, context) takes 4 arguments");
        return NULL;
    }
    PyObject *e = args[0], *part_obj = args[1], *args_seg = args[2], *context_seg = args[3];
    if (!PyBytes_Check(args_seg) || !PyBytes_Check(context_seg)) {
        PyErr_SetString(PyExc_TypeError, "seal: args and context must be bytes");
        return NULL;
    }
    Fields f;
    memset(&f, 0, sizeof f);
    Text part = EMPTY, stream = EMPTY, prev = EMPTY;
    Buf b;
    buf_init(&b);
    PyObject *result = NULL, *event_id = NULL, *hash = NULL, *prev_hash = NULL;
    if (read_fields(self, e, &f) < 0 || text_of(part_obj, &part, "part") < 0 ||
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
        chain_material(self, &b, &prev, &id_text, time_us, &f, call_id, &part, &stream, seq) < 0)
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
    if (PyObject_SetAttr(e, S_event_id, event_id) < 0 ||
        (assign_call_id && PyObject_SetAttr(e, S_call_id, event_id) < 0) ||
        set(e, S_event_time_us, PyLong_FromLongLong(time_us)) < 0 ||
        set(e, S_seq, PyLong_FromLongLong(seq)) < 0 || PyObject_SetAttr(e, S_prev_hash, prev_hash) < 0 ||
        PyObject_SetAttr(e, S_hash, hash) < 0)
        goto done;
    Text hash_text = {hex, 64, NULL};
    b.n = 0;
    if (put(&b, PyBytes_AS_STRING(self->header), (size_t)PyBytes_GET_SIZE(self->header)) < 0 ||
        put_string(&b, &id_text) < 0 || put_long(&b, time_us) < 0 ||
        put_long(&b, f.type_index) < 0 || put_long(&b, f.phase_index) < 0 ||
        put_string(&b, call_id) < 0 ||
        put(&b, PyBytes_AS_STRING(args_seg), (size_t)PyBytes_GET_SIZE(args_seg)) < 0 ||
        put_result(&b, &f) < 0 ||
        put(&b, PyBytes_AS_STRING(context_seg), (size_t)PyBytes_GET_SIZE(context_seg)) < 0 ||
        put_long(&b, seq) < 0 || put_string(&b, &prev) < 0 || put_string(&b, &hash_text) < 0)
        goto done;
    result = PyBytes_FromStringAndSize(b.p, (Py_ssize_t)b.n);
done:
    fields_release(&f);
    Py_XDECREF(part.owner);
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
    {"seal", (PyCFunction)(void (*)(void))Sealer_seal, METH_FASTCALL,
     "seal(event, part, args, context) -> bytes\n\n"
     "Give event its id, time, stream position and hash, and return its single-object\n"
     "bytes. part is the chained actor and target text; args and context are the\n"
     "encoder's segments for the event, made with event.stream_id already this stream's."},
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
    struct { PyObject **slot; const char *name; } names[] = {
        {&S_event_type, "event_type"}, {&S_phase, "phase"}, {&S_call_id, "call_id"},
        {&S_args_digest, "args_digest"}, {&S_result_digest, "result_digest"},
        {&S_result_json, "result_json"}, {&S_truncated, "truncated"},
        {&S_redactions, "redactions"}, {&S_outcome, "outcome"}, {&S_status, "status"},
        {&S_duration_us, "duration_us"}, {&S_error_type, "error_type"},
        {&S_error_message, "error_message"}, {&S_result_size, "result_size"},
        {&S_event_id, "event_id"}, {&S_event_time_us, "event_time_us"}, {&S_seq, "seq"},
        {&S_prev_hash, "prev_hash"}, {&S_hash, "hash"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((*names[i].slot = PyUnicode_InternFromString(names[i].name)) == NULL) return -1;
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
