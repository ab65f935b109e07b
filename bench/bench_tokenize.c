/* bench_tokenize.c: edgelm-bench-tokenize, how fast text becomes tokens.
 *
 *   edgelm-bench-tokenize [--runs N] [--mb MB] [--text FILE] [VOCAB.gguf TARGET_S ...]
 *
 * Builds about MB megabytes (default 1) of English text by repeating FILE (default
 * $SHARED/golden/ppl-text-gpl3.txt, SHARED defaulting to ../shared), tokenizes it N times
 * (default 5) with each vocabulary and prints the median time and MB/s. Without vocabulary
 * arguments it measures the targets: the GPT-2 vocabulary (under 1 s per MB) and
 * the Llama SentencePiece vocabulary (under 0.5 s per MB). Exit status 1 if a target is
 * missed. Times are the median over the runs, as wall-clock time and as CPU time of the
 * calling thread; targets are checked on CPU time, which other programs sharing the
 * machine do not inflate. Uses the public API only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgelm.h"

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* Returns 1 if the median is above the target (target <= 0: no target), -1 on error. */
static int bench_one(const char *vocab, double target_s, const char *text, size_t len, int runs) {
    elm_gguf *g = NULL;
    elm_tokenizer *t = NULL;
    if (elm_gguf_open(vocab, NULL, &g) != ELM_OK || elm_tokenizer_create(g, &t) != ELM_OK) {
        fprintf(stderr, "edgelm-bench-tokenize: %s\n", elm_last_error());
        elm_gguf_close(g);
        return -1;
    }
    int32_t cap = (int32_t)(len + 16), n = 0;
    elm_token *ids = malloc((size_t)cap * sizeof *ids);
    double *wall = malloc((size_t)runs * sizeof *wall), *cpu = malloc((size_t)runs * sizeof *cpu);
    int rc = 0;
    for (int r = 0; r < runs && ids && wall && cpu; r++) {
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        elm_status st = elm_tokenize(t, text, len, 0, ids, cap, &n);
        cpu[r] = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        wall[r] = clock_s(CLOCK_MONOTONIC) - w0;
        if (st != ELM_OK) { fprintf(stderr, "edgelm-bench-tokenize: %s\n", elm_last_error()); rc = -1; break; }
    }
    if (rc == 0 && ids && wall && cpu) {
        qsort(wall, (size_t)runs, sizeof *wall, cmp_double);
        qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
        double med = cpu[runs / 2], mb = (double)len / 1e6;
        const char *name = strrchr(vocab, '/') ? strrchr(vocab, '/') + 1 : vocab;
        printf("%-28s %-5s %-9s %6.2f MB %8d tokens  wall %.3f s  cpu %.3f s  %6.2f MB/s",
               name, elm_tokenizer_model_name(t), elm_tokenizer_pre_name(t), mb, n, wall[runs / 2], med, mb / med);
        if (target_s > 0) {
            double allowed = target_s * mb;
            printf("  target cpu < %.2f s: %s", allowed, med < allowed ? "ok" : "MISSED");
            if (med >= allowed) rc = 1;
        }
        printf("\n");
    } else if (rc == 0) {
        fprintf(stderr, "edgelm-bench-tokenize: out of memory\n");
        rc = -1;
    }
    free(ids);
    free(wall);
    free(cpu);
    elm_tokenizer_free(t);
    elm_gguf_close(g);
    return rc;
}

int main(int argc, char **argv) {
    const char *shared = getenv("SHARED") ? getenv("SHARED") : "../shared";
    char text_path[1024], def_gpt2[1024], def_spm[1024];
    snprintf(text_path, sizeof text_path, "%s/golden/ppl-text-gpl3.txt", shared);
    snprintf(def_gpt2, sizeof def_gpt2, "%s/vocab/ggml-vocab-gpt-2.gguf", shared);
    snprintf(def_spm, sizeof def_spm, "%s/vocab/ggml-vocab-llama-spm.gguf", shared);
    const char *text_file = text_path;
    int runs = 5;
    double mb = 1.0;
    const char *vocab[32];
    double target[32];
    int nv = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--text") && i + 1 < argc) text_file = argv[++i];
        else if (argv[i][0] != '-' && nv < 32) {
            vocab[nv] = argv[i];
            target[nv] = (i + 1 < argc && argv[i + 1][0] != '-' && atof(argv[i + 1]) > 0) ? atof(argv[++i]) : 0;
            nv++;
        } else {
            fprintf(stderr, "usage: edgelm-bench-tokenize [--runs N] [--mb MB] [--text FILE] [VOCAB [TARGET_S_PER_MB]] ...\n");
            return 2;
        }
    }
    if (runs < 1 || mb <= 0 || mb > 512) { fprintf(stderr, "edgelm-bench-tokenize: bad --runs or --mb\n"); return 2; }
    if (nv == 0) {
        vocab[0] = def_gpt2; target[0] = 1.0;
        vocab[1] = def_spm; target[1] = 0.5;
        nv = 2;
    }
    size_t src_len;
    char *src = read_all(text_file, &src_len);
    if (!src) { fprintf(stderr, "edgelm-bench-tokenize: cannot read %s\n", text_file); return 1; }
    size_t len = (size_t)(mb * 1e6);
    char *text = malloc(len);
    if (!text) { free(src); return 1; }
    for (size_t at = 0; at < len; at += src_len) memcpy(text + at, src, len - at < src_len ? len - at : src_len);

    int rc = 0;
    for (int i = 0; i < nv; i++) {
        int r = bench_one(vocab[i], target[i], text, len, runs);
        if (r != 0) rc = 1;
    }
    free(text);
    free(src);
    return rc;
}
