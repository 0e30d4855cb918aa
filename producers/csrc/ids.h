/* Random bits and UUIDv7 text for event ids (included by sealc.c). */
#ifndef MCP_AUDIT_IDS_H
#define MCP_AUDIT_IDS_H

#include "capi.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

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

#endif
