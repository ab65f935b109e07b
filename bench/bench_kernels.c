/* bench_kernels.c: edgelm-bench-kernels, the speed of the matrix products per type and path.
 *
 *   edgelm-bench-kernels [--quick] [--types Q4_0,Q4_K,...] [--isa scalar,avx2,avx512]
 *                        [--threads 1,2] [--shapes 2048x5632,4096x4096] [--blas]
 *
 * For each weight type, instruction set and thread count it measures, through the same
 * elmk_matmul driver the forward pass uses (and the same thread pool):
 *   tg     the matrix-vector product (one token) in GB/s of weights streamed, over enough
 *          copies of the matrix that they do not fit in the last-level cache (this is
 *          token generation, bound by memory bandwidth);
 *   pp64, pp512   the matrix-matrix product with 64 and 512 activation rows in GOP/s
 *          (2 * n_in * n_out * n_tok operations; prompt processing, bound by arithmetic).
 * A streaming-read memory probe (a 1 GiB buffer, widest vector loads) is measured at the
 * start at each thread count; tg is printed as a ratio to a shorter probe (256 MiB) run
 * right before it with the same threads, so the ratio holds even when other work on the
 * machine changes the bandwidth between rows. Every figure is the median of several
 * repetitions. Weights are real quantized blocks: 64 random rows made
 * by the reference quantizer, repeated over the matrix.
 * Must not: be run in the unit tests (it takes about a minute; --quick takes seconds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "kernels.h"
#include "threadpool.h"
#include "clock.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MAX_LIST 32

typedef struct {
    bool quick, blas;
    uint32_t types[MAX_LIST];
    int n_types;
    elmk_isa isas[MAX_LIST];
    int n_isas;
    int threads[MAX_LIST];
    int n_threads;
    int64_t shape_in[MAX_LIST], shape_out[MAX_LIST];
    int n_shapes;
} options;

/* ==== small helpers ====================================================================== */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t rng_state = 0x1234567887654321ull;
static uint64_t rng_u64(void) {
    uint64_t x = rng_state;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static float rng_normal(void) {
    double u1 = ((rng_u64() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (rng_u64() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static void *xalloc(size_t bytes) {
    void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "edgelm-bench-kernels: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static void cpu_name(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(buf, n, "%s", strchr(line, ':') + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

/* ==== memory-bandwidth probe ============================================================= */

typedef struct {
    const uint8_t *buf;
    size_t bytes;
    uint64_t sink[64];
} probe_arg;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t n) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= n; i += 256) {
        a0 = _mm512_add_epi64(a0, _mm512_load_si512((const void *)(p + i)));
        a1 = _mm512_add_epi64(a1, _mm512_load_si512((const void *)(p + i + 64)));
        a2 = _mm512_add_epi64(a2, _mm512_load_si512((const void *)(p + i + 128)));
        a3 = _mm512_add_epi64(a3, _mm512_load_si512((const void *)(p + i + 192)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t v[4];
    _mm256_storeu_si256((__m256i *)v, s);
    return v[0] + v[1] + v[2] + v[3];
}
#endif

static uint64_t read_plain(const uint8_t *p, size_t n) {
    uint64_t s[8] = {0};
    for (size_t i = 0; i + 64 <= n; i += 64) {
        for (int k = 0; k < 8; k++) {
            uint64_t v;
            memcpy(&v, p + i + 8 * k, 8);
            s[k] += v;
        }
    }
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static const char *probe_kind(void) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return "avx512 loads";
    if (__builtin_cpu_supports("avx2")) return "avx2 loads";
#endif
    return "64-bit loads";
}

static void probe_task(void *arg, int ith, int nth) {
    probe_arg *pa = arg;
    size_t chunk = pa->bytes / (size_t)nth / 4096 * 4096;
    const uint8_t *p = pa->buf + chunk * (size_t)ith;
    uint64_t v;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) v = read_avx512(p, chunk);
    else if (__builtin_cpu_supports("avx2")) v = read_avx2(p, chunk);
    else v = read_plain(p, chunk);
#else
    v = read_plain(p, chunk);
#endif
    pa->sink[ith % 64] += v;
}

static double probe_bandwidth(elmi_pool *pool, const uint8_t *buf, size_t bytes, int reps) {
    probe_arg pa = {buf, bytes, {0}};
    double gbs[16];
    elmi_pool_run(pool, probe_task, &pa);   /* warm-up: page faults, frequency */
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = elmi_now_ns();
        elmi_pool_run(pool, probe_task, &pa);
        gbs[r] = (double)(bytes / (size_t)elmi_pool_size(pool) / 4096 * 4096 * (size_t)elmi_pool_size(pool)) /
                 elmi_seconds_since(t0) * 1e-9;
    }
    if (pa.sink[0] == 42) fprintf(stderr, " ");   /* keep the reads */
    return median(gbs, reps);
}

/* ==== the products ======================================================================= */

typedef struct {
    elmk_matmul_params m;
    elmi_pool *pool;
} mm_arg;

static void mm_task(void *arg, int ith, int nth) {
    mm_arg *a = arg;
    elmk_matmul(&a->m, ith, nth, elmi_pool_barrier, a->pool);
}

/* One weight matrix (and its copies): 64 random rows from the reference quantizer,
 * repeated. */
typedef struct {
    uint32_t type;
    int64_t n_in, n_out;
    size_t row_bytes, mat_bytes;
    int copies;
    uint8_t *w;               /* copies * mat_bytes */
    void **packed;            /* per copy, or NULL */
} weights;

static void weights_make(weights *wt, uint32_t type, int64_t n_in, int64_t n_out, size_t min_total) {
    const elmk_type_ops *ref = elmk_get_ops_isa(type, ELMK_ISA_SCALAR);
    wt->type = type;
    wt->n_in = n_in;
    wt->n_out = n_out;
    wt->row_bytes = elm_type_row_bytes(type, n_in);
    wt->mat_bytes = wt->row_bytes * (size_t)n_out;
    wt->copies = (int)((min_total + wt->mat_bytes - 1) / wt->mat_bytes);
    if (wt->copies < 1) wt->copies = 1;
    wt->w = xalloc(wt->mat_bytes * (size_t)wt->copies);
    wt->packed = NULL;
    const int64_t base = n_out < 64 ? n_out : 64;
    float *f = xalloc((size_t)n_in * sizeof(float));
    for (int64_t r = 0; r < base; r++) {
        for (int64_t k = 0; k < n_in; k++) f[k] = rng_normal() * 0.05f;
        ref->from_float(f, wt->w + (size_t)r * wt->row_bytes, n_in);
    }
    free(f);
    for (int64_t r = base; r < n_out; r++)
        memcpy(wt->w + (size_t)r * wt->row_bytes, wt->w + (size_t)(r % base) * wt->row_bytes, wt->row_bytes);
    for (int c = 1; c < wt->copies; c++) memcpy(wt->w + (size_t)c * wt->mat_bytes, wt->w, wt->mat_bytes);
}

static void weights_unpack(weights *wt) {
    if (!wt->packed) return;
    for (int c = 0; c < wt->copies; c++) free(wt->packed[c]);
    free(wt->packed);
    wt->packed = NULL;
}

/* Repacks every copy for the active ISA; false when the type has no packed layout. */
static bool weights_pack(weights *wt) {
    weights_unpack(wt);
    size_t bytes = 0;
    void *p0 = elmk_repack(wt->type, wt->w, wt->row_bytes, wt->n_out, wt->n_in, &bytes);
    if (!p0) return false;
    wt->packed = calloc((size_t)wt->copies, sizeof(void *));
    if (!wt->packed) exit(1);
    wt->packed[0] = p0;
    for (int c = 1; c < wt->copies; c++)
        wt->packed[c] = elmk_repack(wt->type, wt->w + (size_t)c * wt->mat_bytes, wt->row_bytes, wt->n_out, wt->n_in, &bytes);
    return true;
}

static void weights_free(weights *wt) {
    weights_unpack(wt);
    free(wt->w);
}

typedef struct {
    float *x, *y;
    void *xq;
    int64_t max_tok;
} activations;

/* Median seconds of one product with n_tok tokens, cycling through `copies` matrices. */
static double time_matmul(elmi_pool *pool, const weights *wt, const activations *act, int64_t n_tok, int copies,
                          int min_reps, int max_reps, double budget_s, bool blas) {
    mm_arg a;
    a.pool = pool;
    a.m = (elmk_matmul_params){
        .wtype = wt->type, .w_row_bytes = wt->row_bytes, .n_out = wt->n_out, .n_in = wt->n_in,
        .x = act->x, .x_stride = wt->n_in, .n_tok = n_tok, .y = act->y, .y_stride = wt->n_out,
        .xq = act->xq, .allow_blas = blas,
    };
    double t[64];
    if (max_reps > 64) max_reps = 64;
    int reps = 0;
    uint64_t start = elmi_now_ns();
    for (int r = -1; r < max_reps; r++) {   /* r = -1: warm-up */
        uint64_t t0 = elmi_now_ns();
        for (int c = 0; c < copies; c++) {
            a.m.w = wt->w + (size_t)c * wt->mat_bytes;
            a.m.packed = wt->packed ? wt->packed[c] : NULL;
            elmi_pool_run(pool, mm_task, &a);
        }
        double s = elmi_seconds_since(t0) / copies;
        if (r >= 0) t[reps++] = s;
        if (reps >= min_reps && elmi_seconds_since(start) > budget_s) break;
    }
    return median(t, reps);
}

/* ==== options ============================================================================ */

static int split(char *s, char **out, int max) {
    int n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

static uint32_t type_by_name(const char *name) {
    for (uint32_t t = 0; t < ELM_TYPE_COUNT; t++) {
        const elm_type_info *ti = elm_type_get_info(t);
        if (ti && strcasecmp(ti->name, name) == 0) return t;
    }
    return UINT32_MAX;
}

static void usage(void) {
    fprintf(stderr,
            "usage: edgelm-bench-kernels [--quick] [--types Q4_0,Q4_K,...] [--isa scalar,avx2,avx512]\n"
            "                            [--threads 1,2] [--shapes 2048x5632,4096x4096] [--blas]\n"
            "shapes are n_in x n_out (ggml's ne0 x ne1: 2048x5632 is an FFN up projection)\n");
}

static bool parse(int argc, char **argv, options *o) {
    static const uint32_t all_types[] = {ELM_TYPE_Q4_0, ELM_TYPE_Q4_K, ELM_TYPE_Q8_0, ELM_TYPE_Q6_K, ELM_TYPE_F16,
                                         ELM_TYPE_Q4_1, ELM_TYPE_Q5_0, ELM_TYPE_Q5_1, ELM_TYPE_Q2_K, ELM_TYPE_Q3_K,
                                         ELM_TYPE_Q5_K, ELM_TYPE_BF16, ELM_TYPE_F32};
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        char *items[MAX_LIST];
        const char *a = argv[i];
        if (strcmp(a, "--quick") == 0) o->quick = true;
        else if (strcmp(a, "--blas") == 0) o->blas = true;
        else if (i + 1 < argc && strcmp(a, "--types") == 0) {
            int n = split(argv[++i], items, MAX_LIST);
            for (int k = 0; k < n; k++) {
                uint32_t t = type_by_name(items[k]);
                if (t == UINT32_MAX || !elmk_get_ops_isa(t, ELMK_ISA_SCALAR) ||
                    !elmk_get_ops_isa(t, ELMK_ISA_SCALAR)->vec_dot) {
                    fprintf(stderr, "edgelm-bench-kernels: '%s' is not a weight type we compute with\n", items[k]);
                    return false;
                }
                o->types[o->n_types++] = t;
            }
        } else if (i + 1 < argc && strcmp(a, "--isa") == 0) {
            int n = split(argv[++i], items, MAX_LIST);
            for (int k = 0; k < n; k++) {
                int found = -1;
                for (int s = 0; s < ELMK_ISA_COUNT; s++)
                    if (strcmp(items[k], elmk_isa_name((elmk_isa)s)) == 0) found = s;
                if (found < 0 || !elmk_isa_available((elmk_isa)found)) {
                    fprintf(stderr, "edgelm-bench-kernels: instruction set '%s' is not available here\n", items[k]);
                    return false;
                }
                o->isas[o->n_isas++] = (elmk_isa)found;
            }
        } else if (i + 1 < argc && strcmp(a, "--threads") == 0) {
            int n = split(argv[++i], items, MAX_LIST);
            for (int k = 0; k < n; k++) {
                int v = atoi(items[k]);
                if (v < 1 || v > 256) {
                    fprintf(stderr, "edgelm-bench-kernels: bad thread count '%s'\n", items[k]);
                    return false;
                }
                o->threads[o->n_threads++] = v;
            }
        } else if (i + 1 < argc && strcmp(a, "--shapes") == 0) {
            int n = split(argv[++i], items, MAX_LIST);
            for (int k = 0; k < n; k++) {
                long long in = 0, out = 0;
                if (sscanf(items[k], "%lldx%lld", &in, &out) != 2 || in <= 0 || out <= 0 || in % 256 || in > (1 << 20) ||
                    out > (1 << 20)) {
                    fprintf(stderr, "edgelm-bench-kernels: bad shape '%s' (n_in x n_out, n_in a multiple of 256)\n",
                            items[k]);
                    return false;
                }
                o->shape_in[o->n_shapes] = in;
                o->shape_out[o->n_shapes++] = out;
            }
        } else {
            usage();
            return false;
        }
    }
    if (!o->n_types) {
        o->n_types = o->quick ? 3 : (int)(sizeof all_types / sizeof all_types[0]);
        memcpy(o->types, all_types, (size_t)o->n_types * sizeof all_types[0]);
    }
    if (!o->n_isas)
        for (int s = 0; s < ELMK_ISA_COUNT; s++)
            if (elmk_isa_available((elmk_isa)s)) o->isas[o->n_isas++] = (elmk_isa)s;
    if (!o->n_threads) {
        o->threads[o->n_threads++] = 1;
        o->threads[o->n_threads++] = 2;
    }
    if (!o->n_shapes) {
        o->shape_in[0] = 2048; o->shape_out[0] = 5632;
        o->shape_in[1] = 4096; o->shape_out[1] = 4096;
        o->n_shapes = o->quick ? 1 : 2;
    }
    return true;
}

/* ==== main =============================================================================== */

int main(int argc, char **argv) {
    options o;
    if (!parse(argc, argv, &o)) return 2;

    int max_threads = 1;
    for (int i = 0; i < o.n_threads; i++) max_threads = o.threads[i] > max_threads ? o.threads[i] : max_threads;
    elmi_pool *pools[257] = {0};
    for (int i = 0; i < o.n_threads; i++) {
        if (!pools[o.threads[i]]) pools[o.threads[i]] = elmi_pool_create(o.threads[i]);
        if (!pools[o.threads[i]]) {
            fprintf(stderr, "edgelm-bench-kernels: cannot start %d threads\n", o.threads[i]);
            return 1;
        }
    }

    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    printf("edgelm-bench-kernels: %s; best ISA %s; OpenBLAS %s%s\n", cpu, elmk_isa_name(elmk_active_isa()),
           elmk_have_blas() ? "built in" : "not built in", o.blas ? " (allowed for pp of F32/F16/BF16)" : "");

    /* the probe, at every thread count */
    const size_t probe_bytes = (size_t)(o.quick ? 512 : 1024) << 20;
    uint8_t *pbuf = xalloc(probe_bytes);
    for (size_t i = 0; i < probe_bytes; i += 8) {
        uint64_t v = i * 0x9E3779B97F4A7C15ull;
        memcpy(pbuf + i, &v, 8);
    }
    double probe[257] = {0};
    printf("memory probe: streaming read of %zu MiB with %s:", probe_bytes >> 20, probe_kind());
    for (int i = 0; i < o.n_threads; i++) {
        int nt = o.threads[i];
        probe[nt] = probe_bandwidth(pools[nt], pbuf, probe_bytes, o.quick ? 3 : 7);
        printf("  %d thread%s %.1f GB/s", nt, nt > 1 ? "s" : "", probe[nt]);
    }
    printf("\n");

    const size_t tg_bytes = (size_t)(o.quick ? 128 : 256) << 20;   /* well past any LLC */
    const int64_t toks[2] = {64, 512};
    printf("tg: one token, GB/s of weights read (each product streams >= %zu MiB of copies); probe: GB/s of a\n"
           "256 MiB streaming read with the same threads just before; %%probe: tg / probe\n"
           "pp64/pp512: 64/512 tokens, GOP/s (2*n_in*n_out*n_tok ops); medians of several runs\n",
           tg_bytes >> 20);

    for (int si = 0; si < o.n_shapes; si++) {
        const int64_t n_in = o.shape_in[si], n_out = o.shape_out[si];
        printf("\nshape %lldx%lld (n_in x n_out)\n", (long long)n_in, (long long)n_out);
        printf("%-6s %-7s %3s %-6s %9s %6s %7s %11s %11s\n", "type", "isa", "thr", "packed", "tg GB/s", "probe",
               "%probe", "pp64 GOP/s", "pp512 GOP/s");
        activations act;
        act.max_tok = 512;
        act.x = xalloc((size_t)(n_in * act.max_tok) * sizeof(float));
        act.y = xalloc((size_t)(n_out * act.max_tok) * sizeof(float));
        for (int64_t i = 0; i < n_in * act.max_tok; i++) act.x[i] = rng_normal();
        for (int ti = 0; ti < o.n_types; ti++) {
            const uint32_t type = o.types[ti];
            if (n_in % elm_type_get_info(type)->block_size) continue;
            weights wt;
            weights_make(&wt, type, n_in, n_out, tg_bytes);
            size_t sb = elmk_matmul_scratch_bytes(type, n_in, act.max_tok);
            act.xq = sb ? xalloc(sb) : NULL;
            for (int ii = 0; ii < o.n_isas; ii++) {
                elmk_set_isa(o.isas[ii]);
                const bool packed = weights_pack(&wt);
                const bool slow = o.isas[ii] == ELMK_ISA_SCALAR;
                for (int k = 0; k < o.n_threads; k++) {
                    const int nt = o.threads[k];
                    const double near = probe_bandwidth(pools[nt], pbuf, (size_t)256 << 20, 3);
                    double tg = time_matmul(pools[nt], &wt, &act, 1, wt.copies, 3, o.quick ? 3 : 9, 0.5, false);
                    double gbs = (double)wt.mat_bytes / tg * 1e-9;
                    printf("%-6s %-7s %3d %-6s %9.1f %6.1f %6.0f%%", elm_type_get_info(type)->name,
                           elmk_isa_name(o.isas[ii]), nt, packed ? "yes" : "no", gbs, near, 100.0 * gbs / near);
                    for (int p = 0; p < 2; p++) {
                        if (slow && (toks[p] > 64 || o.quick)) {   /* the scalar path would take minutes */
                            printf(" %11s", "-");
                            continue;
                        }
                        double s = time_matmul(pools[nt], &wt, &act, toks[p], 1, slow ? 1 : 3, o.quick ? 3 : 7,
                                               o.quick ? 0.3 : 1.0, o.blas);
                        printf(" %11.1f", 2.0 * (double)n_in * (double)n_out * (double)toks[p] / s * 1e-9);
                    }
                    printf("\n");
                    fflush(stdout);
                }
            }
            free(act.xq);
            weights_free(&wt);
        }
        free(act.x);
        free(act.y);
    }
    free(pbuf);
    for (int i = 0; i <= 256; i++) elmi_pool_free(pools[i]);
    (void)max_threads;
    return 0;
}
