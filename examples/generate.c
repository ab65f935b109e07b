/* edgelm-generate: evaluate a prompt in one batch, then generate tokens one at a time.
 *
 *   edgelm-generate -m MODEL (-p TEXT | --tokens ID,ID,...) [-n N] [-t THREADS] [-c CTX]
 *                   [--temp T] [--seed S] [--logits-out FILE] [--json]
 *
 *   -n N              tokens to generate (default 64; stops early at an end-of-generation
 *                     token or when the context is full)
 *   -t THREADS        threads (default: every online CPU)
 *   -c CTX            context size in tokens (default: the model's context_length)
 *   --temp T          0 (default): greedy argmax; > 0: sample (top-k 40, top-p 0.95,
 *                     min-p 0.05, then temperature T) with seed S (default 42)
 *   --logits-out FILE float32 rows of n_vocab logits, one per prompt token (the layout of
 *                     ../shared/golden/<model>.logits.f32 from its row 0)
 *   --json            one JSON object: {"prompt_tokens":[..],"tokens":[..],"text":".."}
 *
 * Text goes to stdout as it is generated (or the JSON object at the end); timings to stderr.
 * Must not: use anything but the public API (edgelm.h).
 */
#include "edgelm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct options {
    const char *model;
    const char *prompt;          /* -p */
    const char *token_list;      /* --tokens */
    long n_predict;
    long n_threads;
    long n_ctx;
    double temp;
    unsigned long long seed;
    const char *logits_out;
    int json;
} options;

static void usage(FILE *f) {
    fprintf(f, "usage: edgelm-generate -m MODEL (-p TEXT | --tokens ID,ID,...) [-n N] [-t THREADS] [-c CTX]\n"
               "                       [--temp T] [--seed S] [--logits-out FILE] [--json]\n");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ==== Arguments ========================================================================== */

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "edgelm-generate: %s wants an integer in [%ld, %ld], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.n_predict = 64, .seed = 42};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) { o->json = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        if (i + 1 >= argc) {
            fprintf(stderr, "edgelm-generate: %s needs a value\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "--tokens")) o->token_list = v;
        else if (!strcmp(a, "--logits-out")) o->logits_out = v;
        else if (!strcmp(a, "-n")) { if (parse_long(a, v, 0, 1L << 30, &o->n_predict)) return -1; }
        else if (!strcmp(a, "-t")) { if (parse_long(a, v, 0, 512, &o->n_threads)) return -1; }
        else if (!strcmp(a, "-c")) { if (parse_long(a, v, 0, 1L << 30, &o->n_ctx)) return -1; }
        else if (!strcmp(a, "--temp")) {
            char *end;
            o->temp = strtod(v, &end);
            if (end == v || *end || !(o->temp >= 0.0)) {
                fprintf(stderr, "edgelm-generate: --temp wants a number >= 0, got '%s'\n", v);
                return -1;
            }
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            o->seed = strtoull(v, &end, 10);
            if (errno || end == v || *end || v[0] == '-') {
                fprintf(stderr, "edgelm-generate: --seed wants a non-negative integer, got '%s'\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "edgelm-generate: unknown option '%s'\n", a);
            return -1;
        }
    }
    if (!o->model || (!o->prompt == !o->token_list)) {
        fprintf(stderr, "edgelm-generate: need -m MODEL and exactly one of -p TEXT or --tokens ID,ID,...\n");
        return -1;
    }
    return 0;
}

/* "1,403,407" -> ids; returns the count or -1. */
static int32_t parse_tokens(const char *s, elm_token **out) {
    int32_t cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    elm_token *t = malloc((size_t)cap * sizeof *t);
    if (!t) return -1;
    int32_t n = 0;
    const char *p = s;
    while (n < cap) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 0 || v > INT32_MAX || (*end != ',' && *end != '\0')) {
            fprintf(stderr, "edgelm-generate: --tokens wants comma-separated ids, bad at '%s'\n", p);
            free(t);
            return -1;
        }
        t[n++] = (elm_token)v;
        if (*end == '\0') break;
        p = end + 1;
    }
    *out = t;
    return n;
}

/* ==== Output ============================================================================= */

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static int utf8_len(const unsigned char *s, size_t n) {
    const unsigned char b = s[0];
    int len;
    uint32_t cp;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; cp = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; cp = b & 0x0F; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; cp = b & 0x07; }
    else return 0;
    if (n < (size_t)len) return 0;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

/* A JSON string; bytes that are not valid UTF-8 become U+FFFD. */
static void json_string(FILE *f, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        const unsigned char c = u[i];
        if (c == '"' || c == '\\') { fprintf(f, "\\%c", c); i++; continue; }
        if (c == '\n') { fputs("\\n", f); i++; continue; }
        if (c == '\t') { fputs("\\t", f); i++; continue; }
        if (c == '\r') { fputs("\\r", f); i++; continue; }
        if (c < 0x20) { fprintf(f, "\\u%04x", c); i++; continue; }
        const int len = utf8_len(u + i, n - i);
        if (len == 0) { fputs("\\ufffd", f); i++; continue; }
        fwrite(u + i, 1, (size_t)len, f);
        i += (size_t)len;
    }
    fputc('"', f);
}

static void json_ids(FILE *f, const elm_token *t, int32_t n) {
    fputc('[', f);
    for (int32_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", t[i]);
    fputc(']', f);
}

static int write_logits(const char *path, const elm_context *ctx, int32_t n_prompt, int32_t n_vocab) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "edgelm-generate: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int32_t i = 0; i < n_prompt; i++) {
        const float *row = elm_get_logits_ith(ctx, i);
        if (!row || fwrite(row, sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab) {
            fprintf(stderr, "edgelm-generate: writing %s failed at row %d\n", path, i);
            fclose(f);
            return -1;
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "edgelm-generate: writing %s failed: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* ==== Main =============================================================================== */

static int fail(const char *what, elm_status st) {
    fprintf(stderr, "edgelm-generate: %s: %s (%s)\n", what, elm_last_error(), elm_status_name(st));
    return 1;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o)) {
        usage(stderr);
        return 2;
    }

    elm_model *model;
    elm_status st = elm_model_load(o.model, NULL, &model);
    if (st) return fail("loading the model", st);
    elm_model_info info;
    elm_model_get_info(model, &info);
    const elm_tokenizer *tok = elm_model_tokenizer(model);

    /* the prompt as token ids */
    elm_token *prompt = NULL;
    int32_t n_prompt = 0;
    if (o.token_list) {
        n_prompt = parse_tokens(o.token_list, &prompt);
        if (n_prompt < 0) { elm_model_free(model); return 2; }
    } else {
        if (!tok) {
            fprintf(stderr, "edgelm-generate: %s has no tokenizer; give the prompt with --tokens\n", o.model);
            elm_model_free(model);
            return 1;
        }
        const uint32_t flags = ELM_TOKENIZE_ADD_SPECIAL | ELM_TOKENIZE_PARSE_SPECIAL;
        const size_t len = strlen(o.prompt);
        st = elm_tokenize(tok, o.prompt, len, flags, NULL, 0, &n_prompt);
        if (st == ELM_ERR_INVALID_ARG && n_prompt > 0) {
            prompt = malloc((size_t)n_prompt * sizeof *prompt);
            st = prompt ? elm_tokenize(tok, o.prompt, len, flags, prompt, n_prompt, &n_prompt) : ELM_ERR_NOMEM;
        }
        if (st || n_prompt == 0) {
            free(prompt);
            elm_model_free(model);
            if (!st) fprintf(stderr, "edgelm-generate: the prompt gives no tokens\n");
            return st ? fail("tokenizing the prompt", st) : 1;
        }
    }

    /* a context that keeps every prompt row when they are to be written out */
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = (int32_t)o.n_ctx;
    cp.n_threads = (int32_t)o.n_threads;
    if (o.logits_out) {
        cp.all_logits = true;
        cp.n_batch = n_prompt;
    } else if (n_prompt > cp.n_batch) {
        cp.n_batch = n_prompt;    /* the whole prompt in one batch, as the issue asks */
    }
    elm_context *ctx;
    st = elm_context_create(model, &cp, &ctx);
    if (st) {
        free(prompt);
        elm_model_free(model);
        return fail("creating the context", st);
    }

    elm_sampler_params sp = o.temp > 0 ? elm_sampler_default_params() : elm_sampler_greedy_params();
    if (o.temp > 0) {
        sp.temperature = (float)o.temp;
        sp.seed = o.seed;
    }
    elm_sampler *sampler;
    st = elm_sampler_create(info.n_vocab, &sp, &sampler);
    if (st) {
        elm_context_free(ctx);
        free(prompt);
        elm_model_free(model);
        return fail("creating the sampler", st);
    }

    int rc = 0;
    elm_token *out = malloc((size_t)(o.n_predict ? o.n_predict : 1) * sizeof *out);
    int32_t n_out = 0;
    double t_prompt = 0, t_gen = 0;
    elm_detok_stream stream;
    if (tok) elm_detok_stream_init(&stream, tok, false);
    if (!out) { st = ELM_ERR_NOMEM; rc = fail("allocating", st); goto done; }

    double t0 = now_seconds();
    st = elm_decode(ctx, prompt, n_prompt);
    t_prompt = now_seconds() - t0;
    if (st) { rc = fail("evaluating the prompt", st); goto done; }
    if (o.logits_out && write_logits(o.logits_out, ctx, n_prompt, info.n_vocab)) { rc = 1; goto done; }

    t0 = now_seconds();
    while (n_out < o.n_predict) {
        elm_token next;
        st = elm_sampler_sample(sampler, elm_get_logits(ctx), &next);
        if (st) { rc = fail("sampling", st); break; }
        if (tok && elm_token_is_eog(tok, next)) break;
        out[n_out++] = next;
        if (!o.json) {
            if (tok) {
                char buf[256];
                size_t n = 0;
                if (elm_detok_stream_push(&stream, next, buf, sizeof buf, &n) == ELM_OK) fwrite(buf, 1, n, stdout);
            } else {
                printf("%s%d", n_out > 1 ? " " : "", next);
            }
            fflush(stdout);
        }
        if (n_out == o.n_predict) break;
        st = elm_decode(ctx, &next, 1);
        if (st == ELM_ERR_CONTEXT_FULL) {
            fprintf(stderr, "edgelm-generate: context full after %d tokens; stopping\n", elm_context_position(ctx));
            break;
        }
        if (st) { rc = fail("generating", st); break; }
    }
    t_gen = now_seconds() - t0;

    if (o.json) {
        char *text = NULL;
        size_t n_text = 0;
        if (tok && n_out > 0) {
            elm_detokenize(tok, out, n_out, false, NULL, 0, &n_text);
            text = malloc(n_text + 1);
            if (text) elm_detokenize(tok, out, n_out, false, text, n_text + 1, &n_text);
            else n_text = 0;
        }
        printf("{\"prompt_tokens\": ");
        json_ids(stdout, prompt, n_prompt);
        printf(", \"tokens\": ");
        json_ids(stdout, out, n_out);
        printf(", \"text\": ");
        json_string(stdout, text ? text : "", n_text);
        printf("}\n");
        free(text);
    } else {
        if (tok) {
            char buf[64];
            size_t n = 0;
            if (elm_detok_stream_flush(&stream, buf, sizeof buf, &n) == ELM_OK) fwrite(buf, 1, n, stdout);
        }
        printf("\n");
    }
    fprintf(stderr, "edgelm-generate: %s (%s, %s): prompt %d tokens in %.3f s (%.1f tokens/s), "
                    "generated %d tokens in %.3f s (%.1f tokens/s)\n",
            info.name[0] ? info.name : o.model, info.arch, info.type_name, n_prompt, t_prompt,
            t_prompt > 0 ? n_prompt / t_prompt : 0.0, n_out, t_gen, t_gen > 0 ? n_out / t_gen : 0.0);

done:
    free(out);
    elm_sampler_free(sampler);
    elm_context_free(ctx);
    free(prompt);
    elm_model_free(model);
    return rc;
}
