/* test_metrics.c: the per-context metrics on a real model (stories260K): phases, TTFT with
 * and without marks, latency percentiles (hand-computed cases and the ring), energy
 * attribution with measured, estimated, failing and absent sources, memory figures
 * (mincore on pages we touched ourselves, peak RSS and its reset), and the formatters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "edgelm.h"
#include "metrics.h"
#include "support.h"
#include "syntax_check.h"

static elm_model *model;

static int setup(void **state) {
    (void)state;
    return elm_model_load(elmt_shared("models/stories260K.gguf"), NULL, &model) == ELM_OK ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    elm_model_free(model);
    return 0;
}

static elm_context *new_context(int32_t n_ctx) {
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = 1;
    elm_context *c = NULL;
    assert_int_equal(elm_context_create(model, &cp, &c), ELM_OK);
    return c;
}

static const elm_token prompt[8] = { 1, 403, 407, 261, 378, 10, 20, 30 };

static void decode_tokens(elm_context *c, int n_single) {
    for (int i = 0; i < n_single; i++) assert_int_equal(elm_decode(c, &prompt[1 + i % 7], 1), ELM_OK);
}

/* ==== Time =============================================================================== */

static void implicit_phases_and_ttft(void **state) {
    (void)state;
    elm_context *c = new_context(128);
    elm_metrics m;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    elm_model_info info;
    assert_int_equal(elm_model_get_info(model, &info), ELM_OK);
    assert_true(m.load_seconds == info.load_seconds && m.load_seconds > 0);
    assert_true(m.ttft_seconds == -1);
    assert_int_equal(m.prompt_tokens + m.gen_tokens + m.decode_calls + m.token_latency.count, 0);

    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    decode_tokens(c, 5);
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.prompt_tokens, 8);
    assert_int_equal(m.gen_tokens, 5);
    assert_int_equal(m.decode_calls, 6);
    assert_true(m.prompt_seconds > 0 && m.gen_seconds > 0);
    /* The first token is known when its decode starts: after the whole prompt decode. */
    assert_true(m.ttft_seconds >= m.prompt_seconds);
    assert_true(m.ttft_seconds < m.prompt_seconds + m.gen_seconds + 1.0);
    assert_true(fabs(m.prompt_tokens_per_second - 8 / m.prompt_seconds) < 1e-9 * m.prompt_tokens_per_second);
    assert_true(fabs(m.gen_tokens_per_second - 5 / m.gen_seconds) < 1e-9 * m.gen_tokens_per_second);
    const elm_latency *l = &m.token_latency;
    assert_int_equal(l->count, 5);
    assert_true(l->p50_seconds <= l->p90_seconds && l->p90_seconds <= l->p99_seconds && l->p99_seconds <= l->max_seconds);
    /* The latencies are the one-token decodes: they sum to the generation time. */
    assert_true(fabs(l->mean_seconds * 5 - m.gen_seconds) < 1e-6 * m.gen_seconds + 1e-7);

    /* A refused decode (the cache is full) is neither counted nor timed. */
    elm_token many[128];
    for (int i = 0; i < 128; i++) many[i] = prompt[i % 8];
    assert_int_equal(elm_decode(c, many, 128), ELM_ERR_CONTEXT_FULL);
    elm_metrics m2;
    assert_int_equal(elm_context_get_metrics(c, &m2), ELM_OK);
    assert_int_equal(m2.decode_calls, 6);
    assert_true(m2.prompt_seconds == m.prompt_seconds);

    /* A new prompt after generation starts a new request. */
    assert_int_equal(elm_decode(c, prompt, 4), ELM_OK);
    decode_tokens(c, 1);
    assert_int_equal(elm_context_get_metrics(c, &m2), ELM_OK);
    assert_int_equal(m2.prompt_tokens, 12);
    assert_true(m2.ttft_seconds != m.ttft_seconds);
    assert_true(m2.ttft_seconds >= m2.prompt_seconds - m.prompt_seconds);

    elm_context_reset_metrics(c);
    assert_int_equal(elm_context_get_metrics(c, &m2), ELM_OK);
    assert_int_equal(m2.prompt_tokens + m2.gen_tokens + m2.decode_calls + m2.token_latency.count, 0);
    assert_true(m2.ttft_seconds == -1);
    assert_true(m2.load_seconds == info.load_seconds);
    elm_context_free(c);
}

static void marked_requests_and_stages(void **state) {
    (void)state;
    elm_context *c = new_context(128);
    elm_context_metrics_mark(c, ELM_EVENT_REQUEST_BEGIN);
    usleep(30000);   /* tokenizing, templating, ...: part of the time to first token */
    elm_context_metrics_add(c, ELM_STAGE_TOKENIZE, 0.01, 8);
    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    elm_context_metrics_add(c, ELM_STAGE_SAMPLE, 0.002, 1);
    elm_context_metrics_mark(c, ELM_EVENT_FIRST_TOKEN);
    decode_tokens(c, 3);
    elm_context_metrics_add(c, ELM_STAGE_SAMPLE, 0.003, 3);
    elm_context_metrics_add(c, ELM_STAGE_SAMPLE, -1, 1);        /* nonsense is ignored */
    elm_metrics m;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_true(m.ttft_seconds >= 0.03 + m.prompt_seconds);
    assert_true(fabs(m.tokenize_seconds - 0.01) < 1e-12);
    assert_int_equal(m.tokenize_tokens, 8);
    assert_int_equal(m.tokenize_calls, 1);
    assert_true(fabs(m.sample_seconds - 0.005) < 1e-12);
    assert_int_equal(m.sample_calls, 4);
    assert_int_equal(m.prompt_tokens, 8);
    assert_int_equal(m.gen_tokens, 3);

    /* Marked request whose prompt is one token: it counts as prompt, not generation. */
    elm_context_clear(c);
    elm_context_reset_metrics(c);
    elm_context_metrics_mark(c, ELM_EVENT_REQUEST_BEGIN);
    assert_int_equal(elm_decode(c, prompt, 1), ELM_OK);
    elm_context_metrics_mark(c, ELM_EVENT_FIRST_TOKEN);
    decode_tokens(c, 2);
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.prompt_tokens, 1);
    assert_int_equal(m.gen_tokens, 2);
    assert_true(m.ttft_seconds >= m.prompt_seconds);
    elm_context_metrics_mark(NULL, ELM_EVENT_REQUEST_BEGIN);   /* no crash */
    elm_context_free(c);
}

static void latency_percentiles_by_hand(void **state) {
    (void)state;
    /* 1..100 ms in a scrambled order: nearest-rank p50 = 50 ms, p90 = 90, p99 = 99. */
    float s[100];
    for (int i = 0; i < 100; i++) s[i] = (float)(((i * 37) % 100) + 1) * 1e-3f;
    elm_latency l;
    elmi_latency_stats(s, 100, &l);
    assert_int_equal(l.count, 100);
    assert_true(fabs(l.p50_seconds - 0.050) < 1e-7);
    assert_true(fabs(l.p90_seconds - 0.090) < 1e-7);
    assert_true(fabs(l.p99_seconds - 0.099) < 1e-7);
    assert_true(fabs(l.max_seconds - 0.100) < 1e-7);
    assert_true(fabs(l.mean_seconds - 0.0505) < 1e-7);
    float three[3] = { 3, 1, 2 };
    elmi_latency_stats(three, 3, &l);
    assert_true(l.p50_seconds == 2 && l.p90_seconds == 3 && l.p99_seconds == 3 && l.max_seconds == 3);
    float one[1] = { 0.25f };
    elmi_latency_stats(one, 1, &l);
    assert_true(l.p50_seconds == 0.25f && l.p99_seconds == 0.25f && l.count == 1);
    elmi_latency_stats(one, 0, &l);
    assert_int_equal(l.count, 0);
    assert_true(l.max_seconds == 0);
}

static void latency_ring_keeps_the_latest(void **state) {
    (void)state;
    /* More one-token decodes than the ring holds: the count stops at the ring size. */
    elm_context *c = new_context(8);
    int n = ELM_METRICS_LATENCY_RING + 100;
    for (int i = 0; i < n; i++) {
        if (elm_context_position(c) == 8) elm_context_clear(c);
        assert_int_equal(elm_decode(c, &prompt[i % 8], 1), ELM_OK);
    }
    elm_metrics m;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.gen_tokens, n);
    assert_int_equal(m.token_latency.count, ELM_METRICS_LATENCY_RING);
    assert_true(m.token_latency.max_seconds > 0);
    assert_true(m.token_latency.mean_seconds * ELM_METRICS_LATENCY_RING <= m.gen_seconds * (1 + 1e-6));
    elm_context_free(c);
}

/* ==== Energy ============================================================================= */

typedef struct meter { double watts; bool fail; } meter;

static elm_status read_meter(void *user, double *value) {
    meter *mt = user;
    if (mt->fail) return ELM_ERR_IO;
    *value = mt->watts;
    return ELM_OK;
}

static void energy_attribution(void **state) {
    (void)state;
    elm_context *c = new_context(128);
    meter mt = { 10.0, false };
    elm_energy_params ep = elm_energy_default_params();
    ep.interval_seconds = 0;     /* read only around each decode */
    elm_energy_source *src = NULL;
    assert_int_equal(elm_energy_open_callback("bench meter", ELM_ENERGY_POWER, read_meter, &mt, &ep, &src), ELM_OK);
    assert_int_equal(elm_context_set_energy_source(c, src), ELM_OK);
    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    decode_tokens(c, 4);
    elm_metrics m;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    const elm_energy_figures *pe = &m.prompt_energy, *ge = &m.gen_energy;
    assert_int_equal(pe->status, ELM_FIGURE_MEASURED);
    assert_int_equal(ge->status, ELM_FIGURE_MEASURED);
    assert_int_equal(pe->tokens, 8);
    assert_int_equal(ge->tokens, 4);
    /* 10 W held: the joules cover the decode and the reads around it, nothing else. */
    assert_true(pe->joules >= 10 * pe->seconds * (1 - 1e-9));
    assert_true(pe->joules <= 10 * pe->seconds + 10 * 0.05);
    assert_true(ge->joules >= 10 * ge->seconds * (1 - 1e-9));
    assert_true(fabs(ge->joules_per_token - ge->joules / 4) < 1e-12);
    assert_true(fabs(ge->tokens_per_joule * ge->joules - 4) < 1e-9);
    assert_true(fabs(pe->avg_watts - pe->joules / pe->seconds) < 1e-9);
    assert_non_null(strstr(m.energy_source, "bench meter"));
    assert_non_null(strstr(ge->note, "bench meter"));
    assert_null(strstr(ge->note, "covers"));

    /* The meter fails during generation: generation energy becomes unavailable. */
    mt.fail = true;
    decode_tokens(c, 1);
    mt.fail = false;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.gen_energy.status, ELM_FIGURE_UNAVAILABLE);
    assert_true(m.gen_energy.joules == 0 && m.gen_energy.joules_per_token == 0);
    assert_non_null(strstr(m.gen_energy.note, "failed"));
    assert_non_null(strstr(m.energy_source, "reading failed"));
    assert_int_equal(m.prompt_energy.status, ELM_FIGURE_MEASURED);
    char json[8192];
    size_t n = elm_metrics_format_json(&m, json, sizeof json);
    assert_true(n < sizeof json);
    assert_true(elmt_json_valid(json, n, NULL));
    assert_non_null(strstr(json, "\"gen_energy\":{\"status\":\"unavailable\",\"joules\":null"));

    /* An estimate is flagged as one, in the struct and in both texts. */
    elm_energy_source *est = NULL;
    assert_int_equal(elm_energy_open_estimate(4.0, &est), ELM_OK);
    elm_context_reset_metrics(c);
    elm_context_clear(c);
    assert_int_equal(elm_context_set_energy_source(c, est), ELM_OK);
    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    decode_tokens(c, 2);
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.prompt_energy.status, ELM_FIGURE_ESTIMATED);
    assert_int_equal(m.gen_energy.status, ELM_FIGURE_ESTIMATED);
    assert_true(m.gen_energy.avg_watts >= 4 * (1 - 1e-9) && m.gen_energy.avg_watts < 4 * 1.5);
    char text[4096];
    elm_metrics_format(&m, text, sizeof text);
    assert_non_null(strstr(text, "ESTIMATE"));
    n = elm_metrics_format_json(&m, json, sizeof json);
    assert_true(elmt_json_valid(json, n, NULL));
    assert_non_null(strstr(json, "\"status\":\"estimated\""));

    /* No source: unavailable, and said so. A process-wide default is used when set. */
    elm_context_set_energy_source(c, NULL);
    elm_context_reset_metrics(c);
    elm_context_clear(c);
    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.prompt_energy.status, ELM_FIGURE_UNAVAILABLE);
    assert_non_null(strstr(m.prompt_energy.note, "no energy source"));
    assert_true(strncmp(m.energy_source, "none", 4) == 0);
    elm_metrics_format(&m, text, sizeof text);
    assert_non_null(strstr(text, "unavailable"));
    elm_set_default_energy_source(src);
    decode_tokens(c, 3);
    elm_set_default_energy_source(NULL);
    decode_tokens(c, 1);
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    assert_int_equal(m.gen_energy.status, ELM_FIGURE_MEASURED);
    assert_int_equal(m.gen_energy.tokens, 3);
    assert_non_null(strstr(m.gen_energy.note, "covers 3 of 4 tokens"));
    elm_context_free(c);
    elm_energy_free(est);
    elm_energy_free(src);
}

/* ==== Memory ============================================================================= */

static void memory_figures(void **state) {
    (void)state;
    elm_context *c = new_context(64);
    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    elm_metrics m;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    struct stat st;
    assert_int_equal(stat(elmt_shared("models/stories260K.gguf"), &st), 0);
    assert_int_equal(m.weights_mapped_bytes, (uint64_t)st.st_size);
    assert_true(m.weights_bytes > 0 && m.weights_bytes < m.weights_mapped_bytes);
    /* The decode read every weight: nearly all of the mapping is resident. */
    assert_true(m.weights_resident_bytes <= m.weights_mapped_bytes);
    assert_true(m.weights_resident_bytes >= m.weights_bytes / 2);
    elm_context_memory cm;
    assert_int_equal(elm_context_get_memory(c, &cm), ELM_OK);
    assert_int_equal(m.kv_bytes, cm.kv_bytes);
    assert_int_equal(m.scratch_bytes, cm.scratch_bytes);
    assert_int_equal(m.context_bytes, cm.total_bytes);
    /* stories260K: 5 layers x 4 KV heads x 64 positions x (8 + 8) halves x 2 bytes */
    assert_int_equal(m.kv_bytes, 5 * 4 * 64 * 16 * 2);
    assert_true(m.rss_bytes > 0 && m.peak_rss_bytes >= m.rss_bytes);
    elm_context_free(c);
}

static void resident_pages_we_touched(void **state) {
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, 64 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    uint64_t r = 99;
    assert_int_equal(elm_resident_bytes(p, 64 * page, &r), ELM_OK);
    assert_int_equal(r, 0);
    for (int i = 0; i < 10; i++) p[i * page] = 1;
    p[20 * page + 5] = 1;
    assert_int_equal(elm_resident_bytes(p, 64 * page, &r), ELM_OK);
    assert_int_equal(r, 11 * page);
    /* An unaligned range counts only its own bytes of each resident page. */
    assert_int_equal(elm_resident_bytes(p + 9 * page + 100, 2 * page, &r), ELM_OK);
    assert_int_equal(r, page - 100);              /* page 9 in part; 10 untouched; 11 not reached */
    assert_int_equal(elm_resident_bytes(p + 19 * page + 1, page + 10, &r), ELM_OK);
    assert_int_equal(r, 11);                      /* the first 11 bytes of page 20 */
    assert_int_equal(munmap(p, 64 * page), 0);
    assert_int_equal(elm_resident_bytes(p, 64 * page, &r), ELM_ERR_IO);
    assert_int_equal(elm_resident_bytes(NULL, 0, &r), ELM_OK);
    assert_int_equal(r, 0);
}

static void peak_rss_and_its_reset(void **state) {
    (void)state;
    const size_t big = 64u << 20;
    elm_process_memory before, during, after;
    assert_int_equal(elm_get_process_memory(&before), ELM_OK);
    unsigned char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    memset(p, 1, big);
    assert_int_equal(elm_get_process_memory(&during), ELM_OK);
    assert_true(during.rss_bytes >= before.rss_bytes + big - (4u << 20));
    assert_int_equal(munmap(p, big), 0);
    assert_int_equal(elm_get_process_memory(&after), ELM_OK);
    /* The kernel's RSS counters are batched per CPU: allow a little slack. */
    assert_true(after.peak_rss_bytes + (1u << 20) >= during.rss_bytes);
    assert_true(after.rss_bytes < during.rss_bytes - big / 2);
    assert_int_equal(elm_reset_peak_memory(), ELM_OK);
    assert_int_equal(elm_get_process_memory(&after), ELM_OK);
    assert_true(after.peak_rss_bytes < during.rss_bytes - big / 2);
}

/* ==== Formatting ========================================================================= */

static void formatting_like_snprintf(void **state) {
    (void)state;
    elm_context *c = new_context(64);
    assert_int_equal(elm_decode(c, prompt, 8), ELM_OK);
    decode_tokens(c, 3);
    elm_metrics m;
    assert_int_equal(elm_context_get_metrics(c, &m), ELM_OK);
    size_t need = elm_metrics_format(&m, NULL, 0);
    assert_true(need > 100);
    char *full = malloc(need + 1);
    assert_int_equal(elm_metrics_format(&m, full, need + 1), need);
    assert_int_equal(strlen(full), need);
    assert_non_null(strstr(full, "p50"));
    assert_non_null(strstr(full, "ttft"));
    assert_non_null(strstr(full, "KV"));
    char small[32];
    memset(small, 'x', sizeof small);
    assert_int_equal(elm_metrics_format(&m, small, sizeof small), need);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, full, sizeof small - 1);
    free(full);
    need = elm_metrics_format_json(&m, NULL, 0);
    char *json = malloc(need + 1);
    assert_int_equal(elm_metrics_format_json(&m, json, need + 1), need);
    assert_true(elmt_json_valid(json, need, NULL));
    assert_non_null(strstr(json, "\"gen_tokens\":3"));
    assert_non_null(strstr(json, "\"p99_seconds\":"));
    free(json);
    assert_int_equal(elm_context_get_metrics(NULL, &m), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_context_get_metrics(c, NULL), ELM_ERR_INVALID_ARG);
    elm_context_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(implicit_phases_and_ttft),
        cmocka_unit_test(marked_requests_and_stages),
        cmocka_unit_test(latency_percentiles_by_hand),
        cmocka_unit_test(latency_ring_keeps_the_latest),
        cmocka_unit_test(energy_attribution),
        cmocka_unit_test(memory_figures),
        cmocka_unit_test(resident_pages_we_touched),
        cmocka_unit_test(peak_rss_and_its_reset),
        cmocka_unit_test(formatting_like_snprintf),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
