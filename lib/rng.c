/* rng.c: xoshiro256** seeded by splitmix64; see rng.h.
 * Must not: change its output sequence (seeded runs are documented as reproducible). */
#include "rng.h"

#include <stdatomic.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void elmi_rng_seed(elmi_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64 is a bijection of a counter, so four consecutive outputs are never all
     * zero; the all-zero state (the one xoshiro cannot leave) cannot occur. */
}

uint64_t elmi_rng_next(elmi_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double elmi_rng_uniform(elmi_rng *r) { return (double)(elmi_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t elmi_rng_fresh_seed(void) {
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)(uintptr_t)&ts << 16;
    x ^= (uint64_t)atomic_fetch_add(&counter, 1) * 0xD1B54A32D192ED03ull;
    uint64_t seed = splitmix64(&x);
    return seed == UINT64_MAX ? 0 : seed;
}
