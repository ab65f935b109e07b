/* bench.c: edgelm-bench, llama-bench's prompt and generation tests plus what llama-bench
 * does not measure: load time, time to first token, peak memory, KV bytes, energy per
 * token and (with a text) perplexity; and --report, the trade-off report (Markdown table
 * and SVG plots) over models x threads.
 *
 *   edgelm-bench -m MODEL[,MODEL...] [-p 512] [-n 128] [-t 1,2] [-r 5] [-b 512]
 *                [--kv f16,q8_0] [-o md|csv|json] [--energy SOURCE] [--report DIR]
 *                [--ppl-text FILE] [--ppl-ctx N] [--ppl-chunks N]
 *
 * A test is either pp<N> (evaluate N prompt tokens in batches from an empty cache) or
 * tg<N> (generate N tokens one by one), repeated -r times after one warm-up run, as
 * llama-bench does; tokens are random ids (BOS first when the vocab adds one). -o json
 * uses llama-bench's field names where the meaning is the same. Progress goes to stderr.
 * Energy figures are numbers only when a source gave them; otherwise null with
 * energy_source saying why; estimates say so in energy_status.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edgelm.h"
#include "report_svg.h"
#include "textbuf.h"

#define MAX_LIST 32

typedef struct int_list { int n; int v[MAX_LIST]; } int_list;

typedef struct options {
    const char *models[MAX_LIST];
    int n_models;
    int_list prompt, gen, threads, kv;
    int reps, n_batch;
    const char *output;          /* md, csv, json */
    const char *energy;          /* spec, or "none" */
    const char *report_dir;
    const char *ppl_text;
    int ppl_ctx, ppl_chunks;
} options;

/* One row of results: one model x kv x threads x test. */
typedef struct result {
    const char *model_path;
    char model_type[96];
    uint64_t model_size, model_n_params;
    int n_threads, n_batch, n_prompt, n_gen;
    elm_kv_type kv;
    char test_time[32];
    int n_samples;
    double samples_ns[64];
    double load_ms;
    double ttft_ms;              /* < 0: not a prompt test */
    uint64_t peak_rss, kv_bytes;
    elm_figure_status energy_status;
    double energy_j;             /* mean joules per repetition */
    char energy_note[200];
    double ppl;                  /* < 0: not measured */
} result;

/* ==== Small helpers ====================================================================== */

static const char *kv_name(elm_kv_type k) { return k == ELM_KV_F32 ? "f32" : k == ELM_KV_Q8_0 ? "q8_0" : "f16"; }

static bool parse_list(const char *s, int lo, int hi, int_list *out) {
    out->n = 0;
    char *copy = strdup(s), *save = NULL;
    bool ok = copy != NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        long v = strtol(tok, &end, 10);
        ok = !errno && end != tok && !*end && v >= lo && v <= hi && out->n < MAX_LIST;
        if (ok) out->v[out->n++] = (int)v;
    }
    free(copy);
    return ok && out->n > 0;
}

static bool parse_kv_list(const char *s, int_list *out) {
    out->n = 0;
    char *copy = strdup(s), *save = NULL;
    bool ok = copy != NULL;
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok; tok = strtok_r(NULL, ",", &save)) {
        int k = !strcmp(tok, "f16") ? ELM_KV_F16 : !strcmp(tok, "f32") ? ELM_KV_F32 : !strcmp(tok, "q8_0") ? ELM_KV_Q8_0 : -1;
        ok = k >= 0 && out->n < MAX_LIST;
        if (ok) out->v[out->n++] = k;
    }
    free(copy);
    return ok && out->n > 0;
}

static double mean(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n ? s / n : 0;
}

/* Sample standard deviation (n - 1), 0 for fewer than two values, as llama-bench. */
static double stdev(const double *v, int n) {
    if (n < 2) return 0;
    double m = mean(v, n), s = 0;
    for (int i = 0; i < n; i++) s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (n - 1));
}

static int n_tokens(const result *r) { return r->n_prompt + r->n_gen; }

static void samples_ts(const result *r, double *ts) {
    for (int i = 0; i < r->n_samples; i++) ts[i] = 1e9 * n_tokens(r) / r->samples_ns[i];
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static int32_t random_token(int32_t n_vocab) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (int32_t)((rng_state * 0x2545F4914F6CDD1Dull >> 33) % (uint64_t)n_vocab);
}

static void model_type(const elm_model_info *info, char *buf, size_t cap) {
    double p = (double)info->n_params;
    if (p >= 1e9) snprintf(buf, cap, "%s %.1fB %s", info->arch, p / 1e9, info->type_name);
    else if (p >= 1e6) snprintf(buf, cap, "%s %.0fM %s", info->arch, p / 1e6, info->type_name);
    else snprintf(buf, cap, "%s %.0fK %s", info->arch, p / 1e3, info->type_name);
}

/* ==== Running one test =================================================================== */

static bool progress_enabled = true;
static volatile int32_t chosen_token;   /* the greedy choice, kept so it is computed */

static elm_status run_test(elm_model *model, const options *o, elm_energy_source *src, const char *energy_why,
                           int n_threads, elm_kv_type kv, int n_prompt, int n_gen, result *r) {
    const elm_tokenizer *tok = elm_model_tokenizer(model);
    const int32_t n_vocab = tok ? elm_vocab_size(tok) : 0;
    elm_model_info info;
    elm_model_get_info(model, &info);
    const int32_t nv = n_vocab > 0 ? n_vocab : info.n_vocab;
    const bool bos_first = tok && elm_tokenizer_adds_bos(tok) && elm_token_bos(tok) >= 0;

    elm_reset_peak_memory();   /* this test's peak: the model as loaded plus this context */
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = n_prompt + n_gen;
    cp.n_batch = o->n_batch;
    cp.n_threads = n_threads;
    cp.kv_type = kv;
    elm_context *ctx = NULL;
    elm_status st = elm_context_create(model, &cp, &ctx);
    if (st != ELM_OK) return st;
    if (src) elm_context_set_energy_source(ctx, src);

    int n = n_prompt > 0 ? n_prompt : 1;
    elm_token *toks = malloc((size_t)n * sizeof *toks);
    if (!toks) { elm_context_free(ctx); return ELM_ERR_NOMEM; }
    for (int i = 0; i < n; i++) toks[i] = random_token(nv);
    if (bos_first) toks[0] = elm_token_bos(tok);

    /* Warm-up, not recorded (llama-bench does the same). */
    st = n_prompt > 0 ? elm_decode(ctx, toks, n_prompt) : elm_decode(ctx, toks, 1);
    double ttft_sum = 0, joules_sum = 0;
    bool energy_ok = src != NULL;
    elm_figure_status fig = ELM_FIGURE_MEASURED;
    char note[200] = "";
    for (int rep = 0; rep < o->reps && st == ELM_OK; rep++) {
        elm_context_clear(ctx);
        elm_context_reset_metrics(ctx);
        double t0 = elm_clock_seconds();
        if (n_prompt > 0) {
            elm_context_metrics_mark(ctx, ELM_EVENT_REQUEST_BEGIN);
            st = elm_decode(ctx, toks, n_prompt);
            double t1 = elm_clock_seconds();
            r->samples_ns[rep] = (t1 - t0) * 1e9;
            /* The first token: greedy choice from the last logits (timed as sampling). */
            const float *lg = st == ELM_OK ? elm_get_logits(ctx) : NULL;
            if (lg) {
                int32_t best = 0;
                for (int32_t i = 1; i < nv; i++) best = lg[i] > lg[best] ? i : best;
                chosen_token = best;
                elm_context_metrics_add(ctx, ELM_STAGE_SAMPLE, elm_clock_seconds() - t1, 1);
                elm_context_metrics_mark(ctx, ELM_EVENT_FIRST_TOKEN);
            }
        } else {
            elm_token t = bos_first ? elm_token_bos(tok) : random_token(nv);
            for (int i = 0; i < n_gen && st == ELM_OK; i++) {
                st = elm_decode(ctx, &t, 1);
                t = random_token(nv);
            }
            r->samples_ns[rep] = (elm_clock_seconds() - t0) * 1e9;
        }
        if (st != ELM_OK) break;
        elm_metrics m;
        elm_context_get_metrics(ctx, &m);
        ttft_sum += m.ttft_seconds;
        const elm_energy_figures *e = n_prompt > 0 ? &m.prompt_energy : &m.gen_energy;
        if (e->status == ELM_FIGURE_UNAVAILABLE) {
            energy_ok = false;
            if (!note[0]) snprintf(note, sizeof note, "%.190s", src ? e->note : energy_why);
        } else {
            joules_sum += e->joules;
            if (e->status == ELM_FIGURE_ESTIMATED) fig = ELM_FIGURE_ESTIMATED;
            snprintf(note, sizeof note, "%s", elm_energy_name(src));
        }
    }
    if (st == ELM_OK) {
        elm_metrics m;
        elm_context_get_metrics(ctx, &m);
        r->kv_bytes = m.kv_bytes;
        r->peak_rss = m.peak_rss_bytes;
    }
    elm_context_free(ctx);
    free(toks);
    if (st != ELM_OK) return st;

    r->n_samples = o->reps;
    r->n_threads = n_threads;
    r->n_batch = o->n_batch;
    r->n_prompt = n_prompt;
    r->n_gen = n_gen;
    r->kv = kv;
    r->load_ms = info.load_seconds * 1e3;
    r->ttft_ms = n_prompt > 0 ? ttft_sum / o->reps * 1e3 : -1;
    r->energy_status = energy_ok ? fig : ELM_FIGURE_UNAVAILABLE;
    r->energy_j = energy_ok ? joules_sum / o->reps : 0;
    snprintf(r->energy_note, sizeof r->energy_note, "%.190s", src ? note : energy_why);
    time_t now = time(NULL);
    strftime(r->test_time, sizeof r->test_time, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    return ELM_OK;
}

/* ==== Perplexity of one model ============================================================ */

static double model_ppl(elm_model *model, const options *o, const elm_token *toks, int32_t n_tok, int n_threads) {
    elm_model_info info;
    elm_model_get_info(model, &info);
    int32_t n_ctx = o->ppl_ctx > 0 ? o->ppl_ctx : (info.n_ctx_train < 512 ? info.n_ctx_train : 512);
    if (n_tok < 2 * n_ctx) {
        fprintf(stderr, "edgelm-bench: %s: the text has %d tokens, too few for chunks of %d: no perplexity\n",
                info.name, n_tok, n_ctx);
        return -1;
    }
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_threads = n_threads;
    cp.all_logits = true;
    elm_context *ctx = NULL;
    if (elm_context_create(model, &cp, &ctx) != ELM_OK) return -1;
    elm_perplexity_params pp = elm_perplexity_default_params();
    pp.n_ctx = n_ctx;
    pp.max_chunks = o->ppl_chunks;
    elm_perplexity_result pr;
    elm_status st = elm_perplexity(ctx, toks, n_tok, &pp, &pr);
    elm_context_free(ctx);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-bench: perplexity: %s\n", elm_last_error());
        return -1;
    }
    if (progress_enabled)
        fprintf(stderr, "edgelm-bench: perplexity %.4f over %d chunks of %d tokens\n", pr.ppl, pr.chunks, n_ctx);
    return pr.ppl;
}

static elm_token *tokenize_file(const elm_model *model, const char *path, int32_t *n_out) {
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        rewind(f);
        text = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
        if (text) len = fread(text, 1, (size_t)sz, f);
    }
    fclose(f);
    if (!text) return NULL;
    if (len > 0 && text[len - 1] == '\n') len--;   /* as llama.cpp reads -f */
    const elm_tokenizer *tok = elm_model_tokenizer(model);
    int32_t n = 0;
    elm_token *toks = NULL;
    if (tok) {
        elm_tokenize(tok, text, len, ELM_TOKENIZE_ADD_SPECIAL, NULL, 0, &n);
        toks = n > 0 ? malloc((size_t)n * sizeof *toks) : NULL;
        if (toks && elm_tokenize(tok, text, len, ELM_TOKENIZE_ADD_SPECIAL, toks, n, &n) != ELM_OK) {
            free(toks);
            toks = NULL;
        }
    }
    free(text);
    *n_out = n;
    return toks;
}

/* ==== Output ============================================================================= */

static void print_number(elmi_textbuf *t, double v, bool available, int digits) {
    if (available) elmi_textbuf_json_number(t, v, digits);
    else elmi_textbuf_puts(t, "null");
}

static void json_row(elmi_textbuf *t, const result *r) {
    double ts[64];
    samples_ts(r, ts);
    const bool e = r->energy_status != ELM_FIGURE_UNAVAILABLE;
    elmi_textbuf_puts(t, "  {\n    \"build_commit\": \"edgelm-" ELM_VERSION_STRING "\",\n    \"model_filename\": ");
    elmi_textbuf_json_string(t, r->model_path);
    elmi_textbuf_puts(t, ",\n    \"model_type\": ");
    elmi_textbuf_json_string(t, r->model_type);
    elmi_textbuf_printf(t, ",\n    \"model_size\": %llu,\n    \"model_n_params\": %llu,\n    \"n_batch\": %d,\n"
                           "    \"n_threads\": %d,\n    \"type_k\": \"%s\",\n    \"type_v\": \"%s\",\n"
                           "    \"use_mmap\": true,\n    \"n_prompt\": %d,\n    \"n_gen\": %d,\n    \"test_time\": \"%s\",\n",
                        (unsigned long long)r->model_size, (unsigned long long)r->model_n_params, r->n_batch,
                        r->n_threads, kv_name(r->kv), kv_name(r->kv), r->n_prompt, r->n_gen, r->test_time);
    elmi_textbuf_printf(t, "    \"avg_ns\": %.0f,\n    \"stddev_ns\": %.0f,\n    \"avg_ts\": %.6f,\n    \"stddev_ts\": %.6f,\n",
                        mean(r->samples_ns, r->n_samples), stdev(r->samples_ns, r->n_samples), mean(ts, r->n_samples),
                        stdev(ts, r->n_samples));
    elmi_textbuf_puts(t, "    \"samples_ns\": [ ");
    for (int i = 0; i < r->n_samples; i++) elmi_textbuf_printf(t, "%s%.0f", i ? ", " : "", r->samples_ns[i]);
    elmi_textbuf_puts(t, " ],\n    \"samples_ts\": [ ");
    for (int i = 0; i < r->n_samples; i++) elmi_textbuf_printf(t, "%s%.6f", i ? ", " : "", ts[i]);
    elmi_textbuf_puts(t, " ],\n    \"load_ms\": ");
    elmi_textbuf_json_number(t, r->load_ms, 6);
    elmi_textbuf_puts(t, ",\n    \"ttft_ms\": ");
    print_number(t, r->ttft_ms, r->ttft_ms >= 0, 6);
    elmi_textbuf_printf(t, ",\n    \"peak_rss_bytes\": %llu,\n    \"kv_bytes\": %llu,\n    \"energy_j\": ",
                        (unsigned long long)r->peak_rss, (unsigned long long)r->kv_bytes);
    print_number(t, r->energy_j, e, 6);
    elmi_textbuf_puts(t, ",\n    \"j_per_token\": ");
    print_number(t, r->energy_j / n_tokens(r), e, 6);
    elmi_textbuf_printf(t, ",\n    \"energy_status\": \"%s\",\n    \"energy_source\": ", elm_figure_status_name(r->energy_status));
    elmi_textbuf_json_string(t, r->energy_note);
    elmi_textbuf_puts(t, ",\n    \"ppl\": ");
    print_number(t, r->ppl, r->ppl > 0, 8);
    elmi_textbuf_puts(t, "\n  }");
}

static void print_json(elmi_textbuf *t, const result *rs, int n) {
    elmi_textbuf_puts(t, "[\n");
    for (int i = 0; i < n; i++) {
        json_row(t, &rs[i]);
        elmi_textbuf_puts(t, i + 1 < n ? ",\n" : "\n");
    }
    elmi_textbuf_puts(t, "]\n");
}

/* A number in fmt, or the text `none` when it is not available. */
static void opt_number(char *buf, size_t cap, bool available, const char *fmt, double v, const char *none) {
    if (available) snprintf(buf, cap, fmt, v);
    else snprintf(buf, cap, "%s", none);
}

static void csv_field(elmi_textbuf *t, const char *s, bool last) {
    elmi_textbuf_puts(t, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') elmi_textbuf_puts(t, "\"\"");
        else elmi_textbuf_printf(t, "%c", *p);
    }
    elmi_textbuf_puts(t, last ? "\"\n" : "\",");
}

static void print_csv(elmi_textbuf *t, const result *rs, int n) {
    static const char *const fields[] = { "model_filename", "model_type", "model_size", "model_n_params", "n_batch",
                                          "n_threads", "type_k", "type_v", "n_prompt", "n_gen", "test_time", "avg_ns",
                                          "stddev_ns", "avg_ts", "stddev_ts", "load_ms", "ttft_ms", "peak_rss_bytes",
                                          "kv_bytes", "energy_j", "j_per_token", "energy_status", "energy_source", "ppl" };
    const int nf = (int)(sizeof fields / sizeof fields[0]);
    for (int i = 0; i < nf; i++) elmi_textbuf_printf(t, "%s%s", fields[i], i + 1 < nf ? "," : "\n");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        double ts[64];
        samples_ts(r, ts);
        const bool e = r->energy_status != ELM_FIGURE_UNAVAILABLE;
        char v[24][256];
        snprintf(v[0], sizeof v[0], "%s", r->model_path);
        snprintf(v[1], sizeof v[1], "%s", r->model_type);
        snprintf(v[2], sizeof v[2], "%llu", (unsigned long long)r->model_size);
        snprintf(v[3], sizeof v[3], "%llu", (unsigned long long)r->model_n_params);
        snprintf(v[4], sizeof v[4], "%d", r->n_batch);
        snprintf(v[5], sizeof v[5], "%d", r->n_threads);
        snprintf(v[6], sizeof v[6], "%s", kv_name(r->kv));
        snprintf(v[7], sizeof v[7], "%s", kv_name(r->kv));
        snprintf(v[8], sizeof v[8], "%d", r->n_prompt);
        snprintf(v[9], sizeof v[9], "%d", r->n_gen);
        snprintf(v[10], sizeof v[10], "%s", r->test_time);
        snprintf(v[11], sizeof v[11], "%.0f", mean(r->samples_ns, r->n_samples));
        snprintf(v[12], sizeof v[12], "%.0f", stdev(r->samples_ns, r->n_samples));
        snprintf(v[13], sizeof v[13], "%.6f", mean(ts, r->n_samples));
        snprintf(v[14], sizeof v[14], "%.6f", stdev(ts, r->n_samples));
        snprintf(v[15], sizeof v[15], "%.3f", r->load_ms);
        opt_number(v[16], sizeof v[16], r->ttft_ms >= 0, "%.3f", r->ttft_ms, "");
        snprintf(v[17], sizeof v[17], "%llu", (unsigned long long)r->peak_rss);
        snprintf(v[18], sizeof v[18], "%llu", (unsigned long long)r->kv_bytes);
        opt_number(v[19], sizeof v[19], e, "%.6g", r->energy_j, "");
        opt_number(v[20], sizeof v[20], e, "%.6g", r->energy_j / n_tokens(r), "");
        snprintf(v[21], sizeof v[21], "%s", elm_figure_status_name(r->energy_status));
        snprintf(v[22], sizeof v[22], "%.200s", r->energy_note);
        opt_number(v[23], sizeof v[23], r->ppl > 0, "%.4f", r->ppl, "");
        for (int k = 0; k < nf; k++) csv_field(t, v[k], k + 1 == nf);
    }
}

static void print_md(elmi_textbuf *t, const result *rs, int n) {
    elmi_textbuf_puts(t, "| model | size | params | threads | kv | test | t/s | load ms | TTFT ms | peak RSS MiB | "
                         "KV MiB | J/token | PPL |\n"
                         "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        double ts[64];
        samples_ts(r, ts);
        char test[32], ttft[32], jpt[64], ppl[32];
        snprintf(test, sizeof test, r->n_prompt ? "pp%d" : "tg%d", r->n_prompt ? r->n_prompt : r->n_gen);
        opt_number(ttft, sizeof ttft, r->ttft_ms >= 0, "%.2f", r->ttft_ms, "-");
        if (r->energy_status == ELM_FIGURE_UNAVAILABLE) snprintf(jpt, sizeof jpt, "n/a");
        else snprintf(jpt, sizeof jpt, "%.4g%s", r->energy_j / n_tokens(r),
                      r->energy_status == ELM_FIGURE_ESTIMATED ? " (estimate)" : "");
        opt_number(ppl, sizeof ppl, r->ppl > 0, "%.4f", r->ppl, "-");
        elmi_textbuf_puts(t, "| ");
        elmi_textbuf_puts(t, r->model_type);
        elmi_textbuf_printf(t, " | %.2f MiB | %.2f M | %d | %s | %s | %.2f ± %.2f | %.1f | %s | %.1f | %.2f | %s | %s |\n",
                            r->model_size / 1048576.0, r->model_n_params / 1e6, r->n_threads, kv_name(r->kv), test,
                            mean(ts, r->n_samples), stdev(ts, r->n_samples), r->load_ms, ttft,
                            r->peak_rss / 1048576.0, r->kv_bytes / 1048576.0, jpt, ppl);
    }
}

/* ==== The report ========================================================================= */

static bool write_file(const char *dir, const char *name, const elmi_textbuf *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "edgelm-bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = !t->failed && fwrite(t->buf ? t->buf : "", 1, t->len, f) == t->len;
    ok = fclose(f) == 0 && ok;
    if (!ok) fprintf(stderr, "edgelm-bench: writing %s failed\n", path);
    return ok;
}

/* Values spanning more than a factor 30 read better on a log axis. */
static bool wide_range(const elmi_plot_point *p, int n, bool x) {
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < n; i++) {
        double v = x ? p[i].x : p[i].y;
        if (!(v > 0) || !isfinite(v)) return false;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return n > 1 && hi > 30 * lo;
}

/* "llama 11M Q4_0" -> "Q4_0": the quantization, for labels. */
static const char *short_type(const char *model_type) {
    const char *s = strrchr(model_type, ' ');
    return s ? s + 1 : model_type;
}

/* The row of a model x threads (x first kv) that a plot uses: tg if any, else pp. */
static const result *pick(const result *rs, int n, const char *model, int threads, elm_kv_type kv, bool gen) {
    for (int i = 0; i < n; i++)
        if (rs[i].model_path == model && rs[i].n_threads == threads && rs[i].kv == kv && (gen ? rs[i].n_gen : rs[i].n_prompt) > 0)
            return &rs[i];
    return NULL;
}

static bool write_report(const options *o, const result *rs, int n, const char *energy_desc) {
    if (mkdir(o->report_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "edgelm-bench: cannot create %s: %s\n", o->report_dir, strerror(errno));
        return false;
    }
    const char *series[MAX_LIST];
    for (int m = 0; m < o->n_models; m++) series[m] = base_name(o->models[m]);
    elmi_plot_point *pts = calloc((size_t)(n > 0 ? n : 1), sizeof *pts);
    char (*labels)[64] = calloc((size_t)(n > 0 ? n : 1), sizeof *labels);
    if (!pts || !labels) { free(pts); free(labels); return false; }
    bool ok = true, have_gen = o->gen.n > 0 && o->gen.v[0] > 0;
    const elm_kv_type kv0 = (elm_kv_type)o->kv.v[0];

    /* generation (or prompt) speed vs peak memory, per model, one point per thread count */
    int np = 0;
    bool any_energy = false, any_estimate = false;
    for (int m = 0; m < o->n_models; m++)
        for (int k = 0; k < o->threads.n; k++) {
            const result *r = pick(rs, n, o->models[m], o->threads.v[k], kv0, have_gen);
            if (!r) continue;
            double ts[64];
            samples_ts(r, ts);
            snprintf(labels[np], sizeof labels[np], "%.40s t=%d", short_type(r->model_type), r->n_threads);
            pts[np] = (elmi_plot_point){ r->peak_rss / 1048576.0, mean(ts, r->n_samples), labels[np], m };
            np++;
            any_energy = any_energy || r->energy_status != ELM_FIGURE_UNAVAILABLE;
            any_estimate = any_estimate || r->energy_status == ELM_FIGURE_ESTIMATED;
        }
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "%s speed, tokens/s", have_gen ? "generation" : "prompt");
    elmi_plot plot = { "Speed vs memory", "peak resident memory of each configuration (model + context)",
                       "peak RSS, MiB", ylabel, false, wide_range(pts, np, false), true, series, o->n_models, pts, np };
    elmi_textbuf t;
    elmi_textbuf_growing(&t);
    elmi_svg_scatter(&t, &plot);
    ok = write_file(o->report_dir, "speed_vs_memory.svg", &t) && ok;
    elmi_textbuf_free(&t);

    /* tokens/s vs J/token, only when energy is known */
    if (any_energy) {
        np = 0;
        for (int m = 0; m < o->n_models; m++)
            for (int k = 0; k < o->threads.n; k++) {
                const result *r = pick(rs, n, o->models[m], o->threads.v[k], kv0, have_gen);
                if (!r || r->energy_status == ELM_FIGURE_UNAVAILABLE) continue;
                double ts[64];
                samples_ts(r, ts);
                snprintf(labels[np], sizeof labels[np], "t=%d%s", r->n_threads,
                         r->energy_status == ELM_FIGURE_ESTIMATED ? " (estimate)" : "");
                pts[np] = (elmi_plot_point){ r->energy_j / n_tokens(r), mean(ts, r->n_samples), labels[np], m };
                np++;
            }
        char sub[200];
        snprintf(sub, sizeof sub, "%s%.160s", any_estimate ? "ESTIMATE, not measured: " : "energy from ", energy_desc);
        elmi_plot ep = { "Speed vs energy", sub, "joules per token", ylabel, wide_range(pts, np, true),
                         wide_range(pts, np, false), true, series, o->n_models, pts, np };
        elmi_textbuf_growing(&t);
        elmi_svg_scatter(&t, &ep);
        ok = write_file(o->report_dir, "speed_vs_energy.svg", &t) && ok;
        elmi_textbuf_free(&t);
    }

    /* perplexity vs size, when a text was given */
    bool any_ppl = false;
    if (o->ppl_text) {
        np = 0;
        for (int m = 0; m < o->n_models; m++)
            for (int i = 0; i < n; i++)
                if (rs[i].model_path == o->models[m] && rs[i].ppl > 0) {
                    snprintf(labels[np], sizeof labels[np], "%.60s", short_type(rs[i].model_type));
                    pts[np] = (elmi_plot_point){ rs[i].model_size / 1048576.0, rs[i].ppl, labels[np], m };
                    np++;
                    any_ppl = true;
                    break;
                }
        char sub[300];
        snprintf(sub, sizeof sub, "perplexity on %s (llama.cpp's method; lower is better)", base_name(o->ppl_text));
        elmi_plot pp = { "Quality vs size", sub, "model size, MiB", "perplexity", false, true, false, series, o->n_models, pts, np };
        elmi_textbuf_growing(&t);
        elmi_svg_scatter(&t, &pp);
        ok = write_file(o->report_dir, "ppl_vs_size.svg", &t) && ok;
        elmi_textbuf_free(&t);
    }

    /* the Markdown report */
    elmi_textbuf_growing(&t);
    elmi_textbuf_printf(&t, "# edgelm trade-off report\n\nedgelm %s, %d repetitions per test, batch %d.\n\n",
                        elm_version(), o->reps, o->n_batch);
    print_md(&t, rs, n);
    elmi_textbuf_puts(&t, "\n## Energy\n\n");
    if (any_energy)
        elmi_textbuf_printf(&t, "%s: %s.\n\n![speed vs energy](speed_vs_energy.svg)\n\n",
                            any_estimate ? "ESTIMATE (not measured) from a given power figure" : "Measured", energy_desc);
    else
        elmi_textbuf_printf(&t, "Unavailable: %s. No energy figures are shown rather than invented ones.\n\n", energy_desc);
    elmi_textbuf_puts(&t, "## Speed and memory\n\n![speed vs memory](speed_vs_memory.svg)\n\n");
    if (o->ppl_text)
        elmi_textbuf_printf(&t, "## Quality\n\n%s\n\n", any_ppl ? "![perplexity vs size](ppl_vs_size.svg)"
                                                                : "Perplexity could not be measured (see stderr).");
    ok = write_file(o->report_dir, "report.md", &t) && ok;
    elmi_textbuf_free(&t);
    elmi_textbuf_growing(&t);
    print_json(&t, rs, n);
    ok = write_file(o->report_dir, "results.json", &t) && ok;
    elmi_textbuf_free(&t);
    free(pts);
    free(labels);
    if (ok && progress_enabled) fprintf(stderr, "edgelm-bench: report written to %s/report.md\n", o->report_dir);
    return ok;
}

/* ==== Command line ======================================================================= */

static void usage(FILE *f) {
    fprintf(f,
            "usage: edgelm-bench -m MODEL[,MODEL...] [options]\n"
            "  -m, --model FILES     GGUF models, comma-separated (or -m repeated)\n"
            "  -p, --n-prompt N,...  prompt tokens of pp tests (default 512; 0: none)\n"
            "  -n, --n-gen N,...     generated tokens of tg tests (default 128; 0: none)\n"
            "  -t, --threads N,...   thread counts (default: all CPUs)\n"
            "  -r, --repetitions N   repetitions of each test (default 5)\n"
            "  -b, --batch-size N    tokens per forward pass (default 512)\n"
            "  --kv f16,q8_0,f32     KV cache types (default f16)\n"
            "  -o, --output FORMAT   md, csv or json (default md)\n"
            "  --energy SOURCE       auto, rapl, hwmon[:MATCH], cmd:COMMAND, estimate:WATTS, none (default auto)\n"
            "  --report DIR          write report.md, results.json and SVG plots into DIR\n"
            "  --ppl-text FILE       also measure perplexity on this text (llama.cpp's method)\n"
            "  --ppl-ctx N           tokens per perplexity chunk (default min(512, the model's context))\n"
            "  --ppl-chunks N        perplexity chunks (default 4; 0: all)\n"
            "  -q, --quiet           no progress on stderr\n");
}

/* The copies of the -m arguments the model names point into (freed at exit). */
static char *model_lists[MAX_LIST];
static int n_model_lists;

static void free_model_lists(void) {
    for (int i = 0; i < n_model_lists; i++) free(model_lists[i]);
    n_model_lists = 0;
}

static bool add_models(options *o, const char *list) {
    char *copy = n_model_lists < MAX_LIST ? strdup(list) : NULL, *save = NULL;
    if (!copy) return false;
    model_lists[n_model_lists++] = copy;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (o->n_models == MAX_LIST) return false;
        o->models[o->n_models++] = tok;
    }
    return true;
}

int main(int argc, char **argv) {
    options o;
    memset(&o, 0, sizeof o);
    o.prompt = (int_list){ 1, { 512 } };
    o.gen = (int_list){ 1, { 128 } };
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o.threads = (int_list){ 1, { ncpu > 0 ? (int)ncpu : 1 } };
    o.kv = (int_list){ 1, { ELM_KV_F16 } };
    o.reps = 5;
    o.n_batch = 512;
    o.output = "md";
    o.energy = "auto";
    o.ppl_chunks = 4;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free_model_lists(); return 0; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { progress_enabled = false; continue; }
        if (!v) ok = false;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) ok = add_models(&o, v);
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) ok = parse_list(v, 0, 1 << 20, &o.prompt);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) ok = parse_list(v, 0, 1 << 20, &o.gen);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) ok = parse_list(v, 1, 512, &o.threads);
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) { int_list l; ok = parse_list(v, 1, 64, &l); o.reps = l.v[0]; }
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) { int_list l; ok = parse_list(v, 1, 1 << 20, &l); o.n_batch = l.v[0]; }
        else if (!strcmp(a, "--kv")) ok = parse_kv_list(v, &o.kv);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { o.output = v; ok = !strcmp(v, "md") || !strcmp(v, "csv") || !strcmp(v, "json"); }
        else if (!strcmp(a, "--energy")) o.energy = v;
        else if (!strcmp(a, "--report")) o.report_dir = v;
        else if (!strcmp(a, "--ppl-text")) o.ppl_text = v;
        else if (!strcmp(a, "--ppl-ctx")) { int_list l; ok = parse_list(v, 4, 1 << 20, &l); o.ppl_ctx = l.v[0]; }
        else if (!strcmp(a, "--ppl-chunks")) { int_list l; ok = parse_list(v, 0, 1 << 20, &l); o.ppl_chunks = l.v[0]; }
        else { ok = false; takes = false; }
        if (!ok) {
            fprintf(stderr, "edgelm-bench: bad or unknown option '%s%s%s'\n", a, takes && v ? " " : "", takes && v ? v : "");
            usage(stderr);
            free_model_lists();
            return 2;
        }
        i++;
    }
    if (o.n_models == 0) {
        fprintf(stderr, "edgelm-bench: no model given (-m)\n");
        usage(stderr);
        return 2;
    }

    /* The energy source, shared by every test; when there is none, say why in each row. */
    elm_energy_source *src = NULL;
    char energy_desc[300];
    if (!strcmp(o.energy, "none")) {
        snprintf(energy_desc, sizeof energy_desc, "no energy source requested (--energy none)");
    } else if (elm_energy_open(o.energy, NULL, &src) != ELM_OK) {
        snprintf(energy_desc, sizeof energy_desc, "%.290s", elm_last_error());
        if (progress_enabled) fprintf(stderr, "edgelm-bench: energy unavailable: %s\n", energy_desc);
        src = NULL;
    } else {
        snprintf(energy_desc, sizeof energy_desc, "%.290s", elm_energy_name(src));
        if (progress_enabled)
            fprintf(stderr, "edgelm-bench: energy from %s%s\n", energy_desc,
                    elm_energy_is_estimate(src) ? " (ESTIMATE, not a measurement)" : "");
    }

    int per_model = o.kv.n * o.threads.n * (o.prompt.n + o.gen.n);
    result *rs = calloc((size_t)(o.n_models * per_model), sizeof *rs);
    if (!rs) { elm_energy_free(src); free_model_lists(); return 1; }
    int n = 0, total = o.n_models * per_model, done = 0, failures = 0;
    for (int mi = 0; mi < o.n_models; mi++) {
        const char *path = o.models[mi];
        elm_reset_peak_memory();
        elm_model *model = NULL;
        if (elm_model_load(path, NULL, &model) != ELM_OK) {
            fprintf(stderr, "edgelm-bench: %s\n", elm_last_error());
            failures++;
            done += per_model;
            continue;
        }
        elm_model_info info;
        elm_model_get_info(model, &info);
        double ppl = -1;
        if (o.ppl_text) {
            int32_t n_tok = 0;
            elm_token *toks = tokenize_file(model, o.ppl_text, &n_tok);
            if (!toks) fprintf(stderr, "edgelm-bench: cannot read or tokenize %s\n", o.ppl_text);
            else ppl = model_ppl(model, &o, toks, n_tok, o.threads.v[o.threads.n - 1]);
            free(toks);
        }
        for (int ki = 0; ki < o.kv.n; ki++)
            for (int ti = 0; ti < o.threads.n; ti++)
                for (int k = 0; k < o.prompt.n + o.gen.n; k++) {
                    int np = k < o.prompt.n ? o.prompt.v[k] : 0, ng = k < o.prompt.n ? 0 : o.gen.v[k - o.prompt.n];
                    done++;
                    if (np == 0 && ng == 0) continue;
                    result *r = &rs[n];
                    memset(r, 0, sizeof *r);
                    r->model_path = path;
                    model_type(&info, r->model_type, sizeof r->model_type);
                    r->model_size = info.weight_bytes;
                    r->model_n_params = info.n_params;
                    r->ppl = ppl;
                    if (progress_enabled)
                        fprintf(stderr, "edgelm-bench: [%d/%d] %s t=%d kv=%s %s%d ...", done, total, base_name(path),
                                o.threads.v[ti], kv_name((elm_kv_type)o.kv.v[ki]), np ? "pp" : "tg", np ? np : ng);
                    elm_status st = run_test(model, &o, src, energy_desc, o.threads.v[ti], (elm_kv_type)o.kv.v[ki], np, ng, r);
                    if (st != ELM_OK) {
                        if (progress_enabled) fputc('\n', stderr);
                        fprintf(stderr, "edgelm-bench: %s: %s\n", base_name(path), elm_last_error());
                        failures++;
                        continue;
                    }
                    if (progress_enabled) {
                        double ts[64];
                        samples_ts(r, ts);
                        fprintf(stderr, " %.2f t/s\n", mean(ts, r->n_samples));
                    }
                    n++;
                }
        elm_model_free(model);
    }

    elmi_textbuf t;
    elmi_textbuf_growing(&t);
    if (!strcmp(o.output, "json")) print_json(&t, rs, n);
    else if (!strcmp(o.output, "csv")) print_csv(&t, rs, n);
    else print_md(&t, rs, n);
    fwrite(t.buf ? t.buf : "", 1, t.len, stdout);
    elmi_textbuf_free(&t);
    bool ok = failures == 0;
    if (o.report_dir) ok = write_report(&o, rs, n, energy_desc) && ok;
    free(rs);
    elm_energy_free(src);
    free_model_lists();
    return ok ? 0 : 1;
}
