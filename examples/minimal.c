/* edgelm-minimal: the smallest complete program on edgelm's public API. Copy it.
 *
 *   edgelm-minimal MODEL.gguf ["PROMPT"]
 *
 * Loads a model, tokenizes the prompt, generates up to 64 tokens greedily and prints them
 * as they come. Every call returns an elm_status; elm_last_error() says what went wrong.
 */
#include "edgelm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called with each new piece of text (whole UTF-8 characters). Return false to stop. */
static bool print_piece(const char *text, size_t len, void *user) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

static int die(const char *what) {
    fprintf(stderr, "edgelm-minimal: %s: %s\n", what, elm_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: edgelm-minimal MODEL.gguf [\"PROMPT\"]\n");
        return 2;
    }
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";

    /* 1. The model (weights, read-only, shareable) and a context (KV cache, threads). */
    elm_model *model;
    if (elm_model_load(argv[1], NULL, &model) != ELM_OK) return die("loading the model");
    elm_context *ctx;
    if (elm_context_create(model, NULL, &ctx) != ELM_OK) return die("creating a context");
    const elm_tokenizer *tok = elm_model_tokenizer(model);

    /* 2. Text to tokens: ask for the count first, then fill a buffer of that size. */
    int32_t n_tokens = 0;
    elm_tokenize(tok, prompt, strlen(prompt), ELM_TOKENIZE_ADD_SPECIAL, NULL, 0, &n_tokens);
    elm_token *tokens = malloc((size_t)(n_tokens > 0 ? n_tokens : 1) * sizeof *tokens);
    if (!tokens) return die("allocating tokens");
    if (elm_tokenize(tok, prompt, strlen(prompt), ELM_TOKENIZE_ADD_SPECIAL, tokens, n_tokens, &n_tokens) != ELM_OK)
        return die("tokenizing");

    /* 3. A sampler: greedy here; elm_sampler_default_params() samples (temperature 0.8). */
    elm_sampler_params sp = elm_sampler_greedy_params();
    elm_sampler *sampler;
    if (elm_sampler_create(elm_vocab_size(tok), &sp, &sampler) != ELM_OK) return die("creating a sampler");

    /* 4. Generate: evaluate the prompt, then stream the answer through print_piece. */
    elm_generate_params gp = elm_generate_default_params();
    gp.max_tokens = 64;
    gp.on_piece = print_piece;
    elm_generate_result res;
    fputs(prompt, stdout);
    if (elm_generate_tokens(ctx, sampler, tokens, n_tokens, &gp, &res) != ELM_OK) return die("generating");
    printf("\n");
    fprintf(stderr, "%d tokens, %.1f tokens/s, stopped by %s\n", res.n_generated, res.gen_tokens_per_second,
            elm_finish_reason_name(res.finish));

    /* 5. Free in reverse order. */
    elm_sampler_free(sampler);
    free(tokens);
    elm_context_free(ctx);
    elm_model_free(model);
    return 0;
}
