/* test_quantize.c: elm_quantize_file against llama.cpp's own quantizer.
 *
 * The truth is ../shared/models: synth-llama-<type>.gguf and stories260K-{f16,bf16}.gguf
 * were written by llama.cpp's llama-quantize from the F16/F32 files we start from.
 *   - round-to-nearest types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) and F16/BF16: every tensor's
 *     type, shape and data byte for byte (and, since we also follow its file layout and key
 *     order, the whole file);
 *   - K-quant mixes (Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K): the same type for every tensor,
 *     and an RMSE (dequantized vs the F16 original) at most 105% of llama.cpp's file's, per
 *     tensor and over the model;
 *   - fallbacks and mixes on stories260K (rows of 64 and 172), derived by hand from
 *     llama.cpp's rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "edgelm.h"
#include "kernels.h"     /* the dequantizers, to measure the error of K-quants */
#include "support.h"

static char tmp[4096];

static const char *out_path(const char *name) {
    static char buf[4][4200];
    static int next;
    if (!tmp[0]) snprintf(tmp, sizeof tmp, "%s", elmt_tmpdir());
    char *b = buf[next++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", tmp, name);
    return b;
}

/* Notes from the library's log callback, kept for the fallback checks. */
static char notes[16384];
static void collect(elm_log_level level, const char *message, void *user) {
    (void)user;
    if (level > ELM_LOG_WARN) return;
    size_t n = strlen(notes);
    snprintf(notes + n, sizeof notes - n, "%s\n", message);
}

static elm_status quantize(const char *in, const char *out, const char *type, const elm_quantize_params *p) {
    notes[0] = '\0';
    elm_set_log_callback(collect, NULL);
    elm_status st = elm_quantize_file(in, out, type, p);
    elm_set_log_callback(NULL, NULL);
    return st;
}

/* quantize() that must succeed; says why when it does not. */
static void quantize_ok(const char *in, const char *out, const char *type, const elm_quantize_params *p) {
    elm_status st = quantize(in, out, type, p);
    if (st) print_error("%s\n", elm_last_error());
    assert_int_equal(st, ELM_OK);
}

static elm_gguf *open_or_fail(const char *path) {
    elm_gguf *g = NULL;
    elm_status st = elm_gguf_open(path, NULL, &g);
    if (st) print_error("%s\n", elm_last_error());
    assert_int_equal(st, ELM_OK);
    return g;
}

static void same_metadata(const elm_gguf *a, const elm_gguf *b) {
    assert_int_equal(elm_gguf_n_keys(a), elm_gguf_n_keys(b));
    for (int64_t i = 0; i < elm_gguf_n_keys(a); i++) {
        elm_gguf_string ka = elm_gguf_key_name(a, i), kb = elm_gguf_key_name(b, i);
        assert_int_equal(ka.len, kb.len);
        assert_memory_equal(ka.data, kb.data, ka.len);
        assert_int_equal(elm_gguf_key_type(a, i), elm_gguf_key_type(b, i));
    }
    uint64_t fa, fb;
    assert_int_equal(elm_gguf_get_uint(a, "general.file_type", &fa), ELM_OK);
    assert_int_equal(elm_gguf_get_uint(b, "general.file_type", &fb), ELM_OK);
    assert_int_equal(fa, fb);
}

static void same_shape(const elm_gguf_tensor *x, const elm_gguf_tensor *y) {
    assert_string_equal(x->name, y->name);
    if (x->type != y->type)
        print_error("%s: %s, llama.cpp has %s\n", x->name, elm_type_get_info(x->type)->name,
                    elm_type_get_info(y->type)->name);
    assert_int_equal(x->type, y->type);
    assert_int_equal(x->n_dims, y->n_dims);
    for (int d = 0; d < 4; d++) assert_int_equal(x->ne[d], y->ne[d]);
    assert_int_equal(x->bytes, y->bytes);
}

/* ==== Round-to-nearest types: byte for byte ============================================== */

static void check_exact(const char *in_rel, const char *type, const char *truth_rel) {
    const char *out = out_path("exact.gguf");
    quantize_ok(elmt_shared(in_rel), out, type, NULL);
    elm_gguf *ours = open_or_fail(out), *theirs = open_or_fail(elmt_shared(truth_rel));
    same_metadata(ours, theirs);
    assert_int_equal(elm_gguf_n_tensors(ours), elm_gguf_n_tensors(theirs));
    for (int64_t i = 0; i < elm_gguf_n_tensors(ours); i++) {
        const elm_gguf_tensor *x = elm_gguf_tensor_at(ours, i), *y = elm_gguf_tensor_at(theirs, i);
        same_shape(x, y);
        if (memcmp(x->data, y->data, x->bytes) != 0) print_error("%s %s: data differs\n", type, x->name);
        assert_memory_equal(x->data, y->data, x->bytes);
    }
    /* same keys in the same order, same layout: the same file */
    assert_int_equal(elm_gguf_file_size(ours), elm_gguf_file_size(theirs));
    assert_memory_equal(elm_gguf_mapping(ours), elm_gguf_mapping(theirs), elm_gguf_file_size(ours));
    elm_gguf_close(ours);
    elm_gguf_close(theirs);
}

static void q8_0_matches_llama_cpp(void **state) { (void)state; check_exact("models/synth-llama-f16.gguf", "Q8_0", "models/synth-llama-q8_0.gguf"); }
static void q4_0_matches_llama_cpp(void **state) { (void)state; check_exact("models/synth-llama-f16.gguf", "Q4_0", "models/synth-llama-q4_0.gguf"); }
static void q4_1_matches_llama_cpp(void **state) { (void)state; check_exact("models/synth-llama-f16.gguf", "q4_1", "models/synth-llama-q4_1.gguf"); }
static void q5_0_matches_llama_cpp(void **state) { (void)state; check_exact("models/synth-llama-f16.gguf", "Q5_0", "models/synth-llama-q5_0.gguf"); }
static void q5_1_matches_llama_cpp(void **state) { (void)state; check_exact("models/synth-llama-f16.gguf", "Q5_1", "models/synth-llama-q5_1.gguf"); }
static void f16_matches_llama_cpp(void **state) { (void)state; check_exact("models/stories260K.gguf", "F16", "models/stories260K-f16.gguf"); }
static void bf16_matches_llama_cpp(void **state) { (void)state; check_exact("models/stories260K.gguf", "BF16", "models/stories260K-bf16.gguf"); }

/* ==== K-quant mixes: same types, error within 105% ======================================= */

/* Sum of squared differences between a tensor dequantized and the original F16 tensor. */
static double sq_error(const elm_gguf_tensor *q, const elm_gguf_tensor *orig) {
    int64_t n = q->ne[0] * q->ne[1] * q->ne[2] * q->ne[3];
    float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(orig->type, ELM_TYPE_F16);
    elmk_fp16_to_fp32_row(orig->data, b, n);
    const elmk_type_ops *ops = elmk_get_ops_isa(q->type, ELMK_ISA_SCALAR);
    assert_non_null(ops);
    ops->to_float(q->data, a, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    free(a);
    free(b);
    return s;
}

static void check_mix(const char *type, const char *truth_rel) {
    const char *out = out_path("mix.gguf");
    quantize_ok(elmt_shared("models/synth-llama-f16.gguf"), out, type, NULL);
    elm_gguf *ours = open_or_fail(out), *theirs = open_or_fail(elmt_shared(truth_rel));
    elm_gguf *orig = open_or_fail(elmt_shared("models/synth-llama-f16.gguf"));
    same_metadata(ours, theirs);
    assert_int_equal(elm_gguf_n_tensors(ours), elm_gguf_n_tensors(theirs));
    double total_ours = 0, total_theirs = 0;
    int64_t total_n = 0;
    for (int64_t i = 0; i < elm_gguf_n_tensors(ours); i++) {
        const elm_gguf_tensor *x = elm_gguf_tensor_at(ours, i), *y = elm_gguf_tensor_at(theirs, i);
        same_shape(x, y);
        const elm_gguf_tensor *o = elm_gguf_find_tensor(orig, x->name);
        assert_non_null(o);
        if (x->type == ELM_TYPE_F32) {           /* norms: copied */
            assert_memory_equal(x->data, o->data, x->bytes);
            continue;
        }
        double e_ours = sq_error(x, o), e_theirs = sq_error(y, o);
        int64_t n = x->ne[0] * x->ne[1] * x->ne[2] * x->ne[3];
        double r_ours = sqrt(e_ours / (double)n), r_theirs = sqrt(e_theirs / (double)n);
        if (r_ours > 1.05 * r_theirs)
            print_error("%s %s: RMSE %.6g, llama.cpp %.6g\n", type, x->name, r_ours, r_theirs);
        assert_true(r_ours <= 1.05 * r_theirs);
        assert_true(r_theirs > 0);               /* a lossy type: the check has teeth */
        total_ours += e_ours;
        total_theirs += e_theirs;
        total_n += n;
    }
    assert_true(sqrt(total_ours / (double)total_n) <= 1.05 * sqrt(total_theirs / (double)total_n));
    elm_gguf_close(ours);
    elm_gguf_close(theirs);
    elm_gguf_close(orig);
}

static void q2_k_mix_matches_llama_cpp(void **state) { (void)state; check_mix("Q2_K", "models/synth-llama-q2_k.gguf"); }
static void q3_k_m_mix_matches_llama_cpp(void **state) { (void)state; check_mix("Q3_K_M", "models/synth-llama-q3_k_m.gguf"); }
static void q4_k_m_mix_matches_llama_cpp(void **state) { (void)state; check_mix("Q4_K_M", "models/synth-llama-q4_k_m.gguf"); }
static void q5_k_m_mix_matches_llama_cpp(void **state) { (void)state; check_mix("Q5_K_M", "models/synth-llama-q5_k_m.gguf"); }
static void q6_k_matches_llama_cpp(void **state) { (void)state; check_mix("Q6_K", "models/synth-llama-q6_k.gguf"); }

/* ==== Fallbacks, mixes by hand, options, errors ========================================== */

static uint32_t type_of(const elm_gguf *g, const char *name) {
    const elm_gguf_tensor *t = elm_gguf_find_tensor(g, name);
    if (!t) print_error("no tensor %s\n", name);
    assert_non_null(t);
    return t->type;
}

/* stories260K: dim 64, FFN 172, 5 layers, separate output.weight. By llama.cpp's rules for
 * Q4_K_M: output -> Q6_K, but 64 is not a multiple of 256 -> Q8_0; attn_v and ffn_down of
 * layers where use_more_bits(i, 5) holds (i = 2: (2-0)%3 == 2; i = 4: i >= 35/8) -> Q6_K;
 * every other matrix Q4_K. Then the fallbacks: Q4_K -> Q5_0 for rows of 64, Q6_K -> Q8_0
 * for rows of 64, and rows of 172 fit no block type -> F16. Norms stay F32. */
static void stories_q4_k_m_falls_back(void **state) {
    (void)state;
    const char *out = out_path("stories-q4km.gguf");
    quantize_ok(elmt_shared("models/stories260K.gguf"), out, "Q4_K_M", NULL);
    assert_non_null(strstr(notes, "blk.0.ffn_down.weight: row length 172"));
    assert_non_null(strstr(notes, "using F16"));
    assert_non_null(strstr(notes, "blk.0.attn_q.weight: row length 64 is not a multiple of Q4_K's block size 256; using Q5_0"));
    elm_gguf *g = open_or_fail(out);
    assert_int_equal(type_of(g, "output.weight"), ELM_TYPE_Q8_0);
    assert_int_equal(type_of(g, "token_embd.weight"), ELM_TYPE_Q5_0);
    assert_int_equal(type_of(g, "output_norm.weight"), ELM_TYPE_F32);
    for (int l = 0; l < 5; l++) {
        char name[64];
        bool more = l == 2 || l == 4;
        static const char *const q5_0[] = {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"};
        for (int k = 0; k < 5; k++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, q5_0[k]);
            assert_int_equal(type_of(g, name), ELM_TYPE_Q5_0);
        }
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        assert_int_equal(type_of(g, name), more ? ELM_TYPE_Q8_0 : ELM_TYPE_Q5_0);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        assert_int_equal(type_of(g, name), ELM_TYPE_F16);
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        assert_int_equal(type_of(g, name), ELM_TYPE_F32);
    }
    uint64_t ft;
    assert_int_equal(elm_gguf_get_uint(g, "general.file_type", &ft), ELM_OK);
    assert_int_equal(ft, 15);   /* LLAMA_FTYPE_MOSTLY_Q4_K_M */
    /* the converted data decodes close to the original (F16 fallback: within half a ULP) */
    elm_gguf *orig = open_or_fail(elmt_shared("models/stories260K.gguf"));
    const elm_gguf_tensor *fd = elm_gguf_find_tensor(g, "blk.3.ffn_down.weight");
    const elm_gguf_tensor *od = elm_gguf_find_tensor(orig, "blk.3.ffn_down.weight");
    const uint16_t *h = fd->data;
    const float *f = od->data;
    for (int64_t i = 0; i < od->ne[0] * od->ne[1]; i++) {
        float x = elmk_fp16_to_fp32(h[i]);
        assert_true(fabsf(x - f[i]) <= fabsf(f[i]) * (1.0f / 2048.0f) + 1e-7f);
    }
    elm_gguf_close(orig);
    elm_gguf_close(g);
}

/* Q4_0 on stories260K: output (64-wide rows) -> Q8_0; token_embd is not tied here, so it
 * stays Q4_0; 172-wide rows -> F16. LLAMA_FTYPE_MOSTLY_Q4_0 = 2. */
static void stories_q4_0(void **state) {
    (void)state;
    const char *out = out_path("stories-q4_0.gguf");
    quantize_ok(elmt_shared("models/stories260K.gguf"), out, "Q4_0", NULL);
    elm_gguf *g = open_or_fail(out);
    assert_int_equal(type_of(g, "output.weight"), ELM_TYPE_Q8_0);
    assert_int_equal(type_of(g, "token_embd.weight"), ELM_TYPE_Q4_0);
    assert_int_equal(type_of(g, "blk.1.attn_v.weight"), ELM_TYPE_Q4_0);
    assert_int_equal(type_of(g, "blk.1.ffn_down.weight"), ELM_TYPE_F16);
    uint64_t ft;
    assert_int_equal(elm_gguf_get_uint(g, "general.file_type", &ft), ELM_OK);
    assert_int_equal(ft, 2);
    assert_int_equal(elm_gguf_get_uint(g, "general.quantization_version", &ft), ELM_OK);
    assert_int_equal(ft, 2);
    elm_gguf_close(g);
}

static void pure_and_threads(void **state) {
    (void)state;
    elm_quantize_params p = elm_quantize_default_params();
    assert_int_equal(p.n_threads, 0);
    assert_false(p.pure);
    assert_false(p.allow_requantize);
    /* pure: every converted tensor Q4_K, even the tied embedding and attn_v */
    p.pure = true;
    const char *a = out_path("pure.gguf");
    quantize_ok(elmt_shared("models/synth-llama-f16.gguf"), a, "Q4_K_M", &p);
    elm_gguf *g = open_or_fail(a);
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        assert_int_equal(t->type, t->n_dims == 1 ? ELM_TYPE_F32 : ELM_TYPE_Q4_K);
    }
    elm_gguf_close(g);
    /* the thread count does not change a byte */
    p = elm_quantize_default_params();
    p.n_threads = 1;
    const char *one = out_path("t1.gguf"), *three = out_path("t3.gguf");
    quantize_ok(elmt_shared("models/synth-llama-f16.gguf"), one, "Q3_K_M", &p);
    p.n_threads = 3;
    quantize_ok(elmt_shared("models/synth-llama-f16.gguf"), three, "Q3_K_M", &p);
    size_t n1, n3;
    void *b1 = elmt_read_file(one, &n1), *b3 = elmt_read_file(three, &n3);
    assert_non_null(b1);
    assert_non_null(b3);
    assert_int_equal(n1, n3);
    assert_memory_equal(b1, b3, n1);
    free(b1);
    free(b3);
}

static void requantize_and_errors(void **state) {
    (void)state;
    const char *out = out_path("re.gguf");
    const char *q8 = elmt_shared("models/synth-llama-q8_0.gguf");
    assert_int_equal(quantize(q8, out, "Q4_0", NULL), ELM_ERR_UNSUPPORTED);
    assert_non_null(strstr(elm_last_error(), "Q8_0"));
    assert_non_null(strstr(elm_last_error(), "allow_requantize"));
    /* allowed: Q8_0 -> Q4_0 dequantizes first; same tensor types as llama.cpp's Q4_0 */
    elm_quantize_params p = elm_quantize_default_params();
    p.allow_requantize = true;
    quantize_ok(q8, out, "Q4_0", &p);
    elm_gguf *g = open_or_fail(out), *ref = open_or_fail(elmt_shared("models/synth-llama-q4_0.gguf"));
    assert_int_equal(elm_gguf_n_tensors(g), elm_gguf_n_tensors(ref));
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) same_shape(elm_gguf_tensor_at(g, i), elm_gguf_tensor_at(ref, i));
    elm_gguf_close(g);
    elm_gguf_close(ref);

    assert_int_equal(quantize(q8, out, "Q4_Z", NULL), ELM_ERR_INVALID_ARG);
    assert_non_null(strstr(elm_last_error(), "Q4_Z"));
    assert_non_null(strstr(elm_last_error(), "Q4_K_M"));
    elm_status st = elm_quantize_file("/nonexistent/in.gguf", out, "Q4_0", NULL);
    assert_int_equal(st, ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "/nonexistent/in.gguf"));
    assert_int_equal(elm_quantize_file(NULL, out, "Q4_0", NULL), ELM_ERR_INVALID_ARG);
    st = elm_quantize_file(elmt_shared("models/stories260K.gguf"), "/nonexistent/dir/out.gguf", "Q8_0", NULL);
    assert_int_equal(st, ELM_ERR_IO);
}

/* The tool: converts, prints a summary, fails with one line on a bad type. */
static void tool_runs(void **state) {
    (void)state;
    const char *tool = elmt_bin("edgelm-quantize");
    const char *out = out_path("tool.gguf"), *err = out_path("tool.err");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' q8_0 -t 2 2> '%s'", tool, elmt_shared("models/synth-llama-f16.gguf"), out, err);
    assert_int_equal(system(cmd), 0);
    size_t n;
    char *a = elmt_read_file(out, &n), *b = NULL;
    size_t m;
    b = elmt_read_file(elmt_shared("models/synth-llama-q8_0.gguf"), &m);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n, m);
    assert_memory_equal(a, b, n);
    free(a);
    free(b);
    char *text = elmt_read_file(err, &n);
    assert_non_null(text);
    assert_non_null(strstr(text, "Q8_0 x29"));
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' Q9 2> '%s'", tool, elmt_shared("models/synth-llama-f16.gguf"), out, err);
    int rc = system(cmd);
    assert_true(rc != -1 && WEXITSTATUS(rc) == 1);
    text = elmt_read_file(err, &n);
    assert_non_null(text);
    assert_true(n > 0 && text[n - 1] == '\n');
    assert_null(memchr(text, '\n', n - 1));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(q8_0_matches_llama_cpp),
        cmocka_unit_test(q4_0_matches_llama_cpp),
        cmocka_unit_test(q4_1_matches_llama_cpp),
        cmocka_unit_test(q5_0_matches_llama_cpp),
        cmocka_unit_test(q5_1_matches_llama_cpp),
        cmocka_unit_test(f16_matches_llama_cpp),
        cmocka_unit_test(bf16_matches_llama_cpp),
        cmocka_unit_test(q2_k_mix_matches_llama_cpp),
        cmocka_unit_test(q3_k_m_mix_matches_llama_cpp),
        cmocka_unit_test(q4_k_m_mix_matches_llama_cpp),
        cmocka_unit_test(q5_k_m_mix_matches_llama_cpp),
        cmocka_unit_test(q6_k_matches_llama_cpp),
        cmocka_unit_test(stories_q4_k_m_falls_back),
        cmocka_unit_test(stories_q4_0),
        cmocka_unit_test(pure_and_threads),
        cmocka_unit_test(requantize_and_errors),
        cmocka_unit_test(tool_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
