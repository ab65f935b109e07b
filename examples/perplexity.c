/* perplexity.c: edgelm-perplexity, a model's perplexity on a text by llama.cpp's method
 * (llama-perplexity), so the two can be compared number for number.
 *
 *   edgelm-perplexity -m MODEL -f TEXT -c N [-t THREADS] [-b BATCH] [--chunks N] [--json]
 *
 * The text is read whole (one trailing newline dropped, as llama.cpp does), tokenized
 * with the vocab's special tokens (BOS), and scored by elm_perplexity. Progress goes to
 * stderr; the result to stdout as "Final estimate: PPL = 105.3193 +/- 3.53021", or as one
 * JSON object with --json.
 * Uses the public API only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgelm.h"

static void usage(FILE *f) {
    fprintf(f, "usage: edgelm-perplexity -m MODEL -f TEXT -c N [-t THREADS] [-b BATCH] [--chunks N] [--json]\n"
               "  -m MODEL     GGUF model file\n"
               "  -f TEXT      text file to score\n"
               "  -c N         tokens per chunk (the context size), e.g. 512\n"
               "  -t THREADS   threads (default: all CPUs)\n"
               "  -b BATCH     tokens per evaluation call (default: N)\n"
               "  --chunks N   score only the first N chunks (default: all)\n"
               "  --json       print the result as one JSON object\n");
}

static bool parse_int(const char *s, long lo, long hi, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = (int32_t)v;
    return true;
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap < ((size_t)-1) / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    *len = n;
    return buf;
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static bool progress(void *user, int32_t chunk, int32_t n_chunks, double ppl) {
    (void)user;
    fprintf(stderr, "[%d/%d] %.4f\n", chunk, n_chunks, ppl);
    return true;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *text_path = NULL;
    int32_t n_ctx = 0, n_threads = 0, n_batch = 0, chunks = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--json")) { json = true; continue; }
        else if (!v) ok = false;
        else if (!strcmp(a, "-m")) model_path = v;
        else if (!strcmp(a, "-f")) text_path = v;
        else if (!strcmp(a, "-c")) ok = parse_int(v, 4, 1 << 24, &n_ctx);
        else if (!strcmp(a, "-t")) ok = parse_int(v, 1, 512, &n_threads);
        else if (!strcmp(a, "-b")) ok = parse_int(v, 1, 1 << 24, &n_batch);
        else if (!strcmp(a, "--chunks")) ok = parse_int(v, 1, 1 << 30, &chunks);
        else ok = false;
        if (!ok) {
            fprintf(stderr, "edgelm-perplexity: bad or incomplete option '%s%s%s'\n", a, v ? " " : "", v ? v : "");
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (!model_path || !text_path || !n_ctx) {
        fprintf(stderr, "edgelm-perplexity: -m, -f and -c are required\n");
        usage(stderr);
        return 2;
    }

    size_t len = 0;
    char *text = read_text(text_path, &len);
    if (!text) {
        fprintf(stderr, "edgelm-perplexity: cannot read %s: %s\n", text_path, strerror(errno));
        return 1;
    }
    if (len > 0 && text[len - 1] == '\n') len--;

    elm_model *model = NULL;
    elm_status st = elm_model_load(model_path, NULL, &model);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-perplexity: %s\n", elm_last_error());
        free(text);
        return 1;
    }
    const elm_tokenizer *tok = elm_model_tokenizer(model);
    int32_t n_tok = 0;
    elm_token *tokens = NULL;
    st = tok ? elm_tokenize(tok, text, len, ELM_TOKENIZE_ADD_SPECIAL, NULL, 0, &n_tok) : ELM_ERR_NOT_FOUND;
    if (tok && (st == ELM_OK || st == ELM_ERR_INVALID_ARG) && n_tok > 0) {
        tokens = malloc((size_t)n_tok * sizeof *tokens);
        st = tokens ? elm_tokenize(tok, text, len, ELM_TOKENIZE_ADD_SPECIAL, tokens, n_tok, &n_tok) : ELM_ERR_NOMEM;
    }
    free(text);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-perplexity: cannot tokenize %s: %s\n", text_path,
                tok ? elm_last_error() : "the model has no tokenizer");
        free(tokens);
        elm_model_free(model);
        return 1;
    }
    fprintf(stderr, "edgelm-perplexity: %s: %d tokens, chunks of %d\n", text_path, n_tok, n_ctx);

    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_batch > 0 && n_batch < n_ctx ? n_batch : n_ctx;
    cp.n_threads = n_threads;
    cp.all_logits = true;
    elm_context *ctx = NULL;
    st = elm_context_create(model, &cp, &ctx);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-perplexity: %s\n", elm_last_error());
        free(tokens);
        elm_model_free(model);
        return 1;
    }
    elm_perplexity_params pp = elm_perplexity_default_params();
    pp.n_ctx = n_ctx;
    pp.n_batch = cp.n_batch;
    pp.max_chunks = chunks;
    pp.progress = progress;
    elm_perplexity_result r;
    st = elm_perplexity(ctx, tokens, n_tok, &pp, &r);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-perplexity: %s\n", elm_last_error());
    } else if (json) {
        printf("{\"model\":");
        json_string(model_path);
        printf(",\"text\":");
        json_string(text_path);
        printf(",\"n_ctx\":%d,\"tokens\":%d,\"chunks\":%d,\"scored_tokens\":%lld,\"ppl\":%.6f,\"stderr\":%.6f,"
               "\"mean_nll\":%.8f,\"seconds\":%.3f}\n",
               n_ctx, n_tok, r.chunks, (long long)r.scored_tokens, r.ppl, r.ppl_stderr, r.mean_nll, r.seconds);
    } else {
        printf("chunks %d, scored tokens %lld, %.2f s\n", r.chunks, (long long)r.scored_tokens, r.seconds);
        printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_stderr);
    }
    elm_context_free(ctx);
    free(tokens);
    elm_model_free(model);
    return st == ELM_OK ? 0 : 1;
}
