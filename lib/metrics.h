/* metrics.h: the per-context recorder that elm_decode stamps (internal).
 *
 * A context owns one elmi_metrics, made at creation. elm_decode calls
 * elmi_metrics_decode_begin before evaluating and elmi_metrics_decode_end after: two clock
 * reads, a few additions and one store into a preallocated ring of token latencies; plus,
 * only when an energy source is attached, one reading of it on each side.
 * Must not: allocate or format on the decode path; know the model's internals (memory
 * figures come through the public model/context getters).
 */
#ifndef ELM_METRICS_INTERNAL_H
#define ELM_METRICS_INTERNAL_H

#include "edgelm.h"

typedef struct elmi_metrics elmi_metrics;

elmi_metrics *elmi_metrics_create(void);          /* NULL when out of memory */
void elmi_metrics_free(elmi_metrics *m);
size_t elmi_metrics_bytes(void);                  /* what one recorder takes */

void elmi_metrics_decode_begin(elmi_metrics *m, int32_t n_tokens);
/* status: what elm_decode returns; a failed call is neither counted nor timed. */
void elmi_metrics_decode_end(elmi_metrics *m, int32_t n_tokens, elm_status status);

/* Mean, nearest-rank percentiles and maximum of n latency samples (seconds). */
void elmi_latency_stats(const float *samples, int64_t n, elm_latency *out);

/* The recorder of a context (context.c provides it). */
elmi_metrics *elmi_context_metrics(const elm_context *ctx);

#endif
