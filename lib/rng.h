/* rng.h: the seeded pseudo-random generator the sampler draws from (internal).
 *
 * xoshiro256** 1.0 (David Blackman and Sebastiano Vigna, 2018): 256 bits of state, period
 * 2^256 - 1, passes BigCrush. The state is filled from a 64-bit seed with splitmix64, as
 * the authors recommend, so every seed (0 included) gives a valid, distinct stream.
 * Must not: read any global state; the same seed always gives the same sequence.
 */
#ifndef ELM_RNG_H
#define ELM_RNG_H

#include <stdint.h>

typedef struct elmi_rng {
    uint64_t s[4];
} elmi_rng;

void elmi_rng_seed(elmi_rng *r, uint64_t seed);
uint64_t elmi_rng_next(elmi_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double elmi_rng_uniform(elmi_rng *r);
/* A seed that differs between calls and runs (clock, address space, a counter); for
 * ELM_SEED_RANDOM. Never returns UINT64_MAX. */
uint64_t elmi_rng_fresh_seed(void);

#endif
