/* energy_rapl.c: the Linux powercap RAPL energy source (Intel, and AMD Zen which uses the
 * same interface): package-N zones plus DRAM zones, each an energy_uj counter in µJ that
 * wraps at max_energy_range_uj.
 * Must not: count a domain twice (psys covers the packages; intel-rapl-mmio duplicates
 * them; core/uncore are parts of a package), or read anything but the configured root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "energy.h"

static elm_status rapl_poll(elm_energy_source *s, uint64_t now_ns) {
    for (int i = 0; i < s->n_ch; i++) {
        int64_t v;
        if (!elmi_sysfs_read_int(s->ch[i].fd, &v) || v < 0) {
            snprintf(s->error, sizeof s->error, "cannot read RAPL %s energy_uj", s->ch[i].label);
            return elmi_error(ELM_ERR_IO, "energy source %s: cannot read %s energy_uj now", s->name, s->ch[i].label);
        }
        elmi_energy_counter_raw(&s->ch[i], (uint64_t)v, now_ns);
    }
    s->error[0] = '\0';
    return ELM_OK;
}

static const elmi_energy_ops rapl_ops = { rapl_poll, NULL, NULL };

/* "intel-rapl:N" (depth 1) or "intel-rapl:N:M" (depth 2); 0 for anything else. */
static int zone_depth(const char *d) {
    const char *p = "intel-rapl:";
    if (strncmp(d, p, strlen(p)) != 0) return 0;
    d += strlen(p);
    int depth = 1;
    if (*d < '0' || *d > '9') return 0;
    for (; *d; d++) {
        if (*d == ':') { depth++; if (d[1] < '0' || d[1] > '9') return 0; }
        else if (*d < '0' || *d > '9') return 0;
    }
    return depth <= 2 ? depth : 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

elm_status elmi_energy_open_rapl(const elm_energy_params *p, elm_energy_source **out) {
    DIR *dir = opendir(p->powercap_root);
    if (!dir) return elmi_error(ELM_ERR_NOT_FOUND, "RAPL: cannot open %s: %s", p->powercap_root, strerror(errno));
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 256)
        if (zone_depth(e->d_name)) names[n++] = strdup(e->d_name);
    closedir(dir);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);

    elm_energy_source *s = elmi_energy_new("rapl", &rapl_ops);
    elm_status st = s ? ELM_OK : elmi_error(ELM_ERR_NOMEM, "RAPL: out of memory");
    char why[ELMI_ERRMSG_BYTES] = "";
    char list[120] = "";
    for (int i = 0; i < n && st == ELM_OK; i++) {
        char zdir[4096], zname[64];
        snprintf(zdir, sizeof zdir, "%s/%s", p->powercap_root, names[i]);
        if (!elmi_sysfs_read_text(zdir, "name", zname, sizeof zname)) continue;
        bool package = strncmp(zname, "package", 7) == 0 && zone_depth(names[i]) == 1;
        bool dram = strcmp(zname, "dram") == 0 && p->rapl_dram;
        if (!package && !dram) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/energy_uj", zdir);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int64_t v;
        if (fd < 0 || !elmi_sysfs_read_int(fd, &v) || v < 0) {
            int err = errno;
            if (fd >= 0) close(fd);
            if (!why[0])
                snprintf(why, sizeof why, "cannot read %.300s: %s%s", path, fd < 0 ? strerror(err) : "not a counter",
                         fd < 0 && (err == EACCES || err == EPERM)
                             ? " (RAPL counters are readable by root only on Linux 5.10 and later; run as root or "
                               "make energy_uj readable)" : "");
            continue;
        }
        /* Keep "package-0" and "package-0/dram" apart in labels. */
        char label[64];
        snprintf(label, sizeof label, "%s", zname);
        elmi_energy_channel *c = elmi_energy_add_channel(s, ELM_ENERGY_COUNTER, label);
        if (!c) { close(fd); st = elmi_error(ELM_ERR_NOMEM, "RAPL: out of memory"); break; }
        c->fd = fd;
        c->scale = 1e-6;
        char range[48];
        if (elmi_sysfs_read_text(zdir, "max_energy_range_uj", range, sizeof range)) {
            char *end;
            unsigned long long r = strtoull(range, &end, 10);
            if (end != range && *end == '\0') c->max_range = (uint64_t)r;
        }
        elmi_energy_counter_raw(c, (uint64_t)v, elmi_now_ns());
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", used ? " + " : "", zname);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    if (st == ELM_OK && s->n_ch == 0) {
        if (why[0]) st = elmi_error(ELM_ERR_IO, "RAPL: %s", why);
        else st = elmi_error(ELM_ERR_NOT_FOUND, "RAPL: no package zones under %s", p->powercap_root);
    }
    if (st == ELM_OK) {
        snprintf(s->name, sizeof s->name, "rapl (%s)", list);
        st = elmi_energy_start(s, p->interval_seconds);
    }
    if (st != ELM_OK) { elm_energy_free(s); return st; }
    *out = s;
    return ELM_OK;
}
