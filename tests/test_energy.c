/* test_energy.c: energy sources against fake sysfs trees (RAPL with wrap-around, psys and
 * MMIO duplicates, missing files; hwmon with INA3221 rails, power and energy channels),
 * the command source (one-shot, streaming, failing, stale), callbacks (integration checked
 * against hand-computed joules at injected times) and the estimate source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "edgelm.h"
#include "clock.h"
#include "energy.h"
#include "support.h"

/* ==== Fake trees ========================================================================= */

static void mkdirs(const char *base, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    mkdir(path, 0755);
}

/* Write in place (same inode), as the kernel updates a sysfs attribute. */
static void put(const char *base, const char *rel, const char *fmt, ...) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    FILE *f = fopen(path, "r+");
    if (!f) f = fopen(path, "w");
    assert_non_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    /* r+ keeps old bytes past the new end: truncate to what was written. */
    long end = ftell(f);
    fflush(f);
    assert_int_equal(ftruncate(fileno(f), end), 0);
    fclose(f);
}

static void zone(const char *root, const char *dir, const char *name, uint64_t uj, uint64_t range) {
    mkdirs(root, dir);
    char rel[256];
    snprintf(rel, sizeof rel, "%s/name", dir);
    put(root, rel, "%s", name);
    snprintf(rel, sizeof rel, "%s/energy_uj", dir);
    put(root, rel, "%llu", (unsigned long long)uj);
    if (range) {
        snprintf(rel, sizeof rel, "%s/max_energy_range_uj", dir);
        put(root, rel, "%llu", (unsigned long long)range);
    }
}

static elm_energy_params fake_params(const char *powercap, const char *hwmon) {
    elm_energy_params p = elm_energy_default_params();
    p.powercap_root = powercap;
    p.hwmon_root = hwmon;
    p.interval_seconds = 0;      /* no thread: readings happen only when the test reads */
    return p;
}

static const uint64_t RANGE = 262143328850ull;

static const char *make_rapl_tree(void) {
    const char *tmp = elmt_tmpdir();
    assert_non_null(tmp);
    static char root[4096];
    snprintf(root, sizeof root, "%s/powercap", tmp);
    mkdirs(root, "intel-rapl");                          /* the control type: no counter */
    zone(root, "intel-rapl:0", "package-0", 1000000, RANGE);
    zone(root, "intel-rapl:0:0", "core", 500000, RANGE);        /* part of the package */
    zone(root, "intel-rapl:0:1", "dram", 2000000, RANGE);
    zone(root, "intel-rapl:1", "psys", 9000000, RANGE);         /* covers the packages */
    zone(root, "intel-rapl-mmio:0", "package-0", 1000000, RANGE); /* duplicate interface */
    zone(root, "intel-rapl:2", "package-1", 7000000, 0);        /* no max_energy_range_uj */
    mkdirs(root, "intel-rapl:3");                               /* a zone with no files */
    put(root, "intel-rapl:3/name", "package-2");
    return root;
}

/* ==== RAPL =============================================================================== */

static void rapl_sums_packages_and_dram_with_wraparound(void **state) {
    (void)state;
    const char *root = make_rapl_tree();
    elm_energy_params p = fake_params(root, "/nonexistent");
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_rapl(&p, &s), ELM_OK);
    const char *name = elm_energy_name(s);
    assert_non_null(strstr(name, "package-0"));
    assert_non_null(strstr(name, "package-1"));
    assert_non_null(strstr(name, "dram"));
    assert_null(strstr(name, "psys"));
    assert_null(strstr(name, "core"));
    assert_false(elm_energy_is_estimate(s));

    double j = -1;
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j) < 1e-12);

    /* package-0 +2 J, dram +0.5 J, package-1 +1 J; core and psys and mmio must not count. */
    put(root, "intel-rapl:0/energy_uj", "%llu", 3000000ull);
    put(root, "intel-rapl:0:1/energy_uj", "%llu", 2500000ull);
    put(root, "intel-rapl:2/energy_uj", "%llu", 8000000ull);
    put(root, "intel-rapl:0:0/energy_uj", "%llu", 99000000ull);
    put(root, "intel-rapl:1/energy_uj", "%llu", 99000000ull);
    put(root, "intel-rapl-mmio:0/energy_uj", "%llu", 99000000ull);
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j - 3.5) < 1e-9);

    /* package-0 wraps: from RANGE-1 J to 0.25 J is 1 J + 0.25 J. */
    put(root, "intel-rapl:0/energy_uj", "%llu", (unsigned long long)(RANGE - 1000000));
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    double before = j;
    assert_true(fabs(before - (3.5 + (double)(RANGE - 1000000 - 3000000) * 1e-6)) < 1e-6);
    put(root, "intel-rapl:0/energy_uj", "%llu", 250000ull);
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs((j - before) - 1.25) < 1e-6);

    /* package-1 has no range: a decrease is a reset, counting the new value (0.75 J). */
    put(root, "intel-rapl:2/energy_uj", "%llu", 750000ull);
    before = j;
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs((j - before) - 0.75) < 1e-6);

    /* A zone's counter disappears: the read fails, it does not guess. */
    put(root, "intel-rapl:0:1/energy_uj", "garbage");
    assert_int_equal(elm_energy_read(s, &j), ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "dram"));
    elm_energy_free(s);
}

static void rapl_without_dram_and_missing_trees(void **state) {
    (void)state;
    const char *root = make_rapl_tree();
    elm_energy_params p = fake_params(root, "/nonexistent");
    p.rapl_dram = false;
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_rapl(&p, &s), ELM_OK);
    assert_null(strstr(elm_energy_name(s), "dram"));
    put(root, "intel-rapl:0:1/energy_uj", "%llu", 9000000ull);
    double j;
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j) < 1e-12);
    elm_energy_free(s);

    /* No tree at all, an empty tree, and zones whose counters are all missing. */
    p = fake_params("/nonexistent/powercap", "/nonexistent");
    s = NULL;
    assert_int_equal(elm_energy_open_rapl(&p, &s), ELM_ERR_NOT_FOUND);
    assert_null(s);
    assert_non_null(strstr(elm_last_error(), "/nonexistent/powercap"));

    const char *tmp = elmt_tmpdir();
    char empty[4096];
    snprintf(empty, sizeof empty, "%s/powercap", tmp);
    mkdirs(empty, "intel-rapl");
    p = fake_params(empty, "/nonexistent");
    assert_int_equal(elm_energy_open_rapl(&p, &s), ELM_ERR_NOT_FOUND);
    mkdirs(empty, "intel-rapl:0");
    put(empty, "intel-rapl:0/name", "package-0");
    assert_int_equal(elm_energy_open_rapl(&p, &s), ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "energy_uj"));
    assert_null(s);
}

static void rapl_thread_keeps_counting(void **state) {
    (void)state;
    const char *root = make_rapl_tree();
    elm_energy_params p = fake_params(root, "/nonexistent");
    p.interval_seconds = 0.01;   /* counters-only: the thread polls once a second */
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_rapl(&p, &s), ELM_OK);
    assert_true(s->thread_running);
    assert_true(s->interval_seconds >= 1.0);
    put(root, "intel-rapl:0/energy_uj", "%llu", 1500000ull);
    double j;
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j - 0.5) < 1e-9);
    elm_energy_free(s);
}

/* ==== hwmon ============================================================================== */

static const char *make_hwmon_tree(void) {
    const char *tmp = elmt_tmpdir();
    assert_non_null(tmp);
    static char root[4096];
    snprintf(root, sizeof root, "%s/hwmon", tmp);
    /* A Jetson INA3221: rails as voltage (mV) x current (mA). */
    mkdirs(root, "hwmon0");
    put(root, "hwmon0/name", "ina3221");
    put(root, "hwmon0/in1_label", "VDD_IN");
    put(root, "hwmon0/in1_input", "5000");
    put(root, "hwmon0/curr1_input", "1000");
    put(root, "hwmon0/in2_label", "VDD_CPU_GPU_CV");
    put(root, "hwmon0/in2_input", "5000");
    put(root, "hwmon0/curr2_input", "400");
    put(root, "hwmon0/in3_label", "VDD_SOC");
    put(root, "hwmon0/in3_input", "5000");             /* curr3_input missing: not a rail */
    /* A temperature sensor: nothing to use. */
    mkdirs(root, "hwmon1");
    put(root, "hwmon1/name", "k10temp");
    put(root, "hwmon1/temp1_input", "45000");
    return root;
}

static void hwmon_prefers_jetson_vdd_in_and_integrates(void **state) {
    (void)state;
    const char *root = make_hwmon_tree();
    elm_energy_params p = fake_params("/nonexistent", root);
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_hwmon(&p, &s), ELM_OK);
    assert_int_equal(s->n_ch, 1);
    assert_non_null(strstr(elm_energy_name(s), "VDD_IN"));
    assert_null(strstr(elm_energy_name(s), "CPU"));

    /* Step integration at injected times: 5 W held for 1 s, then 5 W for 0.5 s more (the
       new 10 W reading starts counting only from when it is read), then 10 W for 0.5 s. */
    uint64_t t0 = elmi_now_ns() + 1000000000ull;
    double j0, j;
    assert_int_equal(elmi_energy_read_at(s, t0, &j0), ELM_OK);
    assert_int_equal(elmi_energy_read_at(s, t0 + 1000000000ull, &j), ELM_OK);
    assert_true(fabs((j - j0) - 5.0) < 1e-9);
    put(root, "hwmon0/curr1_input", "2000");
    assert_int_equal(elmi_energy_read_at(s, t0 + 1500000000ull, &j), ELM_OK);
    assert_true(fabs((j - j0) - 7.5) < 1e-9);
    assert_int_equal(elmi_energy_read_at(s, t0 + 2000000000ull, &j), ELM_OK);
    assert_true(fabs((j - j0) - 12.5) < 1e-9);

    /* A rail's file goes missing mid-run: reads fail. */
    put(root, "hwmon0/curr1_input", "n/a");
    assert_int_equal(elmi_energy_read_at(s, t0 + 2500000000ull, &j), ELM_ERR_IO);
    elm_energy_free(s);
}

static void hwmon_match_selects_rails(void **state) {
    (void)state;
    const char *root = make_hwmon_tree();
    elm_energy_params p = fake_params("/nonexistent", root);
    p.hwmon_match = "CPU";
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_hwmon(&p, &s), ELM_OK);
    assert_int_equal(s->n_ch, 1);
    assert_non_null(strstr(elm_energy_name(s), "VDD_CPU_GPU_CV"));
    uint64_t t0 = elmi_now_ns() + 1000000000ull;
    double j0, j;
    assert_int_equal(elmi_energy_read_at(s, t0, &j0), ELM_OK);
    assert_int_equal(elmi_energy_read_at(s, t0 + 2000000000ull, &j), ELM_OK);
    assert_true(fabs((j - j0) - 4.0) < 1e-9);     /* 5 V x 0.4 A x 2 s */
    elm_energy_free(s);

    p.hwmon_match = "nothing-like-this";
    s = NULL;
    assert_int_equal(elm_energy_open_hwmon(&p, &s), ELM_ERR_NOT_FOUND);
    assert_non_null(strstr(elm_last_error(), "nothing-like-this"));
    assert_null(s);

    /* The spec text form picks the same rail. */
    p = fake_params("/nonexistent", root);
    assert_int_equal(elm_energy_open("hwmon:CPU_GPU", &p, &s), ELM_OK);
    assert_int_equal(s->n_ch, 1);
    elm_energy_free(s);
}

static void hwmon_energy_and_power_channels(void **state) {
    (void)state;
    const char *tmp = elmt_tmpdir();
    char root[4096];
    snprintf(root, sizeof root, "%s/hwmon", tmp);
    /* Energy counters (µJ) win over the power readings of the same chip. */
    mkdirs(root, "hwmon3");
    put(root, "hwmon3/name", "amd_energy");
    put(root, "hwmon3/energy1_label", "Ecore000");
    put(root, "hwmon3/energy1_input", "1000000");
    put(root, "hwmon3/energy2_label", "Esocket0");
    put(root, "hwmon3/energy2_input", "5000000");
    put(root, "hwmon3/power1_input", "99000000");
    /* A power meter: power1_input (µW), and power2_average alone. */
    mkdirs(root, "hwmon4");
    put(root, "hwmon4/name", "meter");
    put(root, "hwmon4/power1_input", "2000000");
    put(root, "hwmon4/power2_average", "500000");
    elm_energy_params p = fake_params("/nonexistent", root);
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_hwmon(&p, &s), ELM_OK);
    assert_int_equal(s->n_ch, 4);
    uint64_t t0 = elmi_now_ns() + 1000000000ull;
    double j0, j;
    assert_int_equal(elmi_energy_read_at(s, t0, &j0), ELM_OK);
    put(root, "hwmon3/energy1_input", "1600000");
    put(root, "hwmon3/energy2_input", "5400000");
    assert_int_equal(elmi_energy_read_at(s, t0 + 1000000000ull, &j), ELM_OK);
    /* counters: 0.6 + 0.4 J; power: (2 + 0.5) W x 1 s */
    assert_true(fabs((j - j0) - 3.5) < 1e-9);
    /* energy1 restarts (driver reload): counted from 0. */
    put(root, "hwmon3/energy1_input", "100000");
    double j1 = j;
    assert_int_equal(elmi_energy_read_at(s, t0 + 2000000000ull, &j), ELM_OK);
    assert_true(fabs((j - j1) - (0.1 + 2.5)) < 1e-9);
    elm_energy_free(s);

    /* No hwmon tree, or one without any power channel. */
    p = fake_params("/nonexistent", "/nonexistent/hwmon");
    assert_int_equal(elm_energy_open_hwmon(&p, &s), ELM_ERR_NOT_FOUND);
    char only_temp[4096];
    snprintf(only_temp, sizeof only_temp, "%s/hwmon-temp", tmp);
    mkdirs(only_temp, "hwmon0");
    put(only_temp, "hwmon0/temp1_input", "40000");
    p = fake_params("/nonexistent", only_temp);
    assert_int_equal(elm_energy_open_hwmon(&p, &s), ELM_ERR_NOT_FOUND);
    /* "auto" tries RAPL then hwmon and explains both failures. */
    assert_int_equal(elm_energy_open("auto", &p, &s), ELM_ERR_NOT_FOUND);
    assert_non_null(strstr(elm_last_error(), "RAPL"));
    assert_non_null(strstr(elm_last_error(), "hwmon"));
}

/* ==== Callbacks ========================================================================== */

typedef struct series { const double *v; int n, i; int calls; bool fail; } series;

static elm_status next_value(void *user, double *value) {
    series *s = user;
    s->calls++;
    if (s->fail) return ELM_ERR_IO;
    *value = s->v[s->i < s->n ? s->i : s->n - 1];
    s->i++;
    return ELM_OK;
}

static void callback_power_and_counter(void **state) {
    (void)state;
    /* Power: readings 2 W (at open), 4 W, 1 W at known times. */
    const double watts[] = { 2, 4, 1, 1 };
    series w = { watts, 4, 0, 0, false };
    elm_energy_params p = elm_energy_default_params();
    p.interval_seconds = 0;
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_callback("board", ELM_ENERGY_POWER, next_value, &w, &p, &s), ELM_OK);
    assert_non_null(strstr(elm_energy_name(s), "board"));
    uint64_t t0 = s->ch[0].last_ns;
    double j;
    assert_int_equal(elmi_energy_read_at(s, t0 + 500000000ull, &j), ELM_OK);   /* 2 W x 0.5 s */
    assert_true(fabs(j - 1.0) < 1e-9);
    assert_int_equal(elmi_energy_read_at(s, t0 + 1500000000ull, &j), ELM_OK);  /* + 4 W x 1 s */
    assert_true(fabs(j - 5.0) < 1e-9);
    /* Between readings the last one holds: 1 W from t0+1.5 s. */
    assert_int_equal(elmi_energy_read_at(s, t0 + 3500000000ull, &j), ELM_OK);
    assert_true(fabs(j - 7.0) < 1e-9);
    w.fail = true;
    assert_int_equal(elm_energy_read(s, &j), ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "callback"));
    elm_energy_free(s);

    /* Counter: cumulative joules, with a reset. */
    const double joules[] = { 100, 103, 110, 2, 5 };
    series c = { joules, 5, 0, 0, false };
    assert_int_equal(elm_energy_open_callback("meter", ELM_ENERGY_COUNTER, next_value, &c, &p, &s), ELM_OK);
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j - 3) < 1e-12);
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j - 10) < 1e-12);
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);   /* reset: +2 */
    assert_true(fabs(j - 12) < 1e-12);
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    assert_true(fabs(j - 15) < 1e-12);
    elm_energy_free(s);

    /* A callback that fails at once gives no source. */
    series bad = { joules, 5, 0, 0, true };
    s = NULL;
    assert_int_equal(elm_energy_open_callback("bad", ELM_ENERGY_COUNTER, next_value, &bad, &p, &s), ELM_ERR_IO);
    assert_null(s);
    assert_int_equal(elm_energy_open_callback("x", (elm_energy_kind)7, next_value, &bad, &p, &s), ELM_ERR_INVALID_ARG);
}

static void power_callback_sampled_by_thread(void **state) {
    (void)state;
    const double watts[] = { 3 };
    series w = { watts, 1, 0, 0, false };
    elm_energy_params p = elm_energy_default_params();
    p.interval_seconds = 0.005;
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_callback("const", ELM_ENERGY_POWER, next_value, &w, &p, &s), ELM_OK);
    double j0, j1;
    assert_int_equal(elm_energy_read(s, &j0), ELM_OK);
    uint64_t a = elmi_now_ns();
    usleep(100000);
    assert_int_equal(elm_energy_read(s, &j1), ELM_OK);
    double dt = (double)(elmi_now_ns() - a) * 1e-9;
    /* Constant 3 W: exactly 3 W x the time between the reads (clock granularity aside). */
    assert_true(fabs((j1 - j0) - 3.0 * dt) < 3.0 * 0.02);
    pthread_mutex_lock(&s->lock);
    int calls = w.calls;
    pthread_mutex_unlock(&s->lock);
    assert_true(calls >= 5);     /* the thread sampled in between, not only our two reads */
    elm_energy_free(s);
}

/* ==== Command source ===================================================================== */

static void command_one_shot_and_streaming(void **state) {
    (void)state;
    elm_energy_params p = elm_energy_default_params();
    p.interval_seconds = 0.02;
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_command("echo 4.5", &p, &s), ELM_OK);
    assert_non_null(strstr(elm_energy_name(s), "echo 4.5"));
    double j0, j1;
    assert_int_equal(elm_energy_read(s, &j0), ELM_OK);
    uint64_t a = elmi_now_ns();
    usleep(150000);
    assert_int_equal(elm_energy_read(s, &j1), ELM_OK);
    double dt = (double)(elmi_now_ns() - a) * 1e-9;
    assert_true(fabs((j1 - j0) - 4.5 * dt) < 4.5 * 0.02);
    assert_true(s->n_samples >= 2);   /* run again every interval */
    elm_energy_free(s);

    /* A streaming command with text around the number; it records its pid so we can
       check that freeing the source ends it. */
    const char *tmp = elmt_tmpdir();
    char cmd[8192], pidfile[4096];
    snprintf(pidfile, sizeof pidfile, "%s/pid", tmp);
    snprintf(cmd, sizeof cmd, "echo $$ > %s; while true; do echo \"power: 2.5 W\"; sleep 0.01; done", pidfile);
    assert_int_equal(elm_energy_open_command(cmd, &p, &s), ELM_OK);
    assert_int_equal(elm_energy_read(s, &j0), ELM_OK);
    a = elmi_now_ns();
    usleep(100000);
    assert_int_equal(elm_energy_read(s, &j1), ELM_OK);
    dt = (double)(elmi_now_ns() - a) * 1e-9;
    assert_true(fabs((j1 - j0) - 2.5 * dt) < 2.5 * 0.02);
    elm_energy_free(s);
    char *text = elmt_read_file(pidfile, NULL);
    assert_non_null(text);
    pid_t pid = (pid_t)atoi(text);
    free(text);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void command_failures_say_why(void **state) {
    (void)state;
    elm_energy_params p = elm_energy_default_params();
    p.interval_seconds = 0.05;
    p.first_sample_timeout_seconds = 0.5;
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open_command("exit 3", &p, &s), ELM_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(elm_last_error(), "status 3"));
    assert_int_equal(elm_energy_open_command("echo no numbers here", &p, &s), ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "no number"));
    assert_int_equal(elm_energy_open("cmd:", &p, &s), ELM_ERR_INVALID_ARG);

    /* One number, then silence: once stale (2 s), reads fail instead of reusing it. */
    assert_int_equal(elm_energy_open_command("echo 2; exec sleep 30", &p, &s), ELM_OK);
    double j;
    assert_int_equal(elm_energy_read(s, &j), ELM_OK);
    usleep(elmt_quick() ? 2300000 : 2200000);
    assert_int_equal(elm_energy_read(s, &j), ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "no reading"));
    elm_energy_free(s);   /* must end the sleeping command promptly */
}

/* ==== Estimate and spec texts ============================================================ */

static void estimate_is_labelled(void **state) {
    (void)state;
    elm_energy_source *s = NULL;
    assert_int_equal(elm_energy_open("estimate:6.5", NULL, &s), ELM_OK);
    assert_true(elm_energy_is_estimate(s));
    assert_non_null(strstr(elm_energy_name(s), "estimate"));
    double j0, j1;
    uint64_t t0 = s->open_ns;
    assert_int_equal(elmi_energy_read_at(s, t0 + 2000000000ull, &j0), ELM_OK);
    assert_true(fabs(j0 - 13.0) < 1e-9);
    assert_int_equal(elm_energy_read(s, &j1), ELM_OK);
    elm_energy_free(s);

    assert_int_equal(elm_energy_open("estimate:abc", NULL, &s), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_energy_open("estimate:-3", NULL, &s), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_energy_open("estimate:5 W", NULL, &s), ELM_OK);
    elm_energy_free(s);
    assert_int_equal(elm_energy_open("battery", NULL, &s), ELM_ERR_INVALID_ARG);
    assert_non_null(strstr(elm_last_error(), "battery"));
    assert_string_equal(elm_figure_status_name(ELM_FIGURE_ESTIMATED), "estimated");
    assert_string_equal(elm_figure_status_name(ELM_FIGURE_UNAVAILABLE), "unavailable");
    elm_energy_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rapl_sums_packages_and_dram_with_wraparound),
        cmocka_unit_test(rapl_without_dram_and_missing_trees),
        cmocka_unit_test(rapl_thread_keeps_counting),
        cmocka_unit_test(hwmon_prefers_jetson_vdd_in_and_integrates),
        cmocka_unit_test(hwmon_match_selects_rails),
        cmocka_unit_test(hwmon_energy_and_power_channels),
        cmocka_unit_test(callback_power_and_counter),
        cmocka_unit_test(power_callback_sampled_by_thread),
        cmocka_unit_test(command_one_shot_and_streaming),
        cmocka_unit_test(command_failures_say_why),
        cmocka_unit_test(estimate_is_labelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
