/* metrics.c: per-context timers, token latencies (ring + percentiles), phase and TTFT
 * bookkeeping, energy attribution around each decode, and the snapshot a caller reads.
 * Must not: allocate, format or read /proc on the decode path (decode_begin/end); invent
 * an energy figure: a phase with any failed reading is "unavailable".
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "energy.h"
#include "error.h"

ELM_API double elm_clock_seconds(void) { return (double)elmi_now_ns() * 1e-9; }

enum { PHASE_PROMPT = 0, PHASE_GEN = 1 };
enum { REQ_IDLE = 0, REQ_PROMPT = 1, REQ_GEN = 2 };

/* Energy attributed to one phase. */
typedef struct phase_energy {
    double joules;
    double seconds;
    int64_t tokens;
    int64_t failures;            /* decodes whose readings failed */
    bool measured, estimated;    /* what kinds of source contributed */
} phase_energy;

struct elmi_metrics {
    /* the decode in flight */
    uint64_t t0_ns;
    int phase;
    elm_energy_source *e_src;    /* read at begin (NULL: none) */
    double e0;
    bool e0_ok;

    /* totals */
    double seconds[2];           /* by phase */
    int64_t tokens[2];
    double tokenize_seconds, sample_seconds;
    int64_t tokenize_calls, tokenize_tokens, sample_calls;
    int64_t decode_calls;

    /* requests and time to first token */
    int req_state;
    uint64_t req_start_ns;
    int32_t req_prompt_decodes;
    double ttft_seconds;         /* -1 until a first token */

    /* generated-token latencies, seconds */
    float lat[ELM_METRICS_LATENCY_RING];
    int64_t lat_count;           /* ever recorded */

    /* energy */
    elm_energy_source *src;      /* attached to this context, or NULL */
    phase_energy energy[2];
    char energy_error[ELMI_ERRMSG_BYTES];  /* the last failed reading's message */
};

elmi_metrics *elmi_metrics_create(void) {
    elmi_metrics *m = calloc(1, sizeof *m);
    if (m) m->ttft_seconds = -1;
    return m;
}

void elmi_metrics_free(elmi_metrics *m) { free(m); }

size_t elmi_metrics_bytes(void) { return sizeof(elmi_metrics); }

static void reset(elmi_metrics *m) {
    elm_energy_source *src = m->src;
    memset(m, 0, sizeof *m);
    m->src = src;
    m->ttft_seconds = -1;
}

/* ==== The decode path ==================================================================== */

void elmi_metrics_decode_begin(elmi_metrics *m, int32_t n) {
    if (!m) return;
    m->e_src = m->src ? m->src : elmi_energy_default_source();
    if (m->e_src) {
        m->e0_ok = elm_energy_read(m->e_src, &m->e0) == ELM_OK;
        if (!m->e0_ok) elmi_error_copy(m->energy_error);
    }
    uint64_t t0 = elmi_now_ns();
    m->t0_ns = t0;
    /* Which phase: see elm_metrics_event in edgelm_metrics.h. */
    if (m->req_state == REQ_PROMPT) {
        if (n == 1 && m->req_prompt_decodes > 0) {
            m->ttft_seconds = (double)(t0 - m->req_start_ns) * 1e-9;
            m->req_state = REQ_GEN;
            m->phase = PHASE_GEN;
        } else {
            m->phase = PHASE_PROMPT;
        }
    } else if (n > 1) {
        m->req_state = REQ_PROMPT;
        m->req_start_ns = t0;
        m->req_prompt_decodes = 0;
        m->phase = PHASE_PROMPT;
    } else {
        m->phase = PHASE_GEN;
    }
    if (m->phase == PHASE_PROMPT) m->req_prompt_decodes++;
}

void elmi_metrics_decode_end(elmi_metrics *m, int32_t n, elm_status status) {
    if (!m) return;
    uint64_t t1 = elmi_now_ns();
    if (status != ELM_OK) return;   /* nothing was evaluated */
    m->decode_calls++;
    double dt = (double)(t1 - m->t0_ns) * 1e-9;
    m->seconds[m->phase] += dt;
    m->tokens[m->phase] += n;
    if (m->phase == PHASE_GEN && n == 1)
        m->lat[m->lat_count++ % ELM_METRICS_LATENCY_RING] = (float)dt;
    if (m->e_src) {
        double e1 = 0;
        bool ok = m->e0_ok && elm_energy_read(m->e_src, &e1) == ELM_OK;
        phase_energy *pe = &m->energy[m->phase];
        if (ok) {
            pe->joules += e1 - m->e0;
            pe->seconds += dt;
            pe->tokens += n;
            if (elm_energy_is_estimate(m->e_src)) pe->estimated = true;
            else pe->measured = true;
        } else {
            if (m->e0_ok) elmi_error_copy(m->energy_error);
            pe->failures++;
        }
        m->e_src = NULL;
    }
}

/* ==== Caller-reported stages and marks =================================================== */

ELM_API void elm_context_metrics_mark(elm_context *ctx, elm_metrics_event ev) {
    elmi_metrics *m = ctx ? elmi_context_metrics(ctx) : NULL;
    if (!m) return;
    uint64_t now = elmi_now_ns();
    if (ev == ELM_EVENT_REQUEST_BEGIN) {
        m->req_state = REQ_PROMPT;
        m->req_start_ns = now;
        m->req_prompt_decodes = 0;
    } else if (ev == ELM_EVENT_FIRST_TOKEN && m->req_state == REQ_PROMPT) {
        m->ttft_seconds = (double)(now - m->req_start_ns) * 1e-9;
        m->req_state = REQ_GEN;
    }
}

ELM_API void elm_context_metrics_add(elm_context *ctx, elm_metrics_stage stage, double seconds, int64_t count) {
    elmi_metrics *m = ctx ? elmi_context_metrics(ctx) : NULL;
    if (!m || !(seconds >= 0) || count < 0) return;
    if (stage == ELM_STAGE_TOKENIZE) {
        m->tokenize_seconds += seconds;
        m->tokenize_calls++;
        m->tokenize_tokens += count;
    } else if (stage == ELM_STAGE_SAMPLE) {
        m->sample_seconds += seconds;
        m->sample_calls += count;
    }
}

ELM_API void elm_context_reset_metrics(elm_context *ctx) {
    elmi_metrics *m = ctx ? elmi_context_metrics(ctx) : NULL;
    if (m) reset(m);
}

ELM_API elm_status elm_context_set_energy_source(elm_context *ctx, elm_energy_source *src) {
    elmi_metrics *m = ctx ? elmi_context_metrics(ctx) : NULL;
    if (!m) return elmi_error(ELM_ERR_INVALID_ARG, "elm_context_set_energy_source: NULL context");
    m->src = src;
    return ELM_OK;
}

/* ==== Reading ============================================================================ */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p% of the samples at or below it. */
static double percentile(const float *sorted, int64_t n, double p) {
    int64_t rank = (int64_t)ceil(p / 100.0 * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

void elmi_latency_stats(const float *samples, int64_t n, elm_latency *out) {
    memset(out, 0, sizeof *out);
    if (n <= 0) return;
    if (n > ELM_METRICS_LATENCY_RING) n = ELM_METRICS_LATENCY_RING;
    float sorted[ELM_METRICS_LATENCY_RING];
    memcpy(sorted, samples, (size_t)n * sizeof sorted[0]);
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_float);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += sorted[i];
    out->count = n;
    out->mean_seconds = sum / (double)n;
    out->p50_seconds = percentile(sorted, n, 50);
    out->p90_seconds = percentile(sorted, n, 90);
    out->p99_seconds = percentile(sorted, n, 99);
    out->max_seconds = sorted[n - 1];
}

/* One phase's figures; phase_tokens is every token of the phase, measured or not. */
static void energy_figures(const phase_energy *pe, int64_t phase_tokens, const elm_energy_source *src,
                           const char *error, elm_energy_figures *out) {
    memset(out, 0, sizeof *out);
    if (pe->failures > 0) {
        snprintf(out->note, sizeof out->note, "reading the source failed %lld time(s): %.60s", (long long)pe->failures,
                 error);
        return;
    }
    if (pe->tokens == 0 || !(pe->seconds > 0)) {
        snprintf(out->note, sizeof out->note, "%s", phase_tokens == 0 ? "no tokens in this phase"
                 : src ? "no decode of this phase ran with the energy source attached"
                       : "no energy source attached");
        return;
    }
    out->status = pe->estimated ? ELM_FIGURE_ESTIMATED : ELM_FIGURE_MEASURED;
    out->joules = pe->joules;
    out->seconds = pe->seconds;
    out->tokens = pe->tokens;
    out->avg_watts = pe->joules / pe->seconds;
    out->joules_per_token = pe->joules / (double)pe->tokens;
    out->tokens_per_joule = pe->joules > 0 ? (double)pe->tokens / pe->joules : 0;
    int n = snprintf(out->note, sizeof out->note, "%s", src ? elm_energy_name(src) : "source since detached");
    if (pe->tokens < phase_tokens && n >= 0 && (size_t)n < sizeof out->note)
        snprintf(out->note + n, sizeof out->note - (size_t)n, "; covers %lld of %lld tokens", (long long)pe->tokens,
                 (long long)phase_tokens);
}

ELM_API elm_status elm_context_get_metrics(const elm_context *ctx, elm_metrics *out) {
    if (!ctx || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_context_get_metrics: NULL %s", ctx ? "out" : "context");
    const elmi_metrics *m = elmi_context_metrics(ctx);
    if (!m) return elmi_error(ELM_ERR_INTERNAL, "elm_context_get_metrics: the context has no metrics recorder");
    elm_metrics r;
    memset(&r, 0, sizeof r);

    /* time */
    r.tokenize_seconds = m->tokenize_seconds;
    r.tokenize_calls = m->tokenize_calls;
    r.tokenize_tokens = m->tokenize_tokens;
    r.prompt_seconds = m->seconds[PHASE_PROMPT];
    r.prompt_tokens = m->tokens[PHASE_PROMPT];
    r.gen_seconds = m->seconds[PHASE_GEN];
    r.gen_tokens = m->tokens[PHASE_GEN];
    r.sample_seconds = m->sample_seconds;
    r.sample_calls = m->sample_calls;
    r.prompt_tokens_per_second = r.prompt_seconds > 0 ? (double)r.prompt_tokens / r.prompt_seconds : 0;
    r.gen_tokens_per_second = r.gen_seconds > 0 ? (double)r.gen_tokens / r.gen_seconds : 0;
    r.ttft_seconds = m->ttft_seconds;
    elmi_latency_stats(m->lat, m->lat_count, &r.token_latency);
    r.decode_calls = m->decode_calls;

    /* memory */
    const elm_model *model = elm_context_model(ctx);
    elm_model_info info;
    if (model && elm_model_get_info(model, &info) == ELM_OK) {
        r.load_seconds = info.load_seconds;
        r.weights_bytes = info.weight_bytes;
        r.repacked_bytes = info.repacked_bytes;
    }
    const elm_gguf *g = model ? elm_model_gguf(model) : NULL;
    if (g) {
        uint64_t size = elm_gguf_file_size(g);
        if (elm_gguf_is_mapped(g)) {
            r.weights_mapped_bytes = size;
            uint64_t res = 0;
            if (elm_resident_bytes(elm_gguf_mapping(g), (size_t)size, &res) == ELM_OK) r.weights_resident_bytes = res;
        } else {
            r.weights_resident_bytes = size;
        }
    }
    elm_context_memory cm;
    if (elm_context_get_memory(ctx, &cm) == ELM_OK) {
        r.kv_bytes = cm.kv_bytes;
        r.scratch_bytes = cm.scratch_bytes;
        r.context_bytes = cm.total_bytes;
    }
    elm_process_memory pm;
    if (elm_get_process_memory(&pm) == ELM_OK) {
        r.rss_bytes = pm.rss_bytes;
        r.peak_rss_bytes = pm.peak_rss_bytes;
    }

    /* energy */
    elm_energy_source *src = m->src ? m->src : elmi_energy_default_source();
    energy_figures(&m->energy[PHASE_PROMPT], r.prompt_tokens, src, m->energy_error, &r.prompt_energy);
    energy_figures(&m->energy[PHASE_GEN], r.gen_tokens, src, m->energy_error, &r.gen_energy);
    if (m->energy[0].failures || m->energy[1].failures)
        snprintf(r.energy_source, sizeof r.energy_source, "%.50s: reading failed: %.80s", src ? elm_energy_name(src) : "source",
                 m->energy_error);
    else if (src)
        snprintf(r.energy_source, sizeof r.energy_source, "%s%s", elm_energy_name(src),
                 elm_energy_is_estimate(src) ? " (estimate, not measured)" : "");
    else
        snprintf(r.energy_source, sizeof r.energy_source, "none: no energy source attached");
    *out = r;
    return ELM_OK;
}
