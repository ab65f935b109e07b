/* test_threadpool.c: the thread pool runs every task once on every thread, its barrier
 * separates phases, it wakes up after sleeping, and an idle pool uses no CPU.
 * Worker threads never call cmocka (it is not thread-safe): they count failures in
 * atomics that the main thread checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdalign.h>
#include <stdatomic.h>
#include <time.h>

#include "threadpool.h"
#include "edgelm.h"
#include "support.h"

#define MAX_T 8

typedef struct { alignas(64) long count; int nth_seen; } slot;

typedef struct {
    slot slots[MAX_T];
    atomic_int bad;                 /* wrong nth or out-of-range ith */
} hits_ctx;

static void count_task(void *arg, int ith, int nth) {
    hits_ctx *c = arg;
    if (ith < 0 || ith >= nth || ith >= MAX_T) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    c->slots[ith].count++;
    c->slots[ith].nth_seen = nth;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void every_thread_runs_once_per_run(void **state) {
    (void)state;
    const int runs = elmt_quick() ? 300 : 2000;
    for (int n = 1; n <= 4; n++) {
        elmi_pool *p = elmi_pool_create(n);
        assert_non_null(p);
        assert_int_equal(elmi_pool_size(p), n);
        hits_ctx c;
        memset(&c, 0, sizeof c);
        for (int r = 0; r < runs; r++) elmi_pool_run(p, count_task, &c);
        assert_int_equal(atomic_load(&c.bad), 0);
        for (int i = 0; i < n; i++) {
            assert_int_equal(c.slots[i].count, runs);
            assert_int_equal(c.slots[i].nth_seen, n);
        }
        for (int i = n; i < MAX_T; i++) assert_int_equal(c.slots[i].count, 0);
        elmi_pool_free(p);
    }
}

/* ---- a partitioned sum: the classic parallel-for ---------------------------------------- */

typedef struct { int64_t n; alignas(64) int64_t part[MAX_T][8]; } sum_ctx;

static void sum_task(void *arg, int ith, int nth) {
    sum_ctx *c = arg;
    int64_t lo = c->n * ith / nth, hi = c->n * (ith + 1) / nth, s = 0;
    for (int64_t i = lo; i < hi; i++) s += i;
    c->part[ith][0] = s;
}

static void partitioned_sum_is_exact(void **state) {
    (void)state;
    elmi_pool *p = elmi_pool_create(3);
    assert_non_null(p);
    for (int64_t n = 0; n < 2000; n += 37) {
        sum_ctx c;
        memset(&c, 0, sizeof c);
        c.n = n;
        elmi_pool_run(p, sum_task, &c);
        int64_t total = 0;
        for (int i = 0; i < 3; i++) total += c.part[i][0];
        assert_int_equal(total, n * (n - 1) / 2);
    }
    elmi_pool_free(p);
}

/* ---- barrier ------------------------------------------------------------------------- */

typedef struct {
    elmi_pool *pool;
    int phases;
    slot value[MAX_T];
    atomic_int wrong;               /* a thread saw another thread's value from another phase */
} barrier_ctx;

/* In phase k every thread writes k, waits, checks that all threads wrote k, waits again
 * (so nobody overwrites a value another thread is still checking). */
static void barrier_task(void *arg, int ith, int nth) {
    barrier_ctx *c = arg;
    for (int k = 1; k <= c->phases; k++) {
        c->value[ith].count = k;
        elmi_pool_barrier(c->pool);
        for (int j = 0; j < nth; j++)
            if (c->value[j].count != k) atomic_fetch_add(&c->wrong, 1);
        elmi_pool_barrier(c->pool);
    }
}

static void barrier_separates_phases(void **state) {
    (void)state;
    for (int n = 1; n <= 4; n++) {
        barrier_ctx c;
        memset(&c, 0, sizeof c);
        c.pool = elmi_pool_create(n);
        assert_non_null(c.pool);
        c.phases = elmt_quick() ? 100 : 1000;
        elmi_pool_run(c.pool, barrier_task, &c);
        elmi_pool_run(c.pool, barrier_task, &c);   /* the barrier is reusable across runs */
        assert_int_equal(atomic_load(&c.wrong), 0);
        elmi_pool_free(c.pool);
    }
}

/* ---- sleeping and waking ----------------------------------------------------------------- */

/* Workers are slow, the caller is fast: the caller must wait (sleeping) for them. */
static void slow_workers_task(void *arg, int ith, int nth) {
    (void)nth;
    if (ith != 0) sleep_ms(3);
    count_task(arg, ith, nth);
}

static void wakes_up_after_sleeping(void **state) {
    (void)state;
    elmi_pool *p = elmi_pool_create(3);
    assert_non_null(p);
    hits_ctx c;
    memset(&c, 0, sizeof c);
    for (int r = 0; r < 5; r++) {
        sleep_ms(5);                           /* past the spin time: workers are asleep */
        elmi_pool_run(p, count_task, &c);
        elmi_pool_run(p, slow_workers_task, &c);
    }
    assert_int_equal(atomic_load(&c.bad), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(c.slots[i].count, 10);
    elmi_pool_free(p);
}

static double process_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void idle_pool_uses_no_cpu(void **state) {
    (void)state;
    elmi_pool *p = elmi_pool_create(4);
    assert_non_null(p);
    hits_ctx c;
    memset(&c, 0, sizeof c);
    elmi_pool_run(p, count_task, &c);
    sleep_ms(10);                              /* let the spinning end */
    double t0 = process_cpu_seconds();
    sleep_ms(200);
    double used = process_cpu_seconds() - t0;
    /* three spinning workers would burn 0.6 s here; sleeping ones nearly nothing */
    assert_true(used < 0.02);
    elmi_pool_free(p);
}

static void bad_sizes_are_rejected(void **state) {
    (void)state;
    assert_null(elmi_pool_create(0));
    assert_non_null(strstr(elm_last_error(), "thread"));
    assert_null(elmi_pool_create(-3));
    assert_null(elmi_pool_create(1 << 20));
    elmi_pool_free(NULL);
    assert_int_equal(elmi_pool_size(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_thread_runs_once_per_run),
        cmocka_unit_test(partitioned_sum_is_exact),
        cmocka_unit_test(barrier_separates_phases),
        cmocka_unit_test(wakes_up_after_sleeping),
        cmocka_unit_test(idle_pool_uses_no_cpu),
        cmocka_unit_test(bad_sizes_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
