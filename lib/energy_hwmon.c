/* energy_hwmon.c: the Linux hwmon energy source: energyN_input counters (µJ), powerN_input
 * or powerN_average readings (µW), and inN_input (mV) x currN_input (mA) pairs, which is
 * how the INA3221 rail monitors of Jetson boards appear.
 * Must not: count one rail twice: per chip, energy channels win over power channels, which
 * win over voltage x current pairs; and on Jetson the whole-board VDD_IN rail alone is used
 * unless the caller picks rails with hwmon_match.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "energy.h"

static elm_status hwmon_poll(elm_energy_source *s, uint64_t now_ns) {
    for (int i = 0; i < s->n_ch; i++) {
        elmi_energy_channel *c = &s->ch[i];
        int64_t a, b = 1;
        if (!elmi_sysfs_read_int(c->fd, &a) || (c->fd2 >= 0 && !elmi_sysfs_read_int(c->fd2, &b))) {
            snprintf(s->error, sizeof s->error, "cannot read hwmon channel %s", c->label);
            return elmi_error(ELM_ERR_IO, "energy source %s: cannot read channel %s now", s->name, c->label);
        }
        if (c->kind == ELM_ENERGY_COUNTER) elmi_energy_counter_raw(c, a < 0 ? 0 : (uint64_t)a, now_ns);
        else elmi_energy_power(c, (double)a * (double)b * c->scale, now_ns);
    }
    s->error[0] = '\0';
    return ELM_OK;
}

static const elmi_energy_ops hwmon_ops = { hwmon_poll, NULL, NULL };

/* A channel found in one chip directory, before the choice of which to use. */
typedef struct found {
    int kind;            /* 0 energy, 1 power, 2 voltage x current */
    int index;           /* N of the file names */
    char label[48];
    char chip[32];
    const char *dir;     /* the chip's directory (owned by the caller's list) */
} found;

/* "<prefix>N_<suffix>" -> N, or -1. */
static int channel_index(const char *file, const char *prefix, const char *suffix) {
    size_t lp = strlen(prefix);
    if (strncmp(file, prefix, lp) != 0 || !isdigit((unsigned char)file[lp])) return -1;
    char *end;
    long n = strtol(file + lp, &end, 10);
    if (*end != '_' || strcmp(end + 1, suffix) != 0 || n < 0 || n > 100000) return -1;
    return (int)n;
}

static bool file_exists(const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int open_file(const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* Collect the channels of one chip (one kind only, see the top of the file). */
static int scan_chip(const char *dir, found *out, int max) {
    char chip[32] = "";
    if (!elmi_sysfs_read_text(dir, "name", chip, sizeof chip)) snprintf(chip, sizeof chip, "?");
    DIR *d = opendir(dir);
    if (!d) return 0;
    found (*tmp)[64] = calloc(3, sizeof *tmp);
    int cnt[3] = { 0, 0, 0 };
    if (!tmp) { closedir(d); return 0; }
    struct dirent *e;
    while ((e = readdir(d))) {
        int k = -1, idx;
        if ((idx = channel_index(e->d_name, "energy", "input")) >= 0) k = 0;
        else if ((idx = channel_index(e->d_name, "power", "input")) >= 0) k = 1;
        else if ((idx = channel_index(e->d_name, "power", "average")) >= 0) {
            char in[64];
            snprintf(in, sizeof in, "power%d_input", idx);
            if (!file_exists(dir, in)) k = 1;   /* use _average only when there is no _input */
        } else if ((idx = channel_index(e->d_name, "in", "input")) >= 0) {
            char curr[64];
            snprintf(curr, sizeof curr, "curr%d_input", idx);
            if (file_exists(dir, curr)) k = 2;
        }
        if (k < 0 || cnt[k] >= 64) continue;
        found *f = &tmp[k][cnt[k]++];
        f->kind = k;
        f->index = idx;
        snprintf(f->chip, sizeof f->chip, "%s", chip);
        f->dir = dir;
        char lname[64];
        snprintf(lname, sizeof lname, "%s%d_label", k == 0 ? "energy" : k == 1 ? "power" : "in", idx);
        if (!elmi_sysfs_read_text(dir, lname, f->label, sizeof f->label))
            snprintf(f->label, sizeof f->label, "%s%d", k == 0 ? "energy" : k == 1 ? "power" : "rail", idx);
    }
    closedir(d);
    int k = cnt[0] ? 0 : cnt[1] ? 1 : 2;
    int n = 0;
    for (int i = 0; i < cnt[k] && n < max; i++) out[n++] = tmp[k][i];
    free(tmp);
    return n;
}

static int cmp_found(const void *a, const void *b) {
    const found *x = a, *y = b;
    int c = strcmp(x->dir, y->dir);
    return c ? c : x->index - y->index;
}

elm_status elmi_energy_open_hwmon(const elm_energy_params *p, elm_energy_source **out) {
    DIR *root = opendir(p->hwmon_root);
    if (!root) return elmi_error(ELM_ERR_NOT_FOUND, "hwmon: cannot open %s: %s", p->hwmon_root, strerror(errno));
    enum { MAXF = 256 };
    found *fs = calloc(MAXF, sizeof *fs);
    if (!fs) { closedir(root); return elmi_error(ELM_ERR_NOMEM, "hwmon: out of memory"); }
    enum { MAXCHIPS = 64 };
    char *dirs[MAXCHIPS];
    int n = 0, n_dirs = 0;
    struct dirent *e;
    while ((e = readdir(root)) && n < MAXF && n_dirs < MAXCHIPS) {
        if (strncmp(e->d_name, "hwmon", 5) != 0) continue;
        size_t len = strlen(p->hwmon_root) + strlen(e->d_name) + 2;
        char *dir = malloc(len);
        if (!dir) break;
        snprintf(dir, len, "%s/%s", p->hwmon_root, e->d_name);
        dirs[n_dirs++] = dir;
        n += scan_chip(dir, fs + n, MAXF - n);
    }
    closedir(root);
    qsort(fs, (size_t)n, sizeof *fs, cmp_found);

    /* Which channels: those matching hwmon_match; else VDD_IN alone if present; else all. */
    bool has_vdd_in = false;
    for (int i = 0; i < n; i++) has_vdd_in = has_vdd_in || strcasecmp(fs[i].label, "VDD_IN") == 0;
    elm_energy_source *s = elmi_energy_new("hwmon", &hwmon_ops);
    elm_status st = s ? ELM_OK : elmi_error(ELM_ERR_NOMEM, "hwmon: out of memory");
    char list[128] = "";
    int unreadable = 0;
    uint64_t now = elmi_now_ns();
    for (int i = 0; i < n && st == ELM_OK; i++) {
        found *f = &fs[i];
        bool use = p->hwmon_match && *p->hwmon_match
                       ? strstr(f->label, p->hwmon_match) || strstr(f->chip, p->hwmon_match)
                       : !has_vdd_in || strcasecmp(f->label, "VDD_IN") == 0;
        if (!use) continue;
        char a[64], b[64] = "";
        if (f->kind == 0) snprintf(a, sizeof a, "energy%d_input", f->index);
        else if (f->kind == 1) {
            snprintf(a, sizeof a, "power%d_input", f->index);
            if (!file_exists(f->dir, a)) snprintf(a, sizeof a, "power%d_average", f->index);
        } else {
            snprintf(a, sizeof a, "in%d_input", f->index);
            snprintf(b, sizeof b, "curr%d_input", f->index);
        }
        int fa = open_file(f->dir, a), fb = b[0] ? open_file(f->dir, b) : -1;
        int64_t va, vb = 1;
        if (fa < 0 || (b[0] && fb < 0) || !elmi_sysfs_read_int(fa, &va) || (fb >= 0 && !elmi_sysfs_read_int(fb, &vb))) {
            if (fa >= 0) close(fa);
            if (fb >= 0) close(fb);
            unreadable++;
            continue;
        }
        char label[64];
        snprintf(label, sizeof label, "%s %s", f->chip, f->label);
        elmi_energy_channel *c = elmi_energy_add_channel(s, f->kind == 0 ? ELM_ENERGY_COUNTER : ELM_ENERGY_POWER, label);
        if (!c) {
            close(fa);
            if (fb >= 0) close(fb);
            st = elmi_error(ELM_ERR_NOMEM, "hwmon: out of memory");
            break;
        }
        c->fd = fa;
        c->fd2 = fb;
        c->scale = 1e-6;   /* µJ -> J, µW -> W, mV x mA -> W */
        if (f->kind == 0) elmi_energy_counter_raw(c, va < 0 ? 0 : (uint64_t)va, now);
        else elmi_energy_power(c, (double)va * (double)vb * c->scale, now);
        size_t used = strlen(list);
        if (used + 4 < sizeof list)
            snprintf(list + used, sizeof list - used, "%s%s", used ? " + " : "", label);
    }
    free(fs);
    for (int i = 0; i < n_dirs; i++) free(dirs[i]);
    if (st == ELM_OK && s->n_ch == 0) {
        if (unreadable)
            st = elmi_error(ELM_ERR_IO, "hwmon: %d power/energy channel(s) under %s could not be read", unreadable, p->hwmon_root);
        else if (p->hwmon_match && *p->hwmon_match)
            st = elmi_error(ELM_ERR_NOT_FOUND, "hwmon: no power or energy channel under %s matches '%s'", p->hwmon_root, p->hwmon_match);
        else
            st = elmi_error(ELM_ERR_NOT_FOUND, "hwmon: no power or energy channel under %s", p->hwmon_root);
    }
    if (st == ELM_OK) {
        snprintf(s->name, sizeof s->name, "hwmon (%s)", list);
        st = elmi_energy_start(s, p->interval_seconds);
    }
    if (st != ELM_OK) { elm_energy_free(s); return st; }
    *out = s;
    return ELM_OK;
}
