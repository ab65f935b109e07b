/* threadpool.c: persistent worker threads that run one task on every thread at once.
 *
 * How a run works: the caller (thread 0) stores the task, resets the done counter and
 * bumps the generation counter; each worker, waiting for the generation to change, runs
 * fn(arg, ith, n) and then counts itself done; the caller runs its own share as ith 0 and
 * waits until all n-1 workers are done. Waiting (for work, for the end of a run, at a
 * barrier) first spins with a pause instruction for about SPIN_NS, because the next run
 * usually comes within microseconds during a forward pass; then workers and the caller
 * sleep on condition variables, so an idle pool costs no CPU.
 *
 * Lost wake-ups are avoided with the usual store-then-check pairing on sequentially
 * consistent atomics: a waiter announces itself (sleepers / caller_sleeping) and re-reads
 * the condition under the mutex before sleeping; the waker changes the condition, then
 * reads the announcement and only then takes the mutex to signal. One of the two always
 * sees the other's write.
 *
 * Hot fields written by different threads live on their own 64-byte lines, and each
 * worker's state is padded to a line, so threads do not slow each other by false sharing.
 * Must not: allocate, create threads or print in elmi_pool_run or elmi_pool_barrier.
 */
#include "threadpool.h"
#include "clock.h"
#include "error.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64
#define SPIN_NS 100000u          /* 100 us of spinning before sleeping (or yielding) */
#define MAX_THREADS 1024

typedef struct worker {
    alignas(CACHE_LINE) struct elmi_pool *pool;
    pthread_t thread;
    int ith;                     /* 1..n-1 */
} worker;

struct elmi_pool {
    int n;                       /* threads, the caller included */
    int n_started;               /* workers actually running (n-1 after a good create) */
    worker *workers;             /* n-1 entries, one cache line each */
    pthread_mutex_t mu;
    pthread_cond_t wake_cv;      /* workers sleep here, waiting for a new generation */
    pthread_cond_t done_cv;      /* the caller sleeps here, waiting for the workers */

    /* the current task: written by the caller before the generation is bumped */
    alignas(CACHE_LINE) elmi_task_fn fn;
    void *arg;
    atomic_bool stop;            /* set once, by elmi_pool_free */

    alignas(CACHE_LINE) atomic_uint generation;  /* one more per run */
    alignas(CACHE_LINE) atomic_int sleepers;     /* workers waiting on wake_cv */
    alignas(CACHE_LINE) atomic_int n_done;       /* workers done with this run */
    alignas(CACHE_LINE) atomic_int caller_sleeping;
    alignas(CACHE_LINE) atomic_int barrier_count;  /* threads arrived at this barrier */
    alignas(CACHE_LINE) atomic_uint barrier_phase; /* one more per completed barrier */
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* One step of a wait loop: a pause for the first PAUSE_SPINS steps (the other thread is
 * running and about to answer), then giving the CPU away, in case the thread we wait for
 * is not running because there are more threads than cores. */
#define PAUSE_SPINS 256u
static inline void backoff(unsigned i) {
    if (i < PAUSE_SPINS) cpu_relax();
    else sched_yield();
}

/* Spin until *g differs from seen or about SPIN_NS pass; returns the last value read. */
static unsigned spin_generation(atomic_uint *g, unsigned seen) {
    uint64_t t0 = 0;
    for (unsigned i = 0;; i++) {
        unsigned v = atomic_load_explicit(g, memory_order_acquire);
        if (v != seen) return v;
        backoff(i);
        if ((i & 63) == 63) {
            uint64_t now = elmi_now_ns();
            if (!t0) t0 = now;
            else if (now - t0 > SPIN_NS) return v;
        }
    }
}

static unsigned wait_for_work(elmi_pool *p, unsigned seen) {
    unsigned g = spin_generation(&p->generation, seen);
    if (g != seen) return g;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while ((g = atomic_load(&p->generation)) == seen) pthread_cond_wait(&p->wake_cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    elmi_pool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_work(p, seen);
        if (atomic_load(&p->stop)) break;
        p->fn(p->arg, w->ith, p->n);
        if (atomic_fetch_add(&p->n_done, 1) + 1 == p->n - 1 && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* Publish a new generation and wake any sleeping worker. */
static void publish(elmi_pool *p) {
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void wait_for_workers(elmi_pool *p) {
    const int want = p->n - 1;
    uint64_t t0 = 0;
    for (unsigned i = 0;; i++) {
        if (atomic_load_explicit(&p->n_done, memory_order_acquire) == want) return;
        backoff(i);
        if ((i & 63) == 63) {
            uint64_t now = elmi_now_ns();
            if (!t0) t0 = now;
            else if (now - t0 > SPIN_NS) break;
        }
    }
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeping, 1);
    while (atomic_load(&p->n_done) != want) pthread_cond_wait(&p->done_cv, &p->mu);
    atomic_store(&p->caller_sleeping, 0);
    pthread_mutex_unlock(&p->mu);
}

static void stop_workers(elmi_pool *p) {
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i].thread, NULL);
    p->n_started = 0;
}

elmi_pool *elmi_pool_create(int n_threads) {
    if (n_threads < 1 || n_threads > MAX_THREADS) {
        elmi_error(ELM_ERR_INVALID_ARG, "thread pool: %d threads requested (1..%d allowed)", n_threads, MAX_THREADS);
        return NULL;
    }
    size_t pool_bytes = (sizeof(elmi_pool) + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    elmi_pool *p = aligned_alloc(CACHE_LINE, pool_bytes);
    if (!p) {
        elmi_error(ELM_ERR_NOMEM, "thread pool: out of memory");
        return NULL;
    }
    memset(p, 0, sizeof *p);
    p->n = n_threads;
    atomic_init(&p->stop, false);
    atomic_init(&p->generation, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->caller_sleeping, 0);
    atomic_init(&p->barrier_count, 0);
    atomic_init(&p->barrier_phase, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n_threads == 1) return p;

    p->workers = aligned_alloc(CACHE_LINE, (size_t)(n_threads - 1) * sizeof(worker));
    if (!p->workers) {
        elmi_pool_free(p);
        elmi_error(ELM_ERR_NOMEM, "thread pool: out of memory for %d workers", n_threads - 1);
        return NULL;
    }
    for (int i = 0; i < n_threads - 1; i++) {
        worker *w = &p->workers[i];
        memset(w, 0, sizeof *w);
        w->pool = p;
        w->ith = i + 1;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            elmi_pool_free(p);
            elmi_error(ELM_ERR_NOMEM, "thread pool: cannot start worker %d of %d: %s", i + 1, n_threads - 1,
                       strerror(rc));
            return NULL;
        }
        p->n_started++;
        char name[16];
        snprintf(name, sizeof name, "edgelm-w%d", i + 1);
        pthread_setname_np(w->thread, name);
    }
    return p;
}

void elmi_pool_free(elmi_pool *p) {
    if (!p) return;
    stop_workers(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->workers);
    free(p);
}

int elmi_pool_size(const elmi_pool *p) { return p ? p->n : 0; }

void elmi_pool_run(elmi_pool *p, elmi_task_fn fn, void *arg) {
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->n_done, 0);
    publish(p);
    fn(arg, 0, p->n);
    wait_for_workers(p);
}

/* A counter-and-phase barrier (sense reversal generalised to a phase number): the last
 * thread to arrive resets the counter and advances the phase; the others wait for the
 * phase to change. Nobody can arrive at the next barrier before the phase has advanced,
 * so the reset never races with a new arrival. Waits are expected to be short (threads
 * of one task), so waiters spin, then yield the CPU, but never sleep. */
void elmi_pool_barrier(void *pool) {
    elmi_pool *p = pool;
    if (p->n == 1) return;
    const unsigned phase = atomic_load_explicit(&p->barrier_phase, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->barrier_count, 1, memory_order_acq_rel) == p->n - 1) {
        atomic_store_explicit(&p->barrier_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->barrier_phase, 1, memory_order_release);
        return;
    }
    unsigned now = spin_generation(&p->barrier_phase, phase);
    while (now == phase) {
        sched_yield();
        now = atomic_load_explicit(&p->barrier_phase, memory_order_acquire);
    }
}
