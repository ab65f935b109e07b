/* energy.h: the inside of an energy source, shared by lib/energy_*.c (internal).
 *
 * A source is a list of channels (one RAPL zone, one hwmon rail, one command, one
 * callback), each turning its readings into joules: counters by differences (with
 * wrap-around), power readings by holding each reading until the next (left-point step
 * integration). The source's joules are the sum over its channels. A mutex guards all of
 * it; an optional thread polls the channels every interval.
 * Must not: allocate or spawn on the read path (elm_energy_read runs around each decode).
 */
#ifndef ELM_ENERGY_H
#define ELM_ENERGY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "edgelm.h"
#include "error.h"

typedef struct elmi_energy_channel {
    elm_energy_kind kind;
    int fd;                      /* sysfs file read on each poll, or -1 */
    int fd2;                     /* hwmon: the current file of a voltage x current pair, or -1 */
    double scale;                /* raw reading -> joules (counter) or watts (power) */
    uint64_t max_range;          /* counter: raw range before wrapping to 0 (0: unknown, so a
                                    decrease is taken as a reset to 0) */
    bool have_last;
    uint64_t last_raw;           /* counter: last raw reading (integer sources) */
    double last_value;           /* counter: last reading in joules (callbacks); power: watts */
    uint64_t last_ns;            /* when last_value was read */
    double joules;               /* accumulated since open */
    uint64_t wraps;              /* counter wrap-arounds seen */
    char label[64];
} elmi_energy_channel;

typedef struct elmi_energy_ops {
    /* Read every channel now (lock held); NULL for sources fed by their own thread. */
    elm_status (*poll)(elm_energy_source *s, uint64_t now_ns);
    /* Release what the kind owns (lock not held, sampling thread already stopped). */
    void (*destroy)(elm_energy_source *s);
    /* A thread of the kind's own instead of the polling thread (command source). */
    void *(*thread_main)(void *s);
} elmi_energy_ops;

struct elm_energy_source {
    pthread_mutex_t lock;
    pthread_cond_t cond;         /* wakes the thread on stop; signals the first sample */
    char name[160];
    const elmi_energy_ops *ops;
    elmi_energy_channel *ch;
    int n_ch;
    uint64_t open_ns;
    bool estimate;               /* joules are estimate_watts x elapsed time */
    double estimate_watts;
    /* sampling thread */
    bool thread_running;
    bool stop;
    pthread_t thread;
    double interval_seconds;
    /* staleness: sources fed by their own thread fail reads when no sample came lately */
    double stale_seconds;        /* 0: never stale */
    uint64_t last_sample_ns;
    uint64_t n_samples;
    char error[ELMI_ERRMSG_BYTES]; /* why the last poll failed ("" when it did not) */
    void *impl;                  /* the kind's own state */
    /* callback sources */
    elm_energy_read_fn fn;
    void *fn_user;
};

/* A zeroed source with lock and condition variable ready (NULL: out of memory). */
elm_energy_source *elmi_energy_new(const char *name, const elmi_energy_ops *ops);
/* Append a channel (fd = fd2 = -1); returns it, or NULL when out of memory. */
elmi_energy_channel *elmi_energy_add_channel(elm_energy_source *s, elm_energy_kind kind, const char *label);
/* Start the polling (or the kind's own) thread every interval; counters-only sources are
 * polled at least once a second. interval 0 and no thread_main: no thread. */
elm_status elmi_energy_start(elm_energy_source *s, double interval_seconds);

/* Feed a reading (lock held). Counters take raw integer readings (x scale = joules) or, for
 * callbacks, joules directly; power channels take watts. */
void elmi_energy_counter_raw(elmi_energy_channel *c, uint64_t raw, uint64_t now_ns);
void elmi_energy_counter_joules(elmi_energy_channel *c, double joules, uint64_t now_ns);
void elmi_energy_power(elmi_energy_channel *c, double watts, uint64_t now_ns);
/* A channel's joules at time now_ns (power: the last reading held until now). */
double elmi_energy_channel_joules(const elmi_energy_channel *c, uint64_t now_ns);

/* Like elm_energy_read, at a given time (tests use it to integrate known series). */
elm_status elmi_energy_read_at(elm_energy_source *s, uint64_t now_ns, double *joules);

/* Read a sysfs integer from an open file (pread at 0, so the kernel recomputes it). */
bool elmi_sysfs_read_int(int fd, int64_t *out);
/* Read a small text file "dir/name" into buf (trailing newline removed); false if absent. */
bool elmi_sysfs_read_text(const char *dir, const char *name, char *buf, size_t cap);

/* The source set by elm_set_default_energy_source (NULL: none). */
elm_energy_source *elmi_energy_default_source(void);

/* The kinds' openers, with params already defaulted. */
elm_status elmi_energy_open_rapl(const elm_energy_params *p, elm_energy_source **out);
elm_status elmi_energy_open_hwmon(const elm_energy_params *p, elm_energy_source **out);
elm_status elmi_energy_open_command(const char *command, const elm_energy_params *p, elm_energy_source **out);

#endif
