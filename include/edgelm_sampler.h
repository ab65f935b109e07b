/* edgelm_sampler.h: choosing the next token from a row of logits. Part of <edgelm.h>;
 * include that.
 *
 * A sampler turns the n_vocab logits of elm_get_logits() into one token id. It runs a fixed
 * chain, in this order (the order llama.cpp's default sampler chain uses):
 *
 *   1. logit bias       logit[t] += bias[t] for each listed token (-INFINITY bans a token)
 *   2. penalties        over the last penalty_last_n accepted tokens (llama.cpp semantics):
 *                       for every token t seen c > 0 times in that window,
 *                         logit <= 0 ? logit *= repeat_penalty : logit /= repeat_penalty
 *                         logit -= c * frequency_penalty + presence_penalty
 *   3. greedy           when temperature <= 0: the token with the largest logit; ties go to
 *                       the LOWEST token id. Steps 4-8 are skipped; the RNG is not used.
 *   4. top-k            keep the k largest logits (k <= 0: off)
 *   5. top-p            softmax over what is left; keep the smallest prefix (by descending
 *                       probability) whose probability sum reaches p (p >= 1: off)
 *   6. min-p            keep tokens whose probability is at least min_p times the largest
 *                       one, i.e. logit >= max_logit + ln(min_p) (min_p <= 0: off)
 *   7. temperature      logit /= temperature
 *   8. draw             softmax, then one draw from the random generator below
 *
 * Candidates are ordered by (logit descending, token id ascending) everywhere, so equal
 * logits never make the result depend on a sort's whims. At least one candidate always
 * survives steps 4-6. NaN logits are treated as -INFINITY.
 *
 * Randomness: xoshiro256** (Blackman and Vigna, 2018), seeded from the 64-bit seed through
 * splitmix64. One draw takes one 64-bit output and uses its top 53 bits as a uniform
 * double u in [0, 1); the token is the first candidate at which the running probability
 * sum exceeds u times the total, walking the candidates by descending probability when
 * top-k or top-p ran and by token id otherwise (which spares sorting the whole vocabulary
 * for plain temperature sampling). Nothing else consumes random numbers,
 * so the same seed, logits and history give the same token on every run, every machine
 * with the same float arithmetic, and every thread count (the sampler is single-threaded;
 * the forward pass is what must be thread-count deterministic).
 *
 * A sampler is stateful: it keeps the history the penalties read and the RNG state. It
 * allocates everything at creation; sampling allocates nothing. One thread at a time.
 */
#ifndef EDGELM_SAMPLER_H
#define EDGELM_SAMPLER_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct elm_sampler elm_sampler;

/* The seed value that asks for a random seed (from the clock and the address space) at
 * creation and at every elm_sampler_reset. elm_sampler_seed() tells which one was used, so
 * a run can always be repeated. */
#define ELM_SEED_RANDOM UINT64_MAX

/* Most entries of logit_bias a sampler accepts. */
#define ELM_SAMPLER_MAX_BIAS 65536

typedef struct elm_logit_bias {
    elm_token token;         /* token id (0 <= token < n_vocab) */
    float bias;              /* added to the logit; -INFINITY bans the token */
} elm_logit_bias;

typedef struct elm_sampler_params {
    float temperature;       /* <= 0: greedy (argmax). Default 0.8 */
    int32_t top_k;           /* tokens kept; <= 0 = off. Default 40 */
    float top_p;             /* probability mass kept; >= 1 = off. Default 0.95 */
    float min_p;             /* relative probability floor; <= 0 = off. Default 0.05 */
    int32_t penalty_last_n;  /* tokens of history the penalties look at; 0 = penalties off.
                                Default 64 */
    float repeat_penalty;    /* 1 = off (> 1 discourages repeats). Default 1.0 */
    float frequency_penalty; /* subtracted per occurrence; 0 = off. Default 0 */
    float presence_penalty;  /* subtracted once if present; 0 = off. Default 0 */
    const elm_logit_bias *logit_bias; /* n_logit_bias entries, copied at creation; a token
                                listed twice gets both biases. Default NULL */
    int32_t n_logit_bias;
    uint64_t seed;           /* ELM_SEED_RANDOM (the default) or any fixed value */
} elm_sampler_params;

/* One candidate of the final distribution (see elm_sampler_probs). */
typedef struct elm_token_prob {
    elm_token token;
    float logit;             /* after bias, penalties and temperature */
    float p;                 /* probability, 0..1; the kept candidates sum to 1 */
} elm_token_prob;

ELM_API elm_sampler_params elm_sampler_default_params(void);
/* The same but greedy (temperature 0, no penalties): what golden-output tests use. */
ELM_API elm_sampler_params elm_sampler_greedy_params(void);

/* Create a sampler for a vocabulary of n_vocab tokens (elm_vocab_size). params may be NULL
 * (defaults). ELM_ERR_INVALID_ARG names the bad field (NaN temperature, top_p < 0, a
 * penalty < 0 where it must not be, a bias token out of range, ...). */
ELM_API elm_status elm_sampler_create(int32_t n_vocab, const elm_sampler_params *params, elm_sampler **out);
ELM_API void elm_sampler_free(elm_sampler *s);

/* Choose a token from n_vocab logits (not modified) and accept it into the history.
 * ELM_ERR_INVALID_ARG when every token is banned (all logits -INFINITY or NaN). */
ELM_API elm_status elm_sampler_sample(elm_sampler *s, const float *logits, elm_token *out_token);

/* Add a token to the penalty history without sampling (prompt tokens, forced tokens).
 * Ids outside 0..n_vocab-1 are ignored. */
ELM_API void elm_sampler_accept(elm_sampler *s, elm_token token);

/* The distribution step 8 would draw from, without drawing and without accepting: the
 * surviving candidates in sampling order (most probable first). Writes at most cap
 * entries and sets *n_out to the number of candidates (which may exceed cap). For greedy
 * samplers this is the single argmax with p = 1. */
ELM_API elm_status elm_sampler_probs(elm_sampler *s, const float *logits, elm_token_prob *out,
                                     int32_t cap, int32_t *n_out);

/* Forget the history and restart the random sequence from the seed (a new random seed when
 * created with ELM_SEED_RANDOM). */
ELM_API void elm_sampler_reset(elm_sampler *s);
/* Restart with another seed (ELM_SEED_RANDOM allowed); the history is kept. */
ELM_API void elm_sampler_set_seed(elm_sampler *s, uint64_t seed);
/* The seed in use (never ELM_SEED_RANDOM). */
ELM_API uint64_t elm_sampler_seed(const elm_sampler *s);
/* The parameters the sampler was created with (logit_bias points at its own copy). */
ELM_API elm_sampler_params elm_sampler_get_params(const elm_sampler *s);
ELM_API int32_t elm_sampler_n_vocab(const elm_sampler *s);

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_SAMPLER_H */
