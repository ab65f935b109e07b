/* test_sampler.c: the sampling chain against hand-computed distributions, a brute-force
 * reference for large vocabularies, and a chi-square test of the draws; the generator
 * against the published xoshiro256** sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "edgelm.h"
#include "rng.h"
#include "support.h"

/* A 7-token distribution whose probabilities are round numbers: logits are their logs. */
static const double P7[7] = {0.40, 0.25, 0.15, 0.10, 0.05, 0.03, 0.02};

static void logits_from_probs(const double *p, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = (float)log(p[i]);
}

static elm_sampler_params plain_params(void) {
    /* temperature 1, every filter off, no penalties */
    elm_sampler_params p = elm_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.penalty_last_n = 0;
    p.seed = 1234;
    return p;
}

static elm_sampler *make(int n_vocab, const elm_sampler_params *p) {
    elm_sampler *s = NULL;
    assert_int_equal(elm_sampler_create(n_vocab, p, &s), ELM_OK);
    assert_non_null(s);
    return s;
}

/* The candidates the sampler keeps must be exactly want_tokens, with probabilities want_p. */
static void expect_candidates(elm_sampler *s, const float *logits, int n_want, const int *want_tokens,
                              const double *want_p) {
    elm_token_prob got[64];
    int32_t n = -1;
    assert_int_equal(elm_sampler_probs(s, logits, got, 64, &n), ELM_OK);
    assert_int_equal(n, n_want);
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(got[i].token, want_tokens[i]);
        assert_true(fabs(got[i].p - want_p[i]) < 1e-5);
        sum += got[i].p;
    }
    assert_true(fabs(sum - 1.0) < 1e-5);
}

/* ==== The generator ====================================================================== */

static void rng_matches_reference_sequence(void **state) {
    (void)state;
    /* xoshiro256** from state {1, 2, 3, 4}: the first outputs of the authors' C code. */
    elmi_rng r = {{1, 2, 3, 4}};
    const uint64_t want[4] = {11520u, 0u, 1509978240u, 1215971899390074240u};
    for (int i = 0; i < 4; i++) assert_true(elmi_rng_next(&r) == want[i]);

    /* Seeding is deterministic, and different seeds give different streams. */
    elmi_rng a, b, c;
    elmi_rng_seed(&a, 42);
    elmi_rng_seed(&b, 42);
    elmi_rng_seed(&c, 43);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 100; i++) {
        uint64_t x = elmi_rng_next(&a), y = elmi_rng_next(&b), z = elmi_rng_next(&c);
        same_ab &= x == y;
        same_ac &= x == z;
    }
    assert_true(same_ab);
    assert_false(same_ac);

    /* uniform() stays in [0, 1) and has mean 1/2. */
    double mean = 0.0;
    for (int i = 0; i < 100000; i++) {
        double u = elmi_rng_uniform(&a);
        assert_true(u >= 0.0 && u < 1.0);
        mean += u;
    }
    mean /= 100000;
    assert_true(fabs(mean - 0.5) < 0.005);   /* 5.5 standard deviations */
}

/* ==== Greedy ============================================================================= */

static void greedy_is_argmax_and_ties_go_to_lowest_id(void **state) {
    (void)state;
    elm_sampler_params p = elm_sampler_greedy_params();
    elm_sampler *s = make(6, &p);
    const float l1[6] = {0.1f, 2.0f, -3.0f, 1.9f, 0.0f, 1.0f};
    elm_token t = -1;
    assert_int_equal(elm_sampler_sample(s, l1, &t), ELM_OK);
    assert_int_equal(t, 1);
    const float l2[6] = {0.5f, 3.0f, -3.0f, 3.0f, 3.0f, 1.0f};   /* three-way tie */
    assert_int_equal(elm_sampler_sample(s, l2, &t), ELM_OK);
    assert_int_equal(t, 1);
    const float l3[6] = {-INFINITY, -INFINITY, NAN, -INFINITY, -7.0f, -INFINITY};
    assert_int_equal(elm_sampler_sample(s, l3, &t), ELM_OK);
    assert_int_equal(t, 4);
    elm_token_prob tp[2];
    int32_t n = 0;
    assert_int_equal(elm_sampler_probs(s, l1, tp, 2, &n), ELM_OK);
    assert_int_equal(n, 1);
    assert_int_equal(tp[0].token, 1);
    assert_true(tp[0].p == 1.0f);
    elm_sampler_free(s);

    /* temperature < 0 is greedy too */
    p = plain_params();
    p.temperature = -1.0f;
    s = make(6, &p);
    assert_int_equal(elm_sampler_sample(s, l2, &t), ELM_OK);
    assert_int_equal(t, 1);
    elm_sampler_free(s);
}

/* ==== Filters on the 7-token distribution ============================================== */

static void top_k_keeps_the_k_largest(void **state) {
    (void)state;
    float l[7];
    logits_from_probs(P7, 7, l);
    elm_sampler_params p = plain_params();
    p.top_k = 3;
    elm_sampler *s = make(7, &p);
    /* 0.40, 0.25, 0.15 renormalised by 0.80 */
    expect_candidates(s, l, 3, (const int[]){0, 1, 2}, (const double[]){0.5, 0.3125, 0.1875});
    elm_sampler_free(s);

    p.top_k = 1;
    s = make(7, &p);
    expect_candidates(s, l, 1, (const int[]){0}, (const double[]){1.0});
    elm_sampler_free(s);

    p.top_k = 100;   /* more than the vocabulary: everything */
    s = make(7, &p);
    expect_candidates(s, l, 7, (const int[]){0, 1, 2, 3, 4, 5, 6}, P7);
    elm_sampler_free(s);

    /* shuffled token ids: the filter follows logits, not positions */
    const float shuffled[7] = {l[4], l[0], l[6], l[2], l[1], l[5], l[3]};
    p.top_k = 2;
    s = make(7, &p);
    expect_candidates(s, shuffled, 2, (const int[]){1, 4}, (const double[]){0.40 / 0.65, 0.25 / 0.65});
    elm_sampler_free(s);
}

static void top_p_keeps_the_smallest_prefix_reaching_p(void **state) {
    (void)state;
    float l[7];
    logits_from_probs(P7, 7, l);
    elm_sampler_params p = plain_params();
    /* cumulative: 0.40 0.65 0.80 0.90 0.95 0.98 1.00 */
    struct { float top_p; int keep; } cases[] = {
        {0.30f, 1}, {0.50f, 2}, {0.70f, 3}, {0.85f, 4}, {0.93f, 5}, {0.97f, 6}, {0.99f, 7}, {0.0f, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        p.top_p = cases[c].top_p;
        elm_sampler *s = make(7, &p);
        double mass = 0.0, want[7];
        int ids[7];
        for (int i = 0; i < cases[c].keep; i++) mass += P7[i];
        for (int i = 0; i < cases[c].keep; i++) { ids[i] = i; want[i] = P7[i] / mass; }
        expect_candidates(s, l, cases[c].keep, ids, want);
        elm_sampler_free(s);
    }
}

static void min_p_keeps_tokens_above_the_relative_floor(void **state) {
    (void)state;
    float l[7];
    logits_from_probs(P7, 7, l);
    elm_sampler_params p = plain_params();
    /* floor = min_p * 0.40 */
    p.min_p = 0.3f;   /* floor 0.12: keeps 0.40 0.25 0.15 */
    elm_sampler *s = make(7, &p);
    expect_candidates(s, l, 3, (const int[]){0, 1, 2}, (const double[]){0.5, 0.3125, 0.1875});
    elm_sampler_free(s);
    p.min_p = 0.1f;   /* floor 0.04: keeps five */
    s = make(7, &p);
    expect_candidates(s, l, 5, (const int[]){0, 1, 2, 3, 4},
                      (const double[]){0.40 / 0.95, 0.25 / 0.95, 0.15 / 0.95, 0.10 / 0.95, 0.05 / 0.95});
    elm_sampler_free(s);
    p.min_p = 1.0f;   /* only the maximum */
    s = make(7, &p);
    expect_candidates(s, l, 1, (const int[]){0}, (const double[]){1.0});
    elm_sampler_free(s);
}

static void filters_run_in_order_and_temperature_comes_last(void **state) {
    (void)state;
    float l[7];
    logits_from_probs(P7, 7, l);
    elm_sampler_params p = plain_params();
    /* top-k 3 first (0.5 0.3125 0.1875), then top-p 0.7 on THAT: 0.5, 0.8125 -> 2 kept.
     * (top-p 0.7 on the full distribution would keep 3.) */
    p.top_k = 3;
    p.top_p = 0.7f;
    elm_sampler *s = make(7, &p);
    expect_candidates(s, l, 2, (const int[]){0, 1}, (const double[]){0.40 / 0.65, 0.25 / 0.65});
    elm_sampler_free(s);

    /* min-p reads the untempered distribution: with T = 2, min_p 0.3 still keeps three,
     * and their probabilities are proportional to sqrt(p). */
    p = plain_params();
    p.min_p = 0.3f;
    p.temperature = 2.0f;
    s = make(7, &p);
    double r0 = sqrt(0.40), r1 = sqrt(0.25), r2 = sqrt(0.15), z = r0 + r1 + r2;
    expect_candidates(s, l, 3, (const int[]){0, 1, 2}, (const double[]){r0 / z, r1 / z, r2 / z});
    elm_sampler_free(s);

    /* temperature alone: p_i ~ p_i^(1/T) over all seven */
    p = plain_params();
    p.temperature = 0.5f;
    s = make(7, &p);
    double w[7], zz = 0.0;
    for (int i = 0; i < 7; i++) zz += P7[i] * P7[i];
    for (int i = 0; i < 7; i++) w[i] = P7[i] * P7[i] / zz;
    expect_candidates(s, l, 7, (const int[]){0, 1, 2, 3, 4, 5, 6}, w);
    elm_sampler_free(s);
}

/* ==== Penalties and bias ================================================================= */

static void penalties_follow_llama_cpp_semantics(void **state) {
    (void)state;
    elm_sampler_params p = plain_params();
    p.penalty_last_n = 3;
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.1f;
    p.presence_penalty = 0.5f;
    elm_sampler *s = make(5, &p);
    const float l[5] = {2.0f, 1.0f, -1.0f, 0.5f, 0.0f};
    /* history 3 3 1 1 2: with last_n 3 only "1 1 2" counts */
    elm_sampler_accept(s, 3);
    elm_sampler_accept(s, 3);
    elm_sampler_accept(s, 1);
    elm_sampler_accept(s, 1);
    elm_sampler_accept(s, 2);
    elm_sampler_accept(s, 99);   /* out of range: ignored */
    elm_sampler_accept(s, -1);
    elm_token_prob got[5];
    int32_t n = 0;
    assert_int_equal(elm_sampler_probs(s, l, got, 5, &n), ELM_OK);
    assert_int_equal(n, 5);
    /* token 1: 1.0 / 2 - (2 * 0.1 + 0.5) = -0.2;  token 2: -1.0 * 2 - (0.1 + 0.5) = -2.6 */
    const float want[5] = {2.0f, -0.2f, -2.6f, 0.5f, 0.0f};
    double z = 0.0;
    for (int i = 0; i < 5; i++) z += exp(want[i]);
    for (int i = 0; i < 5; i++) {
        int t = got[i].token;
        assert_true(fabsf(got[i].logit - want[t]) < 1e-6f);
        assert_true(fabs(got[i].p - exp(want[t]) / z) < 1e-6);
    }
    /* sorted by probability: 0, 3, 4, 1, 2 */
    const int order[5] = {0, 3, 4, 1, 2};
    for (int i = 0; i < 5; i++) assert_int_equal(got[i].token, order[i]);

    /* reset forgets the history */
    elm_sampler_reset(s);
    assert_int_equal(elm_sampler_probs(s, l, got, 5, &n), ELM_OK);
    for (int i = 0; i < 5; i++) assert_true(got[i].logit == l[got[i].token]);
    elm_sampler_free(s);

    /* the sampled token enters the history: greedy with a strong repeat penalty alternates */
    p = elm_sampler_greedy_params();
    p.penalty_last_n = 1;
    p.repeat_penalty = 10.0f;
    s = make(3, &p);
    const float l2[3] = {1.0f, 0.9f, 0.1f};
    elm_token t;
    assert_int_equal(elm_sampler_sample(s, l2, &t), ELM_OK);
    assert_int_equal(t, 0);
    assert_int_equal(elm_sampler_sample(s, l2, &t), ELM_OK);   /* 0 -> 0.1 < 0.9 */
    assert_int_equal(t, 1);
    assert_int_equal(elm_sampler_sample(s, l2, &t), ELM_OK);   /* only 1 is remembered */
    assert_int_equal(t, 0);
    elm_sampler_free(s);
}

static void logit_bias_shifts_and_bans(void **state) {
    (void)state;
    const elm_logit_bias bias[3] = {{1, -INFINITY}, {2, 1.5f}, {2, 0.5f}};
    elm_sampler_params p = elm_sampler_greedy_params();
    p.logit_bias = bias;
    p.n_logit_bias = 3;
    elm_sampler *s = make(4, &p);
    const float l[4] = {1.0f, 5.0f, 2.5f, 0.0f};
    elm_token t;
    /* token 1 banned; token 2 gets +2.0 -> 4.5 > 1.0 */
    assert_int_equal(elm_sampler_sample(s, l, &t), ELM_OK);
    assert_int_equal(t, 2);
    elm_sampler_free(s);

    /* a banned token is never drawn and gets no probability */
    p = plain_params();
    p.logit_bias = bias;
    p.n_logit_bias = 1;
    s = make(4, &p);
    const float flat[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    expect_candidates(s, flat, 3, (const int[]){0, 2, 3}, (const double[]){1.0 / 3, 1.0 / 3, 1.0 / 3});
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(elm_sampler_sample(s, flat, &t), ELM_OK);
        assert_int_not_equal(t, 1);
    }
    elm_sampler_free(s);

    /* everything banned is an error, not a token */
    const elm_logit_bias ban_all[2] = {{0, -INFINITY}, {1, -INFINITY}};
    p.logit_bias = ban_all;
    p.n_logit_bias = 2;
    s = make(2, &p);
    const float two[2] = {1.0f, 2.0f};
    t = 77;
    assert_int_equal(elm_sampler_sample(s, two, &t), ELM_ERR_INVALID_ARG);
    assert_int_equal(t, 77);
    elm_sampler_free(s);
}

/* ==== Draws ============================================================================== */

/* Draw n times and compare the counts with the expected probabilities: a chi-square
 * statistic under the 0.1% critical value and every bin within 5 standard deviations. */
static void check_frequencies(elm_sampler *s, const float *logits, int n_vocab, const double *want, int draws,
                              double chi2_critical) {
    int *count = calloc((size_t)n_vocab, sizeof *count);
    assert_non_null(count);
    for (int i = 0; i < draws; i++) {
        elm_token t;
        assert_int_equal(elm_sampler_sample(s, logits, &t), ELM_OK);
        assert_true(t >= 0 && t < n_vocab);
        count[t]++;
    }
    double chi2 = 0.0;
    for (int i = 0; i < n_vocab; i++) {
        if (want[i] == 0.0) {
            assert_int_equal(count[i], 0);
            continue;
        }
        double e = want[i] * draws, d = count[i] - e;
        chi2 += d * d / e;
        double sd = sqrt(draws * want[i] * (1 - want[i]));
        assert_true(fabs(d) < 5 * sd + 1);
    }
    assert_true(chi2 < chi2_critical);
    free(count);
}

static void draws_follow_the_softmax(void **state) {
    (void)state;
    const int draws = elmt_quick() ? 20000 : 200000;
    float l[7];
    logits_from_probs(P7, 7, l);
    elm_sampler_params p = plain_params();
    elm_sampler *s = make(7, &p);
    check_frequencies(s, l, 7, P7, draws, 22.46);   /* chi-square, 6 dof, p = 0.001 */
    elm_sampler_free(s);

    /* top-k 3 at T = 0.5: p ~ (0.4^2, 0.25^2, 0.15^2), the rest never */
    p.top_k = 3;
    p.temperature = 0.5f;
    p.seed = 99;
    s = make(7, &p);
    double z = 0.16 + 0.0625 + 0.0225;
    const double want[7] = {0.16 / z, 0.0625 / z, 0.0225 / z, 0, 0, 0, 0};
    check_frequencies(s, l, 7, want, draws, 13.82);   /* 2 dof */
    elm_sampler_free(s);
}

static void same_seed_same_tokens(void **state) {
    (void)state;
    enum { NV = 1000, N = 200 };
    float *l = malloc(NV * sizeof *l);
    assert_non_null(l);
    uint64_t rs = 5;
    for (int i = 0; i < NV; i++) l[i] = 3.0f * elmt_rand_normal(&rs);
    elm_sampler_params p = elm_sampler_default_params();
    p.seed = 7;
    p.repeat_penalty = 1.1f;
    elm_sampler *a = make(NV, &p), *b = make(NV, &p);
    p.seed = 8;
    elm_sampler *c = make(NV, &p);
    elm_token ta[N], tb[N], tc[N];
    int differ = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(elm_sampler_sample(a, l, &ta[i]), ELM_OK);
        assert_int_equal(elm_sampler_sample(b, l, &tb[i]), ELM_OK);
        assert_int_equal(elm_sampler_sample(c, l, &tc[i]), ELM_OK);
        assert_int_equal(ta[i], tb[i]);
        differ += ta[i] != tc[i];
    }
    assert_true(differ > 0);
    assert_true(elm_sampler_seed(a) == 7);
    /* reset replays the same sequence */
    elm_sampler_reset(a);
    for (int i = 0; i < N; i++) {
        elm_token t;
        assert_int_equal(elm_sampler_sample(a, l, &t), ELM_OK);
        assert_int_equal(t, ta[i]);
    }
    elm_sampler_free(a);
    elm_sampler_free(b);
    elm_sampler_free(c);

    /* ELM_SEED_RANDOM picks a real seed, different each time, and reports it */
    p.seed = ELM_SEED_RANDOM;
    elm_sampler *r1 = make(NV, &p), *r2 = make(NV, &p);
    assert_true(elm_sampler_seed(r1) != ELM_SEED_RANDOM);
    assert_true(elm_sampler_seed(r1) != elm_sampler_seed(r2));
    /* and that seed reproduces the run */
    p.seed = elm_sampler_seed(r1);
    elm_sampler *r3 = make(NV, &p);
    for (int i = 0; i < 50; i++) {
        elm_token x, y;
        assert_int_equal(elm_sampler_sample(r1, l, &x), ELM_OK);
        assert_int_equal(elm_sampler_sample(r3, l, &y), ELM_OK);
        assert_int_equal(x, y);
    }
    elm_sampler_free(r1);
    elm_sampler_free(r2);
    elm_sampler_free(r3);
    free(l);
}

/* ==== Large vocabularies against a brute-force reference ================================== */

typedef struct { int id; float l; } ref_cand;
static int ref_cmp(const void *pa, const void *pb) {
    const ref_cand *a = pa, *b = pb;
    if (a->l != b->l) return a->l > b->l ? -1 : 1;
    return a->id - b->id;
}

static void large_vocab_matches_full_sort_reference(void **state) {
    (void)state;
    enum { NV = 50000 };
    float *l = malloc(NV * sizeof *l);
    ref_cand *ref = malloc(NV * sizeof *ref);
    elm_token_prob *got = malloc(NV * sizeof *got);
    assert_true(l && ref && got);
    const int rounds = elmt_quick() ? 3 : 10;
    for (int round = 0; round < rounds; round++) {
        uint64_t rs = 100 + (uint64_t)round;
        /* a peaked distribution, with ties from rounding to a coarse grid */
        for (int i = 0; i < NV; i++) l[i] = roundf(4.0f * elmt_rand_normal(&rs) * (1.0f + round * 0.3f)) * 0.5f;
        for (int i = 0; i < NV; i++) ref[i] = (ref_cand){i, l[i]};
        qsort(ref, NV, sizeof *ref, ref_cmp);
        double z = 0.0;
        for (int i = 0; i < NV; i++) z += exp((double)ref[i].l - ref[0].l);

        const float tps[3] = {0.5f, 0.9f, 0.99f};
        for (int k = 0; k < 3; k++) {
            /* reference: smallest prefix reaching top_p */
            double cum = 0.0;
            int keep = NV;
            for (int i = 0; i < NV; i++) {
                cum += exp((double)ref[i].l - ref[0].l) / z;
                if (cum >= tps[k]) { keep = i + 1; break; }
            }
            elm_sampler_params p = plain_params();
            p.top_p = tps[k];
            elm_sampler *s = make(NV, &p);
            int32_t n = 0;
            assert_int_equal(elm_sampler_probs(s, l, got, NV, &n), ELM_OK);
            /* float vs double sums may move the cut only across a tie-free boundary by one */
            assert_true(abs(n - keep) <= 1);
            int m = n < keep ? n : keep;
            for (int i = 0; i < m; i++) assert_int_equal(got[i].token, ref[i].id);
            elm_sampler_free(s);
        }
        /* top-k */
        elm_sampler_params p = plain_params();
        p.top_k = 40 + round * 100;
        elm_sampler *s = make(NV, &p);
        int32_t n = 0;
        assert_int_equal(elm_sampler_probs(s, l, got, NV, &n), ELM_OK);
        assert_int_equal(n, p.top_k);
        for (int i = 0; i < n; i++) assert_int_equal(got[i].token, ref[i].id);
        elm_sampler_free(s);
        /* greedy = first of the reference order (lowest id among ties) */
        p = elm_sampler_greedy_params();
        s = make(NV, &p);
        elm_token t;
        assert_int_equal(elm_sampler_sample(s, l, &t), ELM_OK);
        assert_int_equal(t, ref[0].id);
        elm_sampler_free(s);
    }
    free(l);
    free(ref);
    free(got);
}

/* ==== Parameters ========================================================================= */

static void bad_parameters_are_rejected(void **state) {
    (void)state;
    elm_sampler *s = (elm_sampler *)0x1;
    elm_sampler_params p = elm_sampler_default_params();
    assert_int_equal(elm_sampler_create(0, &p, &s), ELM_ERR_INVALID_ARG);
    p.temperature = NAN;
    assert_int_equal(elm_sampler_create(10, &p, &s), ELM_ERR_INVALID_ARG);
    p = elm_sampler_default_params();
    p.min_p = 1.5f;
    assert_int_equal(elm_sampler_create(10, &p, &s), ELM_ERR_INVALID_ARG);
    p = elm_sampler_default_params();
    p.top_p = -0.1f;
    assert_int_equal(elm_sampler_create(10, &p, &s), ELM_ERR_INVALID_ARG);
    p = elm_sampler_default_params();
    p.repeat_penalty = 0.0f;
    assert_int_equal(elm_sampler_create(10, &p, &s), ELM_ERR_INVALID_ARG);
    p = elm_sampler_default_params();
    p.penalty_last_n = -1;
    assert_int_equal(elm_sampler_create(10, &p, &s), ELM_ERR_INVALID_ARG);
    p = elm_sampler_default_params();
    const elm_logit_bias bad[1] = {{10, 1.0f}};
    p.logit_bias = bad;
    p.n_logit_bias = 1;
    assert_int_equal(elm_sampler_create(10, &p, &s), ELM_ERR_INVALID_ARG);
    assert_non_null(strstr(elm_last_error(), "token 10"));
    assert_ptr_equal(s, (elm_sampler *)0x1);   /* untouched on failure */
    assert_int_equal(elm_sampler_create(10, NULL, NULL), ELM_ERR_INVALID_ARG);
    /* NULL params = defaults */
    assert_int_equal(elm_sampler_create(10, NULL, &s), ELM_OK);
    elm_sampler_params got = elm_sampler_get_params(s);
    assert_true(got.temperature == 0.8f && got.top_k == 40 && got.top_p == 0.95f && got.min_p == 0.05f);
    assert_int_equal(elm_sampler_n_vocab(s), 10);
    elm_sampler_free(s);
    elm_sampler_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_matches_reference_sequence),
        cmocka_unit_test(greedy_is_argmax_and_ties_go_to_lowest_id),
        cmocka_unit_test(top_k_keeps_the_k_largest),
        cmocka_unit_test(top_p_keeps_the_smallest_prefix_reaching_p),
        cmocka_unit_test(min_p_keeps_tokens_above_the_relative_floor),
        cmocka_unit_test(filters_run_in_order_and_temperature_comes_last),
        cmocka_unit_test(penalties_follow_llama_cpp_semantics),
        cmocka_unit_test(logit_bias_shifts_and_bans),
        cmocka_unit_test(draws_follow_the_softmax),
        cmocka_unit_test(same_seed_same_tokens),
        cmocka_unit_test(large_vocab_matches_full_sort_reference),
        cmocka_unit_test(bad_parameters_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
