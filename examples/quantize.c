/* edgelm-quantize: convert a GGUF model to another tensor type.
 *
 *   edgelm-quantize IN.gguf OUT.gguf TYPE [-t THREADS] [--pure] [--allow-requantize] [-q]
 *
 * TYPE: F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M, Q4_K_S, Q4_K_M,
 * Q5_K_S, Q5_K_M, Q6_K (case-insensitive). Same per-tensor choices as llama.cpp's
 * llama-quantize; one line per tensor on stderr (-q: only warnings), a summary at the end.
 * Must not: use anything but the public API (edgelm.h).
 */
#include "edgelm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void log_to_stderr(elm_log_level level, const char *message, void *user) {
    bool quiet = *(const bool *)user;
    if (quiet && level > ELM_LOG_WARN) return;
    fprintf(stderr, "%s%s\n", level <= ELM_LOG_WARN ? "note: " : "", message);
}

static int usage(void) {
    fprintf(stderr,
            "usage: edgelm-quantize IN.gguf OUT.gguf TYPE [-t THREADS] [--pure] [--allow-requantize] [-q]\n"
            "  TYPE: F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0;
    bool quiet = false;
    elm_quantize_params p = elm_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) p.n_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pure") == 0) p.pure = true;
        else if (strcmp(argv[i], "--allow-requantize") == 0) p.allow_requantize = true;
        else if (strcmp(argv[i], "-q") == 0) quiet = true;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') return usage();
        else if (n_pos < 3) pos[n_pos++] = argv[i];
        else return usage();
    }
    if (n_pos != 3) return usage();
    elm_set_log_callback(log_to_stderr, &quiet);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    elm_status st = elm_quantize_file(pos[0], pos[1], pos[2], &p);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-quantize: %s\n", elm_last_error());
        return 1;
    }

    /* summary: sizes before and after, tensors per type */
    elm_gguf *in = NULL, *out = NULL;
    if (elm_gguf_open(pos[0], NULL, &in) != ELM_OK || elm_gguf_open(pos[1], NULL, &out) != ELM_OK) {
        fprintf(stderr, "edgelm-quantize: %s\n", elm_last_error());
        elm_gguf_close(in);
        return 1;
    }
    uint64_t in_bytes = 0, out_bytes = 0, params = 0, count[ELM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < elm_gguf_n_tensors(in); i++) in_bytes += elm_gguf_tensor_at(in, i)->bytes;
    for (int64_t i = 0; i < elm_gguf_n_tensors(out); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(out, i);
        out_bytes += t->bytes;
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        if (t->type < ELM_TYPE_COUNT) count[t->type]++;
    }
    fprintf(stderr, "edgelm-quantize: %s -> %s (%s) in %.2f s\n", pos[0], pos[1], pos[2],
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    fprintf(stderr, "  tensor data %.2f MiB -> %.2f MiB (%.2f bits per weight)\n", (double)in_bytes / 1048576.0,
            (double)out_bytes / 1048576.0, params ? (double)out_bytes * 8.0 / (double)params : 0.0);
    fprintf(stderr, "  tensors:");
    for (uint32_t t = 0; t < ELM_TYPE_COUNT; t++)
        if (count[t]) fprintf(stderr, " %s x%llu", elm_type_get_info(t)->name, (unsigned long long)count[t]);
    fprintf(stderr, "\n");
    elm_gguf_close(in);
    elm_gguf_close(out);
    return 0;
}
