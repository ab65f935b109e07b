/* test_dequant_golden.c: our kernels against what ggml itself computed on the shared models.
 *   1. Dequantization: the first 4 rows of four tensors of every model, converted by our
 *      to_float (scalar and every available ISA), equal ../shared/golden/dequant/ (written
 *      by ggml's to_float) bit for bit.
 *   2. Quantization: our from_float applied to synth-llama-f16's tensors reproduces the
 *      tensors llama.cpp's quantizer wrote into the synth-llama-<type> files byte for byte,
 *      for every type: the round-to-nearest ones (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) must, and
 *      our K-quant search replicates ggml's step for step, so it does too. (The issue only
 *      asks K-quants for an RMSE within 105% of llama.cpp's; that is checked as well, so a
 *      failure says which of the two promises broke.)
 * Needs the GGUF reader and the shared files (a missing one fails). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "edgelm.h"
#include "kernels.h"
#include "support.h"

static const char *const models[] = {
    "stories260K-bf16", "synth-llama-f16", "synth-llama-q8_0", "synth-llama-q4_0", "synth-llama-q4_1",
    "synth-llama-q5_0", "synth-llama-q5_1", "synth-llama-q2_k", "synth-llama-q3_k_m", "synth-llama-q4_k_m",
    "synth-llama-q5_k_m", "synth-llama-q6_k",
};
static const char *const tensors[] = {
    "blk.0.attn_q.weight", "blk.0.attn_v.weight", "blk.0.ffn_down.weight", "blk.1.ffn_gate.weight",
};
#define N_MODELS (sizeof models / sizeof models[0])
#define N_TENSORS (sizeof tensors / sizeof tensors[0])
#define GOLDEN_ROWS 4

static elm_gguf *open_model(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    elm_gguf *g = NULL;
    elm_status st = elm_gguf_open(elmt_shared(rel), NULL, &g);
    if (st != ELM_OK) fail_msg("%s: %s", elmt_shared(rel), elm_last_error());
    return g;
}

static const elm_gguf_tensor *find_tensor(elm_gguf *g, const char *model, const char *name) {
    const elm_gguf_tensor *t = elm_gguf_find_tensor(g, name);
    if (!t) fail_msg("%s: no tensor %s", model, name);
    return t;
}

static void dequant_matches_ggml_bit_for_bit(void **state) {
    (void)state;
    bool type_seen[ELM_TYPE_COUNT] = {false};
    int checked = 0;
    for (size_t m = 0; m < N_MODELS; m++) {
        elm_gguf *g = open_model(models[m]);
        for (size_t k = 0; k < N_TENSORS; k++) {
            const elm_gguf_tensor *t = find_tensor(g, models[m], tensors[k]);
            const int64_t ne0 = t->ne[0];
            const size_t row_bytes = elm_type_row_bytes(t->type, ne0);
            assert_true(row_bytes > 0);
            assert_true(t->bytes >= GOLDEN_ROWS * row_bytes);

            char rel[256];
            snprintf(rel, sizeof rel, "golden/dequant/%s.%s.f32", models[m], tensors[k]);
            size_t gsize = 0;
            float *golden = elmt_read_file(elmt_shared(rel), &gsize);
            if (!golden) fail_msg("cannot read %s", elmt_shared(rel));
            assert_int_equal(gsize, (size_t)GOLDEN_ROWS * (size_t)ne0 * sizeof(float));

            float *ours = malloc(gsize);
            assert_non_null(ours);
            for (int isa = 0; isa < ELMK_ISA_COUNT; isa++) {
                if (!elmk_isa_available((elmk_isa)isa)) continue;
                const elmk_type_ops *ops = elmk_get_ops_isa(t->type, (elmk_isa)isa);
                if (!ops) fail_msg("%s %s: no ops for type %u", models[m], tensors[k], t->type);
                memset(ours, 0xFF, gsize);
                for (int r = 0; r < GOLDEN_ROWS; r++)
                    ops->to_float((const char *)t->data + (size_t)r * row_bytes, ours + (size_t)r * ne0, ne0);
                for (int64_t i = 0; i < GOLDEN_ROWS * ne0; i++) {
                    uint32_t a, b;
                    memcpy(&a, &ours[i], 4);
                    memcpy(&b, &golden[i], 4);
                    if (a != b)
                        fail_msg("%s %s (%s, %s): element %lld is %.9g (0x%08x), ggml says %.9g (0x%08x)", models[m],
                                 tensors[k], elm_type_get_info(t->type)->name, elmk_isa_name((elmk_isa)isa),
                                 (long long)i, ours[i], a, golden[i], b);
                }
            }
            type_seen[t->type] = true;
            checked++;
            free(ours);
            free(golden);
        }
        elm_gguf_close(g);
    }
    /* the files must exercise every weight type we claim to compute */
    const uint32_t want[] = {ELM_TYPE_F16, ELM_TYPE_BF16, ELM_TYPE_Q8_0, ELM_TYPE_Q4_0, ELM_TYPE_Q4_1,
                             ELM_TYPE_Q5_0, ELM_TYPE_Q5_1, ELM_TYPE_Q2_K, ELM_TYPE_Q3_K, ELM_TYPE_Q4_K,
                             ELM_TYPE_Q5_K, ELM_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!type_seen[want[i]]) fail_msg("no golden tensor of type %s", elm_type_get_info(want[i])->name);
    printf("dequant: %d tensors x %d rows bit-exact on every available ISA\n", checked, GOLDEN_ROWS);
}

/* ---- quantizer vs llama.cpp -------------------------------------------------------------- */

static double rmse(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (double)n);
}

static bool is_k_quant(uint32_t type) { return type >= ELM_TYPE_Q2_K && type <= ELM_TYPE_Q6_K; }

static void quantize_matches_llama_cpp(void **state) {
    (void)state;
    elm_gguf *src = open_model("synth-llama-f16");
    int64_t total_rows = 0;
    const elmk_type_ops *scalar_f16 = elmk_get_ops_isa(ELM_TYPE_F16, ELMK_ISA_SCALAR);
    for (size_t m = 2; m < N_MODELS; m++) {     /* the quantized synth-llama files */
        elm_gguf *g = open_model(models[m]);
        for (size_t k = 0; k < N_TENSORS; k++) {
            const elm_gguf_tensor *ref = find_tensor(g, models[m], tensors[k]);
            const elm_gguf_tensor *orig = find_tensor(src, "synth-llama-f16", tensors[k]);
            assert_int_equal(orig->type, ELM_TYPE_F16);
            assert_int_equal(orig->ne[0], ref->ne[0]);
            assert_int_equal(orig->ne[1], ref->ne[1]);
            const int64_t ne0 = ref->ne[0], rows = ref->ne[1];
            const size_t qrow = elm_type_row_bytes(ref->type, ne0);
            const size_t frow = elm_type_row_bytes(ELM_TYPE_F16, ne0);
            const elmk_type_ops *ops = elmk_get_ops_isa(ref->type, ELMK_ISA_SCALAR);
            assert_non_null(ops);

            float *x = malloc((size_t)ne0 * sizeof(float)), *y = malloc((size_t)ne0 * sizeof(float));
            uint8_t *q = malloc(qrow);
            assert_true(x && y && q);
            double err_ours = 0, err_ref = 0;
            int64_t same_rows = 0;
            for (int64_t r = 0; r < rows; r++) {
                const void *qref = (const char *)ref->data + (size_t)r * qrow;
                scalar_f16->to_float((const char *)orig->data + (size_t)r * frow, x, ne0);
                ops->from_float(x, q, ne0);
                same_rows += memcmp(q, qref, qrow) == 0;
                ops->to_float(q, y, ne0);
                err_ours += rmse(x, y, ne0) * rmse(x, y, ne0);
                ops->to_float(qref, y, ne0);
                err_ref += rmse(x, y, ne0) * rmse(x, y, ne0);
            }
            err_ours = sqrt(err_ours / (double)rows);
            err_ref = sqrt(err_ref / (double)rows);
            if (same_rows != rows || !(err_ours <= 1.05 * err_ref))
                fail_msg("%s %s (%s): %lld of %lld rows identical to llama.cpp's; rmse ours %.6g, llama.cpp %.6g%s",
                         models[m], tensors[k], elm_type_get_info(ref->type)->name, (long long)same_rows,
                         (long long)rows, err_ours, err_ref,
                         is_k_quant(ref->type) && err_ours <= 1.05 * err_ref ? " (within the 105% bound)" : "");
            total_rows += rows;
            free(x);
            free(y);
            free(q);
        }
        elm_gguf_close(g);
    }
    elm_gguf_close(src);
    printf("quantize: %lld rows of %zu tensors byte-identical to llama.cpp's\n", (long long)total_rows,
           (N_MODELS - 2) * N_TENSORS);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dequant_matches_ggml_bit_for_bit),
        cmocka_unit_test(quantize_matches_llama_cpp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
