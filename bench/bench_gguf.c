/* edgelm-bench-gguf: how long opening a GGUF file and reading all of its metadata takes.
 *
 *   edgelm-bench-gguf [FILE] [-n RUNS] [--no-mmap] [--prefault]
 *
 * One run = elm_gguf_open (mmap + full validation) + every key's value + every element of
 * every array (strings through the O(1) index) + every tensor's info + close. Tensor data
 * is not touched. Prints the median, min and max over RUNS (default 21) in milliseconds.
 * Target (issue 2): well under 50 ms for a 2.2 GB model.
 * Must not: use anything but the public API.
 */
#include "edgelm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

/* Read every element of every array; returns the number of values read. */
static uint64_t read_all(const elm_gguf *g) {
    uint64_t values = 0;
    for (int64_t i = 0; i < elm_gguf_n_keys(g); i++) {
        elm_gguf_value v;
        if (elm_gguf_key_value(g, i, &v) != ELM_OK) continue;
        values++;
        if (v.type != ELM_GGUF_ARRAY) { sink += v.v.u; continue; }
        elm_gguf_string name = elm_gguf_key_name(g, i);
        char key[256];
        bool by_name = v.v.arr.elem_type == ELM_GGUF_STRING && name.len < sizeof key;
        if (by_name) { memcpy(key, name.data, name.len); key[name.len] = '\0'; }
        for (uint64_t k = 0; k < v.v.arr.n; k++) {
            if (by_name) {
                elm_gguf_string s;
                if (elm_gguf_get_array_string(g, key, k, &s) == ELM_OK) sink += s.len;
            } else {
                elm_gguf_value e;
                if (elm_gguf_array_elem(g, &v, k, &e) == ELM_OK) sink += e.v.u;
            }
            values++;
        }
    }
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        sink += t->bytes + (uint64_t)t->ne[0];
    }
    return values;
}

int main(int argc, char **argv) {
    const char *path = "../shared/models/synth-llama-f16.gguf";
    int runs = 21;
    elm_gguf_params p = elm_gguf_default_params();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-mmap") == 0) p.use_mmap = false;
        else if (strcmp(argv[i], "--prefault") == 0) p.prefault = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: edgelm-bench-gguf [FILE] [-n RUNS] [--no-mmap] [--prefault]\n");
            return 2;
        } else path = argv[i];
    }
    if (runs < 1) runs = 1;
    double *t = malloc((size_t)runs * sizeof *t);
    if (!t) return 1;
    uint64_t values = 0, size = 0;
    int64_t n_keys = 0, n_tensors = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        elm_gguf *g = NULL;
        if (elm_gguf_open(path, &p, &g) != ELM_OK) {
            fprintf(stderr, "edgelm-bench-gguf: %s\n", elm_last_error());
            free(t);
            return 1;
        }
        values = read_all(g);
        n_keys = elm_gguf_n_keys(g);
        n_tensors = elm_gguf_n_tensors(g);
        size = elm_gguf_file_size(g);
        elm_gguf_close(g);
        t[r] = now_s() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    printf("file:       %s (%.1f MB, %lld keys, %lld tensors, %llu metadata values)\n", path, (double)size / 1e6,
           (long long)n_keys, (long long)n_tensors, (unsigned long long)values);
    printf("open+read:  median %.3f ms   min %.3f ms   max %.3f ms   (%d runs, %s)\n", t[runs / 2] * 1e3, t[0] * 1e3,
           t[runs - 1] * 1e3, runs, p.use_mmap ? (p.prefault ? "mmap+prefault" : "mmap") : "read into memory");
    free(t);
    return 0;
}
