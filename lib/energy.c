/* energy.c: energy sources: the common core (channels, integration, wrap-around, the
 * sampling thread, reads), the callback and estimate sources, and opening by spec text.
 * The sysfs and command kinds live in energy_rapl.c, energy_hwmon.c, energy_command.c.
 * Must not: invent a number: a failed reading is an error, never a guess; allocate on the
 * read path.
 */
#include "energy.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

/* ==== Channels =========================================================================== */

void elmi_energy_counter_raw(elmi_energy_channel *c, uint64_t raw, uint64_t now_ns) {
    if (c->have_last) {
        uint64_t d;
        if (raw >= c->last_raw) {
            d = raw - c->last_raw;
        } else if (c->max_range > 0 && c->last_raw <= c->max_range) {
            /* The counter ran past max_range and restarted at 0. */
            d = (c->max_range - c->last_raw) + raw;
            c->wraps++;
        } else {
            /* No known range: the counter was reset; count what it gathered since. */
            d = raw;
            c->wraps++;
        }
        c->joules += (double)d * c->scale;
    }
    c->have_last = true;
    c->last_raw = raw;
    c->last_ns = now_ns;
}

void elmi_energy_counter_joules(elmi_energy_channel *c, double joules, uint64_t now_ns) {
    if (c->have_last) {
        double d = joules - c->last_value;
        if (d < 0) { d = joules > 0 ? joules : 0; c->wraps++; }
        c->joules += d;
    }
    c->have_last = true;
    c->last_value = joules;
    c->last_ns = now_ns;
}

void elmi_energy_power(elmi_energy_channel *c, double watts, uint64_t now_ns) {
    if (c->have_last && now_ns > c->last_ns) c->joules += c->last_value * (double)(now_ns - c->last_ns) * 1e-9;
    c->have_last = true;
    c->last_value = watts;
    if (now_ns > c->last_ns || c->last_ns == 0) c->last_ns = now_ns;
}

double elmi_energy_channel_joules(const elmi_energy_channel *c, uint64_t now_ns) {
    double j = c->joules;
    if (c->kind == ELM_ENERGY_POWER && c->have_last && now_ns > c->last_ns)
        j += c->last_value * (double)(now_ns - c->last_ns) * 1e-9;
    return j;
}

/* ==== Sources ============================================================================ */

elm_energy_source *elmi_energy_new(const char *name, const elmi_energy_ops *ops) {
    elm_energy_source *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ops = ops;
    s->open_ns = elmi_now_ns();
    return s;
}

elmi_energy_channel *elmi_energy_add_channel(elm_energy_source *s, elm_energy_kind kind, const char *label) {
    if (s->n_ch >= 1024) return NULL;
    elmi_energy_channel *nc = realloc(s->ch, (size_t)(s->n_ch + 1) * sizeof *nc);
    if (!nc) return NULL;
    s->ch = nc;
    elmi_energy_channel *c = &s->ch[s->n_ch++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->fd = c->fd2 = -1;
    c->scale = 1.0;
    snprintf(c->label, sizeof c->label, "%s", label ? label : "");
    return c;
}

/* Wait on the source's condition variable until deadline (monotonic ns) or stop. */
static void wait_until(elm_energy_source *s, uint64_t deadline_ns) {
    struct timespec ts = { (time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u) };
    while (!s->stop && elmi_now_ns() < deadline_ns)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT) break;
}

static void *poll_thread(void *arg) {
    elm_energy_source *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        uint64_t now = elmi_now_ns();
        elm_status st = s->ops->poll(s, now);
        if (st == ELM_OK) { s->last_sample_ns = now; s->n_samples++; }
        wait_until(s, now + (uint64_t)(s->interval_seconds * 1e9));
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

elm_status elmi_energy_start(elm_energy_source *s, double interval_seconds) {
    bool all_counters = s->n_ch > 0;
    for (int i = 0; i < s->n_ch; i++) all_counters = all_counters && s->ch[i].kind == ELM_ENERGY_COUNTER;
    s->interval_seconds = interval_seconds;
    /* Counters need no integration, only often enough reads to see each wrap-around. */
    if (all_counters && interval_seconds > 0) s->interval_seconds = 1.0;
    if (s->interval_seconds <= 0 && !s->ops->thread_main) return ELM_OK;
    if (s->interval_seconds <= 0) s->interval_seconds = 0.02;
    if (!s->ops->thread_main && !s->ops->poll) return ELM_OK;
    int rc = pthread_create(&s->thread, NULL, s->ops->thread_main ? s->ops->thread_main : poll_thread, s);
    if (rc != 0) return elmi_error(ELM_ERR_NOMEM, "energy source %s: cannot start its sampling thread: %s", s->name, strerror(rc));
    s->thread_running = true;
    return ELM_OK;
}

elm_status elmi_energy_read_at(elm_energy_source *s, uint64_t now_ns, double *joules) {
    if (s->estimate) {
        *joules = s->estimate_watts * (double)(now_ns > s->open_ns ? now_ns - s->open_ns : 0) * 1e-9;
        return ELM_OK;
    }
    pthread_mutex_lock(&s->lock);
    elm_status st = ELM_OK;
    if (s->ops && s->ops->poll) {
        st = s->ops->poll(s, now_ns);
        if (st == ELM_OK) { s->last_sample_ns = now_ns; s->n_samples++; }
    } else if (s->stale_seconds > 0 && (s->n_samples == 0 ||
               (double)(now_ns - s->last_sample_ns) * 1e-9 > s->stale_seconds)) {
        st = elmi_error(ELM_ERR_IO, "energy source %s: no reading for %.1f s%s%s", s->name,
                        s->n_samples ? (double)(now_ns - s->last_sample_ns) * 1e-9 : (double)(now_ns - s->open_ns) * 1e-9,
                        s->error[0] ? ": " : "", s->error);
    }
    if (st == ELM_OK) {
        double j = 0;
        for (int i = 0; i < s->n_ch; i++) j += elmi_energy_channel_joules(&s->ch[i], now_ns);
        *joules = j;
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

ELM_API elm_status elm_energy_read(elm_energy_source *s, double *joules) {
    if (!s || !joules) return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_read: NULL %s", s ? "joules" : "source");
    return elmi_energy_read_at(s, elmi_now_ns(), joules);
}

ELM_API void elm_energy_free(elm_energy_source *s) {
    if (!s) return;
    if (s->thread_running) {
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    if (s->ops && s->ops->destroy) s->ops->destroy(s);
    for (int i = 0; i < s->n_ch; i++) {
        if (s->ch[i].fd >= 0) close(s->ch[i].fd);
        if (s->ch[i].fd2 >= 0) close(s->ch[i].fd2);
    }
    free(s->ch);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

ELM_API const char *elm_energy_name(const elm_energy_source *s) { return s ? s->name : "none"; }
ELM_API bool elm_energy_is_estimate(const elm_energy_source *s) { return s && s->estimate; }

/* ==== sysfs helpers ====================================================================== */

bool elmi_sysfs_read_int(int fd, int64_t *out) {
    char buf[48];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (end == buf || errno != 0) return false;
    while (*end == '\n' || *end == ' ') end++;
    if (*end != '\0') return false;
    *out = (int64_t)v;
    return true;
}

bool elmi_sysfs_read_text(const char *dir, const char *name, char *buf, size_t cap) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) return false;
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
    return true;
}

/* ==== Callback and estimate sources ====================================================== */

static elm_status callback_poll(elm_energy_source *s, uint64_t now_ns) {
    double v = 0;
    elm_status st = s->fn(s->fn_user, &v);
    if (st != ELM_OK)
        return elmi_error(st, "energy source %s: the callback failed (%s)", s->name, elm_status_name(st));
    if (!isfinite(v))
        return elmi_error(ELM_ERR_IO, "energy source %s: the callback gave a value that is not a number", s->name);
    if (s->ch[0].kind == ELM_ENERGY_COUNTER) elmi_energy_counter_joules(&s->ch[0], v, now_ns);
    else elmi_energy_power(&s->ch[0], v, now_ns);
    return ELM_OK;
}

static const elmi_energy_ops callback_ops = { callback_poll, NULL, NULL };

ELM_API elm_energy_params elm_energy_default_params(void) {
    elm_energy_params p;
    memset(&p, 0, sizeof p);
    p.powercap_root = "/sys/class/powercap";
    p.hwmon_root = "/sys/class/hwmon";
    p.hwmon_match = NULL;
    p.rapl_dram = true;
    p.interval_seconds = 0.02;
    p.first_sample_timeout_seconds = 5.0;
    return p;
}

static elm_energy_params fill_params(const elm_energy_params *p) {
    elm_energy_params d = elm_energy_default_params();
    if (!p) return d;
    elm_energy_params r = *p;
    if (!r.powercap_root) r.powercap_root = d.powercap_root;
    if (!r.hwmon_root) r.hwmon_root = d.hwmon_root;
    if (!(r.interval_seconds >= 0)) r.interval_seconds = d.interval_seconds;
    if (!(r.first_sample_timeout_seconds > 0)) r.first_sample_timeout_seconds = d.first_sample_timeout_seconds;
    return r;
}

ELM_API elm_status elm_energy_open_callback(const char *name, elm_energy_kind kind, elm_energy_read_fn fn,
                                            void *user, const elm_energy_params *params,
                                            elm_energy_source **out) {
    if (!fn || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_callback: NULL %s", fn ? "out" : "callback");
    if (kind != ELM_ENERGY_COUNTER && kind != ELM_ENERGY_POWER)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_callback: kind %d is neither counter nor power", (int)kind);
    elm_energy_params p = fill_params(params);
    char label[160];
    snprintf(label, sizeof label, "callback %s", name && *name ? name : "(unnamed)");
    elm_energy_source *s = elmi_energy_new(label, &callback_ops);
    if (!s || !elmi_energy_add_channel(s, kind, name)) {
        elm_energy_free(s);
        return elmi_error(ELM_ERR_NOMEM, "elm_energy_open_callback: out of memory");
    }
    s->fn = fn;
    s->fn_user = user;
    /* The first reading is the zero point; a source that cannot read now is no source. */
    pthread_mutex_lock(&s->lock);
    elm_status st = callback_poll(s, elmi_now_ns());
    pthread_mutex_unlock(&s->lock);
    if (st == ELM_OK) st = elmi_energy_start(s, p.interval_seconds);
    if (st != ELM_OK) { elm_energy_free(s); return st; }
    *out = s;
    return ELM_OK;
}

ELM_API elm_status elm_energy_open_estimate(double watts, elm_energy_source **out) {
    if (!out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_estimate: NULL out");
    if (!(watts > 0) || !isfinite(watts) || watts > 1e6)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_estimate: %g W is not a usable power figure (want 0 < W <= 1e6)", watts);
    char name[64];
    snprintf(name, sizeof name, "estimate %g W", watts);
    elm_energy_source *s = elmi_energy_new(name, NULL);
    if (!s) return elmi_error(ELM_ERR_NOMEM, "elm_energy_open_estimate: out of memory");
    s->estimate = true;
    s->estimate_watts = watts;
    *out = s;
    return ELM_OK;
}

ELM_API elm_status elm_energy_open_rapl(const elm_energy_params *params, elm_energy_source **out) {
    if (!out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_rapl: NULL out");
    elm_energy_params p = fill_params(params);
    return elmi_energy_open_rapl(&p, out);
}

ELM_API elm_status elm_energy_open_hwmon(const elm_energy_params *params, elm_energy_source **out) {
    if (!out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_hwmon: NULL out");
    elm_energy_params p = fill_params(params);
    return elmi_energy_open_hwmon(&p, out);
}

ELM_API elm_status elm_energy_open_command(const char *command, const elm_energy_params *params,
                                           elm_energy_source **out) {
    if (!command || !*command || !out)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open_command: %s", out ? "empty command" : "NULL out");
    elm_energy_params p = fill_params(params);
    return elmi_energy_open_command(command, &p, out);
}

ELM_API elm_status elm_energy_open(const char *spec, const elm_energy_params *params, elm_energy_source **out) {
    if (!spec || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_energy_open: NULL %s", spec ? "out" : "spec");
    elm_energy_params p = fill_params(params);
    if (strcmp(spec, "rapl") == 0) return elmi_energy_open_rapl(&p, out);
    if (strcmp(spec, "hwmon") == 0) return elmi_energy_open_hwmon(&p, out);
    if (strncmp(spec, "hwmon:", 6) == 0) {
        p.hwmon_match = spec + 6;
        return elmi_energy_open_hwmon(&p, out);
    }
    if (strncmp(spec, "cmd:", 4) == 0) return elm_energy_open_command(spec + 4, &p, out);
    if (strncmp(spec, "estimate:", 9) == 0) {
        char *end;
        double w = strtod(spec + 9, &end);
        while (*end == ' ') end++;
        if (end == spec + 9 || (*end && strcmp(end, "W") != 0 && strcmp(end, "w") != 0))
            return elmi_error(ELM_ERR_INVALID_ARG, "energy source '%s': expected estimate:WATTS, e.g. estimate:5", spec);
        return elm_energy_open_estimate(w, out);
    }
    if (strcmp(spec, "auto") == 0) {
        char why_rapl[ELMI_ERRMSG_BYTES];
        elm_status st = elmi_energy_open_rapl(&p, out);
        if (st == ELM_OK) return ELM_OK;
        snprintf(why_rapl, sizeof why_rapl, "%s", elm_last_error());
        st = elmi_energy_open_hwmon(&p, out);
        if (st == ELM_OK) return ELM_OK;
        char why_hwmon[ELMI_ERRMSG_BYTES];
        snprintf(why_hwmon, sizeof why_hwmon, "%s", elm_last_error());
        return elmi_error(ELM_ERR_NOT_FOUND, "no energy source found: %.200s; %.200s", why_rapl, why_hwmon);
    }
    return elmi_error(ELM_ERR_INVALID_ARG,
                      "energy source '%s': expected auto, rapl, hwmon, hwmon:MATCH, cmd:COMMAND or estimate:WATTS", spec);
}

/* ==== The process-wide default =========================================================== */

static _Atomic(elm_energy_source *) default_source;

ELM_API void elm_set_default_energy_source(elm_energy_source *src) { atomic_store(&default_source, src); }

elm_energy_source *elmi_energy_default_source(void) { return atomic_load(&default_source); }

ELM_API const char *elm_figure_status_name(elm_figure_status s) {
    switch (s) {
    case ELM_FIGURE_MEASURED: return "measured";
    case ELM_FIGURE_ESTIMATED: return "estimated";
    default: return "unavailable";
    }
}
