/* threadpool.h: persistent worker threads for one context (internal).
 *
 * Created once with n threads (the caller counts as thread 0, so n-1 workers are started);
 * elmi_pool_run runs fn(arg, ith, nth) on all of them and returns when all are done.
 * Inside fn, elmi_pool_barrier waits for every thread. Workers spin briefly, then sleep
 * on a condition variable, so an idle context costs no CPU.
 * Must not: allocate or create threads in elmi_pool_run (it is on the per-token path).
 */
#ifndef ELM_THREADPOOL_H
#define ELM_THREADPOOL_H

typedef struct elmi_pool elmi_pool;
typedef void (*elmi_task_fn)(void *arg, int ith, int nth);

elmi_pool *elmi_pool_create(int n_threads);   /* NULL on failure (elmi_error set) */
void elmi_pool_free(elmi_pool *p);
int elmi_pool_size(const elmi_pool *p);
void elmi_pool_run(elmi_pool *p, elmi_task_fn fn, void *arg);
/* Barrier for all threads of the current elmi_pool_run; arg is the pool (elmk_barrier_fn). */
void elmi_pool_barrier(void *pool);

#endif
