/* clock.h: the monotonic clock every timer in edgelm reads (internal). */
#ifndef ELM_CLOCK_H
#define ELM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC; only differences mean anything. */
static inline uint64_t elmi_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline double elmi_seconds_since(uint64_t t0_ns) { return (double)(elmi_now_ns() - t0_ns) * 1e-9; }

#endif
