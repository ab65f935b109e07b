/* test_estimate.c: elm_estimate_memory, from the GGUF header alone, against what loading
 * the model and filling a context really costs in a fresh child process (weights
 * prefaulted, every KV position written): the growth of its anonymous memory (RssAnon:
 * heap, KV, scratch, repacked copies, stacks) plus the resident pages of the model's mapping (its
 * Rss in /proc/self/smaps; those of repacked matrices are handed back) must be within
 * 5% of the estimate, on every shared model. The
 * program's own code pages are left out on both sides (see edgelm_metrics.h). The parts
 * must match the library's own accounting exactly (KV, scratch, repacked copies).
 * Under AddressSanitizer the resident set measures the sanitizer (shadow memory, redzones),
 * not edgelm, so there only the parts are compared; the 5% check runs in the native suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "edgelm.h"
#include "support.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* RssAnon of /proc/self/status, bytes. */
/* One "Rss...:" line of /proc/self/status, in bytes. RssFile counts the file pages mapped
 * into this process (not the page cache at large, which mincore would report). */
static uint64_t rss_field(const char *field);
static uint64_t rss_anon(void) { return rss_field("RssAnon:"); }

/* Resident bytes of the one mapping that contains addr (its "Rss:" in /proc/self/smaps):
 * the model file's pages mapped into this process, not the page cache at large (which is
 * what mincore would report, and which stays warm after pages are handed back). */
static uint64_t mapping_rss(const void *addr) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    char line[512];
    bool inside = false;
    uint64_t rss = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
        } else if (inside && strncmp(line, "Rss:", 4) == 0) {
            rss = strtoull(line + 4, NULL, 10) * 1024u;
            break;
        }
    }
    fclose(f);
    return rss;
}

static uint64_t rss_field(const char *field) {
    char b[8192];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    const char *p = strstr(b, field);
    return p ? strtoull(p + strlen(field), NULL, 10) * 1024u : 0;
}

typedef struct outcome {
    int ok;                          /* 1 when the child got through */
    char error[256];
    elm_memory_estimate est;
    uint64_t measured;               /* anonymous RSS growth + the mapping's RSS, bytes */
    uint64_t kv, scratch, repacked, file;
} outcome;

/* In a fresh child: load + create + fill, and measure the RSS growth. The parent runs no
 * model code before all children are done, so each child pages in the library's machine
 * code itself, as a real process would; the estimates are computed afterwards. */
static void measure(const char *path, int32_t n_ctx, elm_kv_type kv, int32_t n_threads, outcome *o) {
    memset(o, 0, sizeof *o);
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = n_threads;
    cp.kv_type = kv;
    const uint64_t anon0 = rss_anon();
    elm_model_params mp = elm_model_default_params();
    mp.prefault = true;
    elm_model *m = NULL;
    if (elm_model_load(path, &mp, &m) != ELM_OK) {
        snprintf(o->error, sizeof o->error, "load: %s", elm_last_error());
        return;
    }
    elm_context *c = NULL;
    if (elm_context_create(m, &cp, &c) != ELM_OK) {
        snprintf(o->error, sizeof o->error, "context: %s", elm_last_error());
        return;
    }
    if (!UNDER_ASAN) {
        /* Write every KV position, as a long conversation would. */
        elm_token *t = malloc((size_t)n_ctx * sizeof *t);
        for (int32_t i = 0; i < n_ctx; i++) t[i] = 1 + (i * 7) % 200;
        if (elm_decode(c, t, n_ctx) != ELM_OK) {
            snprintf(o->error, sizeof o->error, "decode: %s", elm_last_error());
            return;
        }
        free(t);
    }
    o->measured = rss_anon() - anon0 + mapping_rss(elm_gguf_mapping(elm_model_gguf(m)));
    elm_context_memory cm;
    elm_context_get_memory(c, &cm);
    elm_model_info info;
    elm_model_get_info(m, &info);
    o->kv = cm.kv_bytes;
    o->scratch = cm.scratch_bytes;
    o->repacked = info.repacked_bytes;
    o->file = info.file_bytes;
    o->ok = 1;
    /* The child exits without freeing: the parent only needs the figures. */
}

static outcome run_child(const char *path, int32_t n_ctx, elm_kv_type kv, int32_t n_threads) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        outcome o;
        measure(path, n_ctx, kv, n_threads, &o);
        ssize_t w = write(fds[1], &o, sizeof o);
        _exit(w == (ssize_t)sizeof o ? 0 : 1);
    }
    close(fds[1]);
    outcome o;
    memset(&o, 0, sizeof o);
    size_t got = 0;
    while (got < sizeof o) {
        ssize_t n = read(fds[0], (char *)&o + got, sizeof o - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_int_equal(got, sizeof o);
    return o;
}

static const char *const models[] = {
    "stories260K.gguf", "stories260K-f16.gguf", "stories260K-bf16.gguf", "synth-llama-f16.gguf",
    "synth-llama-q8_0.gguf", "synth-llama-q4_0.gguf", "synth-llama-q4_1.gguf", "synth-llama-q5_0.gguf",
    "synth-llama-q5_1.gguf", "synth-llama-q2_k.gguf", "synth-llama-q3_k_m.gguf", "synth-llama-q4_k_m.gguf",
    "synth-llama-q5_k_m.gguf", "synth-llama-q6_k.gguf", "synth-qwen2-q8_0.gguf", "synth-qwen2-q4_k_m.gguf",
};

typedef struct job { const char *name; int32_t n_ctx; elm_kv_type kv; int32_t n_threads; outcome o; } job;

static void within_five_percent_of_measured(void **state) {
    (void)state;
    enum { N_MODELS = sizeof models / sizeof models[0] };
    job jobs[N_MODELS + 3];
    int n = 0;
    for (int i = 0; i < N_MODELS; i++)
        jobs[n++] = (job){ models[i], strncmp(models[i], "stories", 7) == 0 ? 128 : 256, ELM_KV_F16, 2, { 0 } };
    /* Other cache types, thread counts and a longer context. */
    jobs[n++] = (job){ "synth-llama-q4_k_m.gguf", 512, ELM_KV_Q8_0, 1, { 0 } };
    jobs[n++] = (job){ "synth-llama-q8_0.gguf", 256, ELM_KV_F32, 2, { 0 } };
    jobs[n++] = (job){ "stories260K.gguf", 64, ELM_KV_F32, 1, { 0 } };
    char paths[N_MODELS + 3][4096];
    for (int i = 0; i < n; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "models/%s", jobs[i].name);
        snprintf(paths[i], sizeof paths[i], "%s", elmt_shared(rel));
        jobs[i].o = run_child(paths[i], jobs[i].n_ctx, jobs[i].kv, jobs[i].n_threads);
    }
    for (int i = 0; i < n; i++) {
        const job *j = &jobs[i];
        const outcome *o = &j->o;
        if (!o->ok) fprintf(stderr, "%s: %s\n", j->name, o->error);
        assert_true(o->ok);
        elm_context_params cp = elm_context_default_params();
        cp.n_ctx = j->n_ctx;
        cp.n_threads = j->n_threads;
        cp.kv_type = j->kv;
        elm_memory_estimate est;
        assert_int_equal(elm_estimate_memory(paths[i], j->n_ctx, j->kv, NULL, &cp, &est), ELM_OK);
        struct stat st;
        assert_int_equal(stat(paths[i], &st), 0);
        assert_int_equal(est.file_bytes, (uint64_t)st.st_size);
        assert_int_equal(est.file_bytes, o->file);
        assert_true(est.weights_bytes > 0 && est.weights_bytes < est.file_bytes);
        assert_int_equal(est.kv_bytes, o->kv);
        assert_int_equal(est.scratch_bytes, o->scratch);
        /* Repacked copies: the probe is exact up to one row group per matrix. */
        assert_true(fabs((double)est.repacked_bytes - (double)o->repacked) <= 0.01 * (double)o->repacked + 1.0);
        assert_true(est.released_bytes <= est.weights_bytes);
        assert_true(est.total_bytes >= est.file_bytes - est.released_bytes + est.repacked_bytes + est.kv_bytes);
        double dev = ((double)est.total_bytes - (double)o->measured) / (double)o->measured;
        printf("  %-24s n_ctx %4d kv %d t %d: estimate %6.2f MiB, %s %6.2f MiB (%+.2f%%)\n", j->name, j->n_ctx,
               (int)j->kv, j->n_threads, est.total_bytes / 1048576.0,
               UNDER_ASAN ? "RSS under ASan (not compared)" : "measured", o->measured / 1048576.0, 100 * dev);
        if (!UNDER_ASAN) assert_true(fabs(dev) < 0.05);
    }
}

static void scales_with_context_and_refuses_bad_input(void **state) {
    (void)state;
    const char *path = elmt_shared("models/synth-llama-q4_0.gguf");
    elm_memory_estimate a, b, q;
    assert_int_equal(elm_estimate_memory(path, 256, ELM_KV_F16, NULL, NULL, &a), ELM_OK);
    assert_int_equal(elm_estimate_memory(path, 512, ELM_KV_F16, NULL, NULL, &b), ELM_OK);
    /* 4 layers x 4 KV heads x 32 elements x 2 (K and V) x 2 bytes per position */
    assert_int_equal(b.kv_bytes - a.kv_bytes, 256ull * 4 * 4 * 32 * 2 * 2);
    assert_int_equal(a.file_bytes, b.file_bytes);
    assert_int_equal(elm_estimate_memory(path, 512, ELM_KV_Q8_0, NULL, NULL, &q), ELM_OK);
    assert_int_equal(q.kv_bytes, 512ull * 4 * 4 * 34 * 2);   /* one Q8_0 block (34 bytes) per head row */
    /* Without repacking there is no copy. */
    elm_model_params mp = elm_model_default_params();
    mp.repack = false;
    assert_int_equal(elm_estimate_memory(path, 256, ELM_KV_F16, &mp, NULL, &q), ELM_OK);
    assert_int_equal(q.repacked_bytes, 0);
    /* 0 = the model's context length (512 for the synthetic models). */
    assert_int_equal(elm_estimate_memory(path, 0, ELM_KV_F16, NULL, NULL, &q), ELM_OK);
    assert_int_equal(q.kv_bytes, b.kv_bytes);

    elm_memory_estimate untouched;
    memset(&untouched, 0x5a, sizeof untouched);
    elm_memory_estimate e = untouched;
    assert_int_equal(elm_estimate_memory("/nonexistent/model.gguf", 128, ELM_KV_F16, NULL, NULL, &e), ELM_ERR_IO);
    assert_memory_equal(&e, &untouched, sizeof e);
    assert_int_equal(elm_estimate_memory(path, -1, ELM_KV_F16, NULL, NULL, &e), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_estimate_memory(path, 128, (elm_kv_type)9, NULL, NULL, &e), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_estimate_memory(path, 128, ELM_KV_F16, NULL, NULL, NULL), ELM_ERR_INVALID_ARG);
    /* A vocab-only file is no model. */
    assert_int_not_equal(elm_estimate_memory(elmt_shared("vocab/ggml-vocab-llama-spm.gguf"), 128, ELM_KV_F16, NULL,
                                             NULL, &e), ELM_OK);
    assert_memory_equal(&e, &untouched, sizeof e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(within_five_percent_of_measured),
        cmocka_unit_test(scales_with_context_and_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
