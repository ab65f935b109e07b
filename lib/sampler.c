/* sampler.c: the sampling chain of edgelm_sampler.h (bias, penalties, greedy or top-k,
 * top-p, min-p, temperature, draw) and the penalty history.
 * Must not: allocate after creation, know about models or contexts, or use any randomness
 * but its own seeded generator (runs with a fixed seed are reproducible).
 */
#include "edgelm.h"
#include "error.h"
#include "rng.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PENALTY_LAST_N (1 << 24)

struct elm_sampler {
    int32_t n_vocab;
    elm_sampler_params params;   /* logit_bias points at bias below */
    elm_logit_bias *bias;        /* own copy, n_logit_bias entries */
    elm_token_prob *cand;        /* n_vocab candidates, the working set of one sample */

    /* Penalty history: the last penalty_last_n accepted tokens in a ring, and how often
     * each token occurs in it. */
    elm_token *ring;
    int32_t *counts;             /* n_vocab */
    uint64_t n_accepted;         /* tokens accepted since the last reset */

    elmi_rng rng;
    uint64_t seed;               /* the seed in use (never ELM_SEED_RANDOM) */
};

elm_sampler_params elm_sampler_default_params(void) {
    elm_sampler_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .penalty_last_n = 64,
        .repeat_penalty = 1.0f,
        .frequency_penalty = 0.0f,
        .presence_penalty = 0.0f,
        .logit_bias = NULL,
        .n_logit_bias = 0,
        .seed = ELM_SEED_RANDOM,
    };
    return p;
}

elm_sampler_params elm_sampler_greedy_params(void) {
    elm_sampler_params p = elm_sampler_default_params();
    p.temperature = 0.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.penalty_last_n = 0;
    p.seed = 0;
    return p;
}

/* ==== Creation ============================================================================ */

static elm_status check_params(int32_t n_vocab, const elm_sampler_params *p) {
    if (n_vocab <= 0) return elmi_error(ELM_ERR_INVALID_ARG, "sampler: n_vocab must be positive (got %d)", n_vocab);
    if (isnan(p->temperature)) return elmi_error(ELM_ERR_INVALID_ARG, "sampler: temperature is NaN");
    if (!(p->top_p >= 0.0f) || isinf(p->top_p))
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: top_p must be a number >= 0 (got %g)", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: min_p must be in [0, 1] (got %g)", (double)p->min_p);
    if (p->penalty_last_n < 0 || p->penalty_last_n > MAX_PENALTY_LAST_N)
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: penalty_last_n must be in [0, %d] (got %d)",
                          MAX_PENALTY_LAST_N, p->penalty_last_n);
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: repeat_penalty must be a finite number > 0 (got %g)",
                          (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: frequency_penalty and presence_penalty must be finite");
    if (p->n_logit_bias < 0 || p->n_logit_bias > ELM_SAMPLER_MAX_BIAS)
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: n_logit_bias must be in [0, %d] (got %d)",
                          ELM_SAMPLER_MAX_BIAS, p->n_logit_bias);
    if (p->n_logit_bias > 0 && !p->logit_bias)
        return elmi_error(ELM_ERR_INVALID_ARG, "sampler: n_logit_bias is %d but logit_bias is NULL", p->n_logit_bias);
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        const elm_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return elmi_error(ELM_ERR_INVALID_ARG, "sampler: logit_bias[%d] names token %d, outside the vocabulary (0..%d)",
                              i, b->token, n_vocab - 1);
        if (isnan(b->bias) || (isinf(b->bias) && b->bias > 0))
            return elmi_error(ELM_ERR_INVALID_ARG, "sampler: logit_bias[%d] (token %d) must be a number or -INFINITY",
                              i, b->token);
    }
    return ELM_OK;
}

elm_status elm_sampler_create(int32_t n_vocab, const elm_sampler_params *params, elm_sampler **out) {
    if (!out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_sampler_create: out is NULL");
    elm_sampler_params p = params ? *params : elm_sampler_default_params();
    elm_status st = check_params(n_vocab, &p);
    if (st != ELM_OK) return st;

    elm_sampler *s = calloc(1, sizeof *s);
    if (!s) return elmi_error(ELM_ERR_NOMEM, "sampler: out of memory");
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->counts = calloc((size_t)n_vocab, sizeof *s->counts);
    s->ring = p.penalty_last_n > 0 ? malloc((size_t)p.penalty_last_n * sizeof *s->ring) : NULL;
    s->bias = p.n_logit_bias > 0 ? malloc((size_t)p.n_logit_bias * sizeof *s->bias) : NULL;
    if (!s->cand || !s->counts || (p.penalty_last_n > 0 && !s->ring) || (p.n_logit_bias > 0 && !s->bias)) {
        elm_sampler_free(s);
        return elmi_error(ELM_ERR_NOMEM, "sampler: out of memory for a vocabulary of %d tokens", n_vocab);
    }
    if (p.n_logit_bias > 0) memcpy(s->bias, p.logit_bias, (size_t)p.n_logit_bias * sizeof *s->bias);
    p.logit_bias = s->bias;
    s->params = p;
    elm_sampler_reset(s);
    *out = s;
    return ELM_OK;
}

void elm_sampler_free(elm_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->counts);
    free(s->ring);
    free(s->bias);
    free(s);
}

/* ==== History and seed ==================================================================== */

void elm_sampler_accept(elm_sampler *s, elm_token token) {
    if (!s || token < 0 || token >= s->n_vocab) return;
    const int32_t n = s->params.penalty_last_n;
    if (n <= 0) return;
    const size_t at = (size_t)(s->n_accepted % (uint64_t)n);
    if (s->n_accepted >= (uint64_t)n) s->counts[s->ring[at]]--;   /* the oldest leaves */
    s->ring[at] = token;
    s->counts[token]++;
    s->n_accepted++;
}

void elm_sampler_set_seed(elm_sampler *s, uint64_t seed) {
    if (!s) return;
    s->params.seed = seed;
    s->seed = seed == ELM_SEED_RANDOM ? elmi_rng_fresh_seed() : seed;
    elmi_rng_seed(&s->rng, s->seed);
}

void elm_sampler_reset(elm_sampler *s) {
    if (!s) return;
    memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->n_accepted = 0;
    elm_sampler_set_seed(s, s->params.seed);
}

uint64_t elm_sampler_seed(const elm_sampler *s) { return s ? s->seed : 0; }
elm_sampler_params elm_sampler_get_params(const elm_sampler *s) { return s ? s->params : elm_sampler_default_params(); }
int32_t elm_sampler_n_vocab(const elm_sampler *s) { return s ? s->n_vocab : 0; }

/* ==== Ordering ============================================================================ */

/* The one order used everywhere: larger logit first, then smaller token id. It is total, so
 * selection and sorting give the same result on every platform. */
static inline int before(const elm_token_prob *a, const elm_token_prob *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->token < b->token);
}

static int cmp_cand(const void *pa, const void *pb) {
    const elm_token_prob *a = pa, *b = pb;
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static inline void swap_cand(elm_token_prob *a, elm_token_prob *b) {
    elm_token_prob t = *a;
    *a = *b;
    *b = t;
}

/* Rearrange c[0..n) so that its first k elements are the k first in order (unsorted). */
static void select_top(elm_token_prob *c, size_t n, size_t k) {
    size_t lo = 0, hi = n;   /* the k-th element lies in [lo, hi) */
    while (hi - lo > 1 && k > lo && k < hi) {
        /* median of three as pivot, moved to hi-1 */
        size_t mid = lo + (hi - lo) / 2;
        if (before(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
        if (before(&c[hi - 1], &c[lo])) swap_cand(&c[hi - 1], &c[lo]);
        if (before(&c[mid], &c[hi - 1])) swap_cand(&c[mid], &c[hi - 1]);
        const elm_token_prob pivot = c[hi - 1];
        size_t store = lo;
        for (size_t i = lo; i < hi - 1; i++)
            if (before(&c[i], &pivot)) swap_cand(&c[i], &c[store++]);
        swap_cand(&c[store], &c[hi - 1]);
        /* c[lo..store) come before the pivot, c[store] is the pivot, the rest after */
        if (store + 1 == k || store == k) return;
        if (store > k) hi = store;
        else lo = store + 1;
    }
}

/* Make c[0..k) the first k candidates in sorted order. c[0..done) already are. */
static void sort_top(elm_token_prob *c, size_t n, size_t k, size_t done) {
    if (k > n) k = n;
    if (k <= done) return;
    select_top(c + done, n - done, k - done);
    qsort(c + done, k - done, sizeof *c, cmp_cand);
}

/* ==== The chain =========================================================================== */

/* Steps 1-2 (bias, penalties) and the compaction of banned tokens; returns the candidates
 * left (0 when everything is banned). Candidates end up in token id order. */
static size_t prepare(elm_sampler *s, const float *logits) {
    elm_token_prob *c = s->cand;
    const int32_t nv = s->n_vocab;
    for (int32_t i = 0; i < nv; i++) {
        float l = logits[i];
        if (isnan(l)) l = -INFINITY;
        else if (l > FLT_MAX) l = FLT_MAX;   /* keep softmax finite */
        c[i].token = i;
        c[i].logit = l;
        c[i].p = 0.0f;
    }
    for (int32_t i = 0; i < s->params.n_logit_bias; i++) c[s->bias[i].token].logit += s->bias[i].bias;

    const elm_sampler_params *p = &s->params;
    if (p->penalty_last_n > 0 && s->n_accepted > 0 &&
        (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f)) {
        for (int32_t i = 0; i < nv; i++) {
            const int32_t count = s->counts[i];
            if (count == 0) continue;
            float l = c[i].logit;
            l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
            l -= (float)count * p->frequency_penalty + p->presence_penalty;
            c[i].logit = l;
        }
    }

    size_t n = 0;
    for (int32_t i = 0; i < nv; i++) {
        if (c[i].logit == -INFINITY || isnan(c[i].logit)) continue;
        if (c[i].logit > FLT_MAX) c[i].logit = FLT_MAX;
        c[n++] = c[i];
    }
    return n;
}

/* Probabilities of c[0..n) by softmax (max_logit is the largest logit among them); returns
 * their sum (1 up to rounding). */
static double softmax(elm_token_prob *c, size_t n, float max_logit) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit - max_logit);
        sum += c[i].p;
    }
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].p = (float)(c[i].p / sum);
        total += c[i].p;
    }
    return total;
}

static float max_logit_of(const elm_token_prob *c, size_t n, bool sorted) {
    if (sorted) return c[0].logit;
    float m = c[0].logit;
    for (size_t i = 1; i < n; i++) if (c[i].logit > m) m = c[i].logit;
    return m;
}

/* Steps 3-7. On return c[0..*n_out) holds the candidates with their probabilities, in
 * draw order; the function returns the sum of those probabilities. */
static double filter(elm_sampler *s, size_t n, size_t *n_out, bool *sorted_out) {
    elm_token_prob *c = s->cand;
    const elm_sampler_params *p = &s->params;
    bool sorted = false;

    if (p->temperature <= 0.0f) {
        size_t best = 0;   /* candidates are in id order: strict > keeps the lowest id */
        for (size_t i = 1; i < n; i++) if (c[i].logit > c[best].logit) best = i;
        c[0] = c[best];
        c[0].p = 1.0f;
        *n_out = 1;
        *sorted_out = true;
        return 1.0;
    }

    if (p->top_k > 0 && (size_t)p->top_k < n) {
        sort_top(c, n, (size_t)p->top_k, 0);
        n = (size_t)p->top_k;
        sorted = true;
    }

    if (p->top_p < 1.0f) {
        const float maxl = max_logit_of(c, n, sorted);
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += expf(c[i].logit - maxl);
        /* Sort only as far as the nucleus reaches: a few hundred tokens usually. */
        size_t done = sorted ? n : 0, want = 256, keep = n;
        double cum = 0.0;
        size_t i = 0;
        for (;;) {
            if (want > n) want = n;
            sort_top(c, n, want, done);
            done = want;
            for (; i < done; i++) {
                cum += (float)(expf(c[i].logit - maxl) / sum);
                if (cum >= p->top_p) {
                    keep = i + 1;
                    goto cut;
                }
            }
            if (done == n) break;
            want *= 4;
        }
    cut:
        n = keep;
        sorted = true;
    }

    if (p->min_p > 0.0f) {
        const float maxl = max_logit_of(c, n, sorted);
        const float floor_logit = maxl + logf(p->min_p);
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (c[i].logit >= floor_logit) c[m++] = c[i];   /* stable: order kept */
        n = m;   /* the max itself always passes (ln(min_p) <= 0) */
    }

    for (size_t i = 0; i < n; i++) c[i].logit /= p->temperature;
    *n_out = n;
    *sorted_out = sorted;
    return softmax(c, n, max_logit_of(c, n, sorted));
}

elm_status elm_sampler_sample(elm_sampler *s, const float *logits, elm_token *out_token) {
    if (!s || !logits || !out_token) return elmi_error(ELM_ERR_INVALID_ARG, "elm_sampler_sample: NULL argument");
    size_t n = prepare(s, logits);
    if (n == 0) return elmi_error(ELM_ERR_INVALID_ARG, "sampler: every token is banned (all logits are -inf or NaN)");
    bool sorted;
    const double total = filter(s, n, &n, &sorted);
    const elm_token_prob *c = s->cand;

    elm_token tok = c[0].token;
    if (n > 1) {
        const double target = elmi_rng_uniform(&s->rng) * total;
        double cum = 0.0;
        size_t last_positive = 0;
        tok = -1;
        for (size_t i = 0; i < n; i++) {
            if (c[i].p > 0.0f) last_positive = i;
            cum += c[i].p;
            if (cum > target) {
                tok = c[i].token;
                break;
            }
        }
        if (tok < 0) tok = c[last_positive].token;   /* rounding at the very end */
    }
    elm_sampler_accept(s, tok);
    *out_token = tok;
    return ELM_OK;
}

elm_status elm_sampler_probs(elm_sampler *s, const float *logits, elm_token_prob *out, int32_t cap, int32_t *n_out) {
    if (!s || !logits || !n_out || cap < 0 || (cap > 0 && !out))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_sampler_probs: NULL or negative argument");
    size_t n = prepare(s, logits);
    if (n == 0) return elmi_error(ELM_ERR_INVALID_ARG, "sampler: every token is banned (all logits are -inf or NaN)");
    bool sorted;
    filter(s, n, &n, &sorted);
    if (!sorted) qsort(s->cand, n, sizeof *s->cand, cmp_cand);
    const size_t m = n < (size_t)cap ? n : (size_t)cap;
    if (m > 0) memcpy(out, s->cand, m * sizeof *out);
    *n_out = (int32_t)n;
    return ELM_OK;
}
