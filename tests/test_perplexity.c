/* test_perplexity.c: edgelm-perplexity against llama.cpp's results in
 * ../shared/golden/perplexity.json (same models, text, context and chunk count): the PPL
 * must agree within 0.1%, its standard error within 1%. Also elm_perplexity's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "edgelm.h"
#include "support.h"
#include "syntax_check.h"

typedef struct golden {
    char model[128];
    int n_ctx, chunks;
    double ppl, stderr_ppl;
} golden;

/* The value after "key": in one line of the golden file. */
static bool field(const char *line, const char *key, char *out, size_t cap) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return false;
    p += strlen(pat);
    while (*p == ' ') p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < cap) out[n++] = *p++;
    } else {
        while (*p && *p != ',' && *p != '}' && n + 1 < cap) out[n++] = *p++;
    }
    out[n] = '\0';
    return n > 0;
}

static int read_golden(golden *g, int max, char *text_file, size_t cap) {
    size_t size = 0;
    char *json = elmt_read_file(elmt_shared("golden/perplexity.json"), &size);
    assert_non_null(json);
    assert_true(elmt_json_valid(json, size, NULL));
    assert_true(field(json, "text_file", text_file, cap));
    int n = 0;
    for (char *line = strtok(json, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        char v[64];
        if (!field(line, "model", g[n].model, sizeof g[n].model)) continue;
        assert_true(field(line, "n_ctx", v, sizeof v));
        g[n].n_ctx = atoi(v);
        assert_true(field(line, "chunks", v, sizeof v));
        g[n].chunks = atoi(v);
        assert_true(field(line, "ppl", v, sizeof v));
        g[n].ppl = strtod(v, NULL);
        assert_true(field(line, "stderr", v, sizeof v));
        g[n].stderr_ppl = strtod(v, NULL);
        n++;
    }
    free(json);
    return n;
}

/* Run the tool with --json on models/<model> and golden/<text>, and read its result. */
static void run_tool(const golden *g, const char *text, double *ppl, double *err, int *chunks) {
    static char cmd[16384], model[4096], text_path[4096], model_rel[256], text_rel[512];
    snprintf(model_rel, sizeof model_rel, "models/%.128s", g->model);
    snprintf(text_rel, sizeof text_rel, "golden/%.256s", text);
    snprintf(model, sizeof model, "%.4000s", elmt_shared(model_rel));
    snprintf(text_path, sizeof text_path, "%.4000s", elmt_shared(text_rel));
    snprintf(cmd, sizeof cmd, "%.4000s -m '%.4000s' -f '%.4000s' -c %d -t 2 --chunks %d --json 2>/dev/null",
             elmt_bin("edgelm-perplexity"), model, text_path, g->n_ctx, g->chunks);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    assert_int_equal(rc, 0);
    assert_true(elmt_json_valid(out, n, NULL));
    char v[64];
    assert_true(field(out, "ppl", v, sizeof v));
    *ppl = strtod(v, NULL);
    assert_true(field(out, "stderr", v, sizeof v));
    *err = strtod(v, NULL);
    assert_true(field(out, "chunks", v, sizeof v));
    *chunks = atoi(v);
}

static void matches_llama_cpp(void **state) {
    (void)state;
    golden g[16];
    char text[256];
    int n = read_golden(g, 16, text, sizeof text);
    assert_true(n >= 4);
    for (int i = 0; i < n; i++) {
        double ppl, err;
        int chunks;
        run_tool(&g[i], text, &ppl, &err, &chunks);
        double rel_ppl = fabs(ppl - g[i].ppl) / g[i].ppl, rel_err = fabs(err - g[i].stderr_ppl) / g[i].stderr_ppl;
        printf("  %-24s n_ctx %3d chunks %3d: PPL %.4f (llama.cpp %.4f, %+.4f%%), stderr %.5f (%.5f)\n", g[i].model,
               g[i].n_ctx, chunks, ppl, g[i].ppl, 100 * (ppl - g[i].ppl) / g[i].ppl, err, g[i].stderr_ppl);
        assert_int_equal(chunks, g[i].chunks);
        assert_true(rel_ppl < 1e-3);
        assert_true(rel_err < 1e-2);
    }
}

static void refuses_what_it_cannot_score(void **state) {
    (void)state;
    elm_model *m = NULL;
    assert_int_equal(elm_model_load(elmt_shared("models/stories260K.gguf"), NULL, &m), ELM_OK);
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = 1;
    elm_context *c = NULL;
    assert_int_equal(elm_context_create(m, &cp, &c), ELM_OK);
    elm_token toks[200];
    for (int i = 0; i < 200; i++) toks[i] = 1 + i % 300;
    elm_perplexity_params pp = elm_perplexity_default_params();
    elm_perplexity_result r;
    pp.n_ctx = 32;
    /* Without all_logits only the last token's logits exist. */
    assert_int_equal(elm_perplexity(c, toks, 200, &pp, &r), ELM_ERR_INVALID_ARG);
    assert_non_null(strstr(elm_last_error(), "all_logits"));
    elm_context_free(c);

    cp.all_logits = true;
    assert_int_equal(elm_context_create(m, &cp, &c), ELM_OK);
    assert_int_equal(elm_perplexity(c, toks, 63, &pp, &r), ELM_ERR_INVALID_ARG);   /* < 2 chunks */
    pp.n_ctx = 128;                                                                /* > context */
    assert_int_equal(elm_perplexity(c, toks, 200, &pp, &r), ELM_ERR_INVALID_ARG);
    pp.n_ctx = 32;
    toks[50] = 100000;                                                             /* not a token */
    assert_int_equal(elm_perplexity(c, toks, 200, &pp, &r), ELM_ERR_INVALID_ARG);
    toks[50] = 7;
    /* A valid run: 6 chunks of 32, 15 scored tokens each; batches of 8 give the same. */
    assert_int_equal(elm_perplexity(c, toks, 200, &pp, &r), ELM_OK);
    assert_int_equal(r.chunks, 6);
    assert_int_equal(r.scored_tokens, 6 * 15);
    assert_true(r.ppl > 1 && isfinite(r.ppl));
    assert_true(fabs(log(r.ppl) - r.mean_nll) < 1e-12);
    elm_perplexity_result r8;
    pp.n_batch = 8;
    assert_int_equal(elm_perplexity(c, toks, 200, &pp, &r8), ELM_OK);
    assert_true(fabs(r8.ppl - r.ppl) / r.ppl < 1e-4);
    elm_context_free(c);
    elm_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_llama_cpp),
        cmocka_unit_test(refuses_what_it_cannot_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
