/* edgelm_metrics.h: what an answer cost in time, memory and energy, and what quality a
 * model gives (perplexity). Part of <edgelm.h>; include that.
 *
 * Every context records its own metrics: elm_decode stamps a monotonic clock at the start
 * and end of each call and appends the duration of each generated token to a preallocated
 * ring. Nothing is allocated or computed while recording; percentiles, /proc reads and
 * mincore() run only when you call elm_context_get_metrics().
 *
 * Honesty rule: a figure that could not be measured is never invented. Every energy figure
 * carries an elm_figure_status saying whether it was measured, estimated from a power
 * figure the user gave (and then it says "estimate" wherever it is printed), or is
 * unavailable, with a sentence saying why.
 *
 * Sections: figure status | energy sources | context metrics | process memory | memory
 * estimate before loading | formatting | perplexity.
 */
#ifndef EDGELM_METRICS_H
#define EDGELM_METRICS_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock in seconds (CLOCK_MONOTONIC); only differences mean anything.
 * The clock every edgelm timer reads, for callers timing their own stages. */
ELM_API double elm_clock_seconds(void);

/* ==== Figure status ====================================================================== */

typedef enum elm_figure_status {
    ELM_FIGURE_UNAVAILABLE = 0,  /* not measured: no source, or the source failed */
    ELM_FIGURE_MEASURED = 1,     /* read from a sensor or counter */
    ELM_FIGURE_ESTIMATED = 2     /* computed from a power figure the user gave: an estimate */
} elm_figure_status;

/* "unavailable", "measured", "estimated". */
ELM_API const char *elm_figure_status_name(elm_figure_status s);

/* ==== Energy sources =====================================================================
 *
 * An energy source turns some sensor into one number: joules consumed since the source was
 * opened. Sources are of two kinds:
 *   counters  report cumulative energy (RAPL energy_uj, hwmon energy*_input, a callback);
 *             wrap-around of bounded counters is handled (RAPL: max_energy_range_uj).
 *   power     report instantaneous watts (hwmon power*_input, INA3221 voltage x current,
 *             a command, a callback); a sampling thread reads them every interval and
 *             integrates: each reading holds until the next one (a step function), so
 *             energy read between samples grows with the last reading.
 * A source is thread-safe and may be shared by many contexts; it must outlive every
 * context it is attached to (or be detached first).
 */

typedef struct elm_energy_source elm_energy_source;

typedef enum elm_energy_kind {
    ELM_ENERGY_COUNTER = 0,      /* values are cumulative joules */
    ELM_ENERGY_POWER = 1         /* values are instantaneous watts */
} elm_energy_kind;

typedef struct elm_energy_params {
    const char *powercap_root;   /* RAPL sysfs root (default "/sys/class/powercap") */
    const char *hwmon_root;      /* hwmon sysfs root (default "/sys/class/hwmon") */
    const char *hwmon_match;     /* hwmon: use only channels whose label, or chips whose
                                    name, contains this text (NULL: see elm_energy_open_hwmon) */
    bool rapl_dram;              /* RAPL: add the DRAM domains to the packages (default true) */
    double interval_seconds;     /* power sources: sampling period (default 0.02 s). Counters
                                    are read at every attribution point and, to catch
                                    wrap-around, at least once a second by the thread.
                                    0: no thread, values are read only by elm_energy_read */
    double first_sample_timeout_seconds; /* command source: how long open waits for the
                                    first number (default 5 s) */
} elm_energy_params;

ELM_API elm_energy_params elm_energy_default_params(void);

/* Linux powercap RAPL: the sum of every package-N domain (intel-rapl:N, also used for AMD
 * Zen), plus the DRAM domains when rapl_dram is set. psys and the MMIO duplicates are
 * skipped so nothing is counted twice. Zones with unreadable files are skipped; if none is
 * left, ELM_ERR_NOT_FOUND or ELM_ERR_IO with the reason (energy_uj is root-only to read
 * on most kernels since 5.10: the message says so). */
ELM_API elm_status elm_energy_open_rapl(const elm_energy_params *params, elm_energy_source **out);

/* Linux hwmon: every chip under hwmon_root, every channel with energyN_input (µJ, counter),
 * powerN_input or powerN_average (µW), or inN_input (mV) with currN_input (mA) of the same
 * N (INA3221 rails on Jetson boards). Channels are summed. Without hwmon_match, when a
 * channel is labelled "VDD_IN" (a Jetson's whole-board input rail) only it is used, since
 * the other rails are parts of it. ELM_ERR_NOT_FOUND when no channel is found. */
ELM_API elm_status elm_energy_open_hwmon(const elm_energy_params *params, elm_energy_source **out);

/* A command run with /bin/sh -c that prints watts, one number per line (leading text that
 * is not a number is skipped: "power: 4.2 W" reads as 4.2). A command that prints and
 * exits is run again every interval; one that keeps printing is read as it goes. Open
 * waits for the first number and fails (ELM_ERR_IO, with the command's exit status) if
 * none arrives within first_sample_timeout_seconds. If the command stops producing
 * numbers for 10 intervals (and at least 2 s), reads fail: no stale watts are used. */
ELM_API elm_status elm_energy_open_command(const char *command, const elm_energy_params *params,
                                           elm_energy_source **out);

/* A user callback. kind says whether *value is cumulative joules or instantaneous watts.
 * Return ELM_OK, or an error when the reading failed (the figures then say unavailable).
 * Called with the source's lock held: from the sampling thread (every interval for power,
 * once a second for counters) and from any thread calling elm_energy_read; never
 * concurrently. name labels the source in reports. */
typedef elm_status (*elm_energy_read_fn)(void *user, double *value);
ELM_API elm_status elm_energy_open_callback(const char *name, elm_energy_kind kind, elm_energy_read_fn fn,
                                            void *user, const elm_energy_params *params,
                                            elm_energy_source **out);

/* Not a measurement: energy = watts x elapsed time, from a power figure the user gives
 * (e.g. a board's datasheet). Every figure from it is ELM_FIGURE_ESTIMATED. */
ELM_API elm_status elm_energy_open_estimate(double watts, elm_energy_source **out);

/* Open from a text, as tools take it on their command line:
 *   "auto"           RAPL, else hwmon; ELM_ERR_NOT_FOUND saying why each failed
 *   "rapl"  "hwmon"  "hwmon:MATCH"   "cmd:COMMAND"   "estimate:WATTS"
 * params may be NULL (defaults). */
ELM_API elm_status elm_energy_open(const char *spec, const elm_energy_params *params, elm_energy_source **out);
ELM_API void elm_energy_free(elm_energy_source *s);

/* Joules consumed since the source was opened (thread-safe). Errors: the sensor could not
 * be read now, or a power source has gone stale. */
ELM_API elm_status elm_energy_read(elm_energy_source *s, double *joules);
/* "rapl (package-0 + dram)", "hwmon ina3221 VDD_IN", "cmd: ...", "estimate 5 W". */
ELM_API const char *elm_energy_name(const elm_energy_source *s);
ELM_API bool elm_energy_is_estimate(const elm_energy_source *s);

/* Attach a source to a context (NULL detaches): from the next elm_decode on, prompt
 * evaluation and generation are attributed the joules read around each decode call. */
ELM_API elm_status elm_context_set_energy_source(elm_context *ctx, elm_energy_source *src);
/* A process-wide source used by every context that has none of its own (NULL: none). */
ELM_API void elm_set_default_energy_source(elm_energy_source *src);

/* ==== Context metrics ==================================================================== */

/* Per-token latencies kept for percentiles: the most recent this many generated tokens. */
#define ELM_METRICS_LATENCY_RING 4096

typedef struct elm_latency {
    int64_t count;               /* samples behind the figures (<= ELM_METRICS_LATENCY_RING) */
    double mean_seconds;
    double p50_seconds;          /* percentiles by the nearest-rank method */
    double p90_seconds;
    double p99_seconds;
    double max_seconds;
} elm_latency;

typedef struct elm_energy_figures {
    elm_figure_status status;    /* UNAVAILABLE: every number below is 0 */
    double joules;               /* energy attributed to the phase */
    double seconds;              /* wall time the joules were read over */
    int64_t tokens;              /* tokens evaluated in that time */
    double avg_watts;            /* joules / seconds */
    double joules_per_token;
    double tokens_per_joule;
    char note[128];              /* why UNAVAILABLE; what the estimate rests on; or the
                                    source, and "N of M tokens" when only some were covered */
} elm_energy_figures;

typedef struct elm_metrics {
    /* ---- time: seconds and counts since the context was created or last reset ---- */
    double load_seconds;         /* elm_model_load of the context's model */
    double tokenize_seconds;     /* reported by the caller (elm_context_metrics_add) */
    int64_t tokenize_calls;
    int64_t tokenize_tokens;
    double prompt_seconds;       /* elm_decode calls of the prompt phase (see below) */
    int64_t prompt_tokens;
    double gen_seconds;          /* elm_decode calls of the generation phase */
    int64_t gen_tokens;
    double sample_seconds;       /* reported by the caller (elm_context_metrics_add) */
    int64_t sample_calls;
    double prompt_tokens_per_second; /* prompt_tokens / prompt_seconds; 0 when no tokens */
    double gen_tokens_per_second;
    double ttft_seconds;         /* time to first token of the last request; -1 when none */
    elm_latency token_latency;   /* duration of each generated token's elm_decode */
    int64_t decode_calls;        /* elm_decode calls that evaluated tokens */

    /* ---- memory: bytes, read when elm_context_get_metrics is called ---- */
    uint64_t weights_bytes;          /* tensor data of the model file */
    uint64_t weights_mapped_bytes;   /* the file mapping (0 when weights were copied to RAM) */
    uint64_t weights_resident_bytes; /* pages of the mapping in RAM now (mincore), or the
                                        copy's size when not mapped */
    uint64_t repacked_bytes;         /* weight copies built at load */
    uint64_t kv_bytes;               /* this context's KV cache */
    uint64_t scratch_bytes;          /* this context's activations and buffers */
    uint64_t context_bytes;          /* this context in all (kv + scratch + bookkeeping) */
    uint64_t rss_bytes;              /* the process's resident set now (VmRSS) */
    uint64_t peak_rss_bytes;         /* the process's peak resident set (VmHWM / getrusage) */

    /* ---- energy ---- */
    char energy_source[160];     /* the source's name, or why there are no figures */
    elm_energy_figures prompt_energy;
    elm_energy_figures gen_energy;
} elm_metrics;

/* Phases. A request begins with ELM_EVENT_REQUEST_BEGIN (the generation loop calls it
 * before tokenizing a prompt): decodes are then prompt until ELM_EVENT_FIRST_TOKEN, and
 * generation after it. TTFT runs from REQUEST_BEGIN to FIRST_TOKEN. Callers that mark
 * nothing get: decodes of more than one token are prompt, of one token generation; a
 * request begins at the first prompt decode after generation (or at the first ever), and
 * its first token is taken as known when the next one-token decode starts. */
typedef enum elm_metrics_event {
    ELM_EVENT_REQUEST_BEGIN = 0,
    ELM_EVENT_FIRST_TOKEN = 1
} elm_metrics_event;

/* Stages the library cannot time itself because they happen outside the context. */
typedef enum elm_metrics_stage {
    ELM_STAGE_TOKENIZE = 0,      /* count = tokens produced */
    ELM_STAGE_SAMPLE = 1         /* count = sampling calls */
} elm_metrics_stage;

ELM_API void elm_context_metrics_mark(elm_context *ctx, elm_metrics_event ev);
ELM_API void elm_context_metrics_add(elm_context *ctx, elm_metrics_stage stage, double seconds, int64_t count);

/* Read the metrics. Call from the thread that uses the context (or while none does). */
ELM_API elm_status elm_context_get_metrics(const elm_context *ctx, elm_metrics *out);
/* Zero the timers, counts, latencies and energy (memory figures are always current). */
ELM_API void elm_context_reset_metrics(elm_context *ctx);

/* ==== Process memory ===================================================================== */

typedef struct elm_process_memory {
    uint64_t rss_bytes;          /* VmRSS now */
    uint64_t peak_rss_bytes;     /* VmHWM (or getrusage ru_maxrss when /proc is absent) */
} elm_process_memory;

ELM_API elm_status elm_get_process_memory(elm_process_memory *out);
/* Restart the peak at the current RSS (writes "5" to /proc/self/clear_refs), so a tool can
 * measure the peak of each model in turn. ELM_ERR_UNSUPPORTED when the kernel refuses:
 * the peak is then the process's. */
ELM_API elm_status elm_reset_peak_memory(void);
/* Bytes of [addr, addr+len) resident in RAM now (mincore; addr need not be aligned). */
ELM_API elm_status elm_resident_bytes(const void *addr, size_t len, uint64_t *out);

/* ==== Memory estimate before loading =====================================================
 *
 * What a model will need at a given context, computed from the GGUF header alone (no
 * tensor data is read), so a user can tell whether it fits a 4 GB or 8 GB device. The
 * total is what the process's resident set grows by once the model is loaded (weights
 * fully faulted in) and every position of the context has been written, not counting the
 * program's own machine code (some hundreds of KiB, the same whatever the model). */

typedef struct elm_memory_estimate {
    uint64_t file_bytes;         /* the mapping: all of the file, once faulted in */
    uint64_t weights_bytes;      /* of which tensor data */
    uint64_t repacked_bytes;     /* weight copies built at load (0 without repacking) */
    uint64_t released_bytes;     /* mapped weight bytes handed back once repacked (their
                                    pages are no longer resident; 0 with mlock or no mmap) */
    uint64_t kv_bytes;           /* KV cache at n_ctx */
    uint64_t scratch_bytes;      /* activations, logits, quantized-activation buffers, as
                                    allocated (elm_context_get_memory says the same) */
    uint64_t overhead_bytes;     /* tokenizer tables, tensor index, structs, thread stacks */
    uint64_t total_bytes;        /* file - released + repacked + kv + scratch + overhead; without
                                    use_blas, less the BLAS panel of the scratch, which is
                                    then allocated but never touched */
} elm_memory_estimate;

/* n_ctx 0 = the model's context length. mparams/cparams may be NULL (defaults); the
 * n_ctx and kv_type given here override cparams'. */
ELM_API elm_status elm_estimate_memory(const char *path, int32_t n_ctx, elm_kv_type kv_type,
                                       const elm_model_params *mparams, const elm_context_params *cparams,
                                       elm_memory_estimate *out);

/* ==== Formatting =========================================================================
 * Both work like snprintf: they write at most cap bytes (always NUL-terminated when cap > 0)
 * and return the length the full text needs, so a caller can size a buffer. */

/* Several lines of human text: times, tokens/s, latency percentiles, memory, energy (with
 * "estimate" or "unavailable: why" next to each energy figure that is not measured). */
ELM_API size_t elm_metrics_format(const elm_metrics *m, char *buf, size_t cap);
/* One JSON object; figures that are unavailable are null, and "energy_status" says why. */
ELM_API size_t elm_metrics_format_json(const elm_metrics *m, char *buf, size_t cap);

/* ==== Perplexity =========================================================================
 *
 * llama.cpp's method (llama-perplexity): the tokens are cut into consecutive chunks of n_ctx;
 * each chunk is evaluated from an empty KV cache with its first token replaced by BOS (when
 * the vocab adds BOS), and only the second half is scored: the logits at positions
 * n_ctx/2 .. n_ctx-2 predict the tokens after them. PPL = exp(mean negative log-likelihood).
 */

typedef struct elm_perplexity_params {
    int32_t n_ctx;               /* tokens per chunk (required; <= the context's n_ctx) */
    int32_t n_batch;             /* tokens per elm_decode (default 0 = n_ctx); at most the
                                    context's n_batch, since every logit of a call is read */
    int32_t max_chunks;          /* 0 = every whole chunk */
    /* Called after each chunk with the running figure; return false to stop (then
       ELM_ERR_CANCELLED). NULL: none. */
    bool (*progress)(void *user, int32_t chunk, int32_t n_chunks, double ppl_so_far);
    void *progress_user;
} elm_perplexity_params;

typedef struct elm_perplexity_result {
    double ppl;
    double ppl_stderr;           /* standard error of the PPL, as llama.cpp reports it */
    double mean_nll;             /* nats per scored token */
    int32_t chunks;
    int64_t scored_tokens;
    double seconds;              /* wall time of the evaluation */
} elm_perplexity_result;

ELM_API elm_perplexity_params elm_perplexity_default_params(void);
/* The context must have all_logits set and n_ctx >= params->n_ctx; its cache is cleared
 * (and left holding the last chunk). tokens: the whole text, tokenized with
 * ELM_TOKENIZE_ADD_SPECIAL. Needs at least 2 * n_ctx tokens. */
ELM_API elm_status elm_perplexity(elm_context *ctx, const elm_token *tokens, int64_t n_tokens,
                                  const elm_perplexity_params *params, elm_perplexity_result *out);

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_METRICS_H */
