/* The Sealer object and its remembered shapes (included by sealc.c). */
#ifndef MCP_AUDIT_SEALER_H
#define MCP_AUDIT_SEALER_H

#include "capi.h"

#include <openssl/evp.h>
#include <stdint.h>

#include "layout.h"

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
    /* Origin: the key's id (str, or NULL when no key) and SHA-256 states after its HMAC
     * pads, copied per event so the pads are hashed once (see sealc.c origin_mac). */
    PyObject *key_id;
    EVP_MD_CTX *mac_inner, *mac_outer;
    PyObject *classes; /* (event class, outcome class), kept alive for the layouts */
    Layout event, outcome;
    PyObject *make_shape; /* event -> (head, middle, part), called on a cache miss */
    PyObject *repair;     /* event -> None: makes its values readable, on a failed read */
    Shape shapes[N_SHAPES];
} Sealer;

#endif
