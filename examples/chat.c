/* edgelm-chat: talk to a model in the terminal, or ask it once.
 *
 *   edgelm-chat -m MODEL [-t THREADS] [-c CTX] [--temp T] [--top-k K] [--top-p P]
 *               [--min-p P] [--repeat-penalty R] [--seed S] [--system TEXT]
 *               [--template NAME] [-p PROMPT] [-n N] [--stats]
 *
 * With -p, or with a prompt piped into stdin, it answers once and exits. Otherwise it is a
 * chat: type a message, read the answer as it is written; the conversation stays in the
 * model's KV cache, so each turn costs only its new tokens. Ctrl-C stops an answer (not the
 * program); /reset forgets the conversation, /stats prints the session's figures, /quit or
 * Ctrl-D leaves. A model whose GGUF has no chat template (a base model such as stories260K)
 * runs as plain completion: what you type is continued.
 *
 * Answers go to stdout; everything else (banner, notes, statistics) to stderr.
 * Must not: use anything but the public API (edgelm.h): this is the example users copy.
 */
#include "edgelm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct options {
    const char *model;
    const char *prompt;          /* -p: one-shot */
    const char *system;
    const char *template_name;
    long n_threads;              /* 0: all CPUs */
    long n_ctx;                  /* 0: the model's */
    long n_predict;              /* tokens per answer; <= 0: until the model stops */
    double temp, top_p, min_p, repeat_penalty;
    long top_k;
    unsigned long long seed;
    bool seed_set;
    bool stats;
} options;

/* ==== Ctrl-C ================================================================================ */

static volatile sig_atomic_t interrupted;
static int wake_pipe[2] = {-1, -1};   /* the handler writes here, so the prompt wakes up */

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    const int saved = errno;
    if (wake_pipe[1] >= 0 && write(wake_pipe[1], "", 1) < 0) { /* full: already awake */ }
    errno = saved;
}

static void drain_wake_pipe(void) {
    char junk[64];
    while (read(wake_pipe[0], junk, sizeof junk) > 0) {}
}

static bool should_stop(void *user) {
    (void)user;
    return interrupted != 0;
}

static bool print_piece(const char *text, size_t len, void *user) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return interrupted == 0;
}

/* ==== Command line ========================================================================== */

static void usage(FILE *f) {
    fprintf(f,
            "usage: edgelm-chat -m MODEL [-t THREADS] [-c CTX] [--temp T] [--top-k K] [--top-p P]\n"
            "                   [--min-p P] [--repeat-penalty R] [--seed S] [--system TEXT]\n"
            "                   [--template NAME] [-p PROMPT] [-n N] [--stats]\n"
            "  -m MODEL           GGUF model file\n"
            "  -t THREADS         threads (default: every online CPU)\n"
            "  -c CTX             context size in tokens (default: the model's)\n"
            "  --temp T           temperature; 0 = greedy (default 0.8)\n"
            "  --top-k K          keep the K most likely tokens; 0 = off (default 40)\n"
            "  --top-p P          keep the most likely tokens up to mass P; 1 = off (default 0.95)\n"
            "  --min-p P          drop tokens below P x the top probability (default 0.05)\n"
            "  --repeat-penalty R penalise the last 64 tokens; 1 = off (default 1.0)\n"
            "  --seed S           random seed (default: a new one each run, shown by --stats)\n"
            "  --system TEXT      system prompt\n"
            "  --template NAME    chat template by name (chatml, llama3, ..., raw = plain completion);\n"
            "                     default: detected from the model\n"
            "  -p PROMPT          answer PROMPT once and exit (also: a prompt piped into stdin)\n"
            "  -n N               most tokens per answer (default: until the model stops)\n"
            "  --stats            after each answer: time to first token, speeds, memory\n");
}

static bool parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, options *o) {
    *o = (options){.temp = 0.8, .top_p = 0.95, .min_p = 0.05, .repeat_penalty = 1.0, .top_k = 40, .n_predict = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--stats")) {   /* the only option without a value */
            o->stats = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "edgelm-chat: %s needs a value (or is unknown)\n", a);
            return -1;
        }
        const char *v = argv[++i];
        bool ok = true;
        unsigned long long seed;
        char *end;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--template")) o->template_name = v;
        else if (!strcmp(a, "-t")) ok = parse_long(v, 0, 1024, &o->n_threads);
        else if (!strcmp(a, "-c")) ok = parse_long(v, 0, 1L << 24, &o->n_ctx);
        else if (!strcmp(a, "-n")) ok = parse_long(v, -1, 1L << 24, &o->n_predict);
        else if (!strcmp(a, "--top-k")) ok = parse_long(v, 0, 1L << 24, &o->top_k);
        else if (!strcmp(a, "--temp")) ok = parse_double(v, &o->temp);
        else if (!strcmp(a, "--top-p")) ok = parse_double(v, &o->top_p);
        else if (!strcmp(a, "--min-p")) ok = parse_double(v, &o->min_p);
        else if (!strcmp(a, "--repeat-penalty")) ok = parse_double(v, &o->repeat_penalty);
        else if (!strcmp(a, "--seed")) {
            errno = 0;
            seed = strtoull(v, &end, 10);
            ok = !errno && end != v && !*end && seed != ELM_SEED_RANDOM;
            o->seed = seed;
            o->seed_set = true;
        } else {
            fprintf(stderr, "edgelm-chat: unknown option %s\n", a);
            return -1;
        }
        if (!ok) {
            fprintf(stderr, "edgelm-chat: bad value for %s: %s\n", a, v);
            return -1;
        }
    }
    if (!o->model) {
        fprintf(stderr, "edgelm-chat: -m MODEL is required\n");
        return -1;
    }
    return 0;
}

/* ==== Statistics ============================================================================ */

static void print_answer_stats(elm_chat *chat, const elm_generate_result *r) {
    elm_context *ctx = elm_chat_context(chat);
    fprintf(stderr, "[prompt: %d tokens (+%d reused) in %.3f s, %.1f tokens/s | first token after %.3f s]\n",
            r->n_prompt_tokens, r->n_cached_tokens, r->prompt_seconds, r->prompt_tokens_per_second, r->ttft_seconds);
    fprintf(stderr, "[answer: %d tokens, %.1f tokens/s, per token %.1f ms median, %.1f ms p90 | stop: %s]\n",
            r->n_generated, r->gen_tokens_per_second, r->token_seconds_p50 * 1e3, r->token_seconds_p90 * 1e3,
            elm_finish_reason_name(r->finish));
    elm_context_memory cm;
    elm_process_memory pm;
    if (elm_context_get_memory(ctx, &cm) == ELM_OK && elm_get_process_memory(&pm) == ELM_OK)
        fprintf(stderr, "[memory: %.1f MiB resident (peak %.1f MiB), KV cache %.1f MiB, context %d/%d tokens]\n",
                pm.rss_bytes / 1048576.0, pm.peak_rss_bytes / 1048576.0, cm.kv_bytes / 1048576.0,
                elm_context_position(ctx), elm_context_n_ctx(ctx));
}

static void print_session_stats(elm_chat *chat, const elm_sampler *smp) {
    elm_metrics m;
    if (elm_context_get_metrics(elm_chat_context(chat), &m) != ELM_OK) {
        fprintf(stderr, "edgelm-chat: metrics: %s\n", elm_last_error());
        return;
    }
    size_t need = elm_metrics_format(&m, NULL, 0);
    char *buf = malloc(need + 1);
    if (!buf) return;
    elm_metrics_format(&m, buf, need + 1);
    fprintf(stderr, "%s", buf);
    if (need && buf[need - 1] != '\n') fputc('\n', stderr);
    fprintf(stderr, "seed %llu, %zu messages in the conversation\n", (unsigned long long)elm_sampler_seed(smp),
            elm_chat_n_messages(chat));
    free(buf);
}

/* ==== Turns ================================================================================= */

static int answer(elm_chat *chat, elm_sampler *smp, const options *o, const char *text) {
    elm_generate_params gp = elm_generate_default_params();
    gp.max_tokens = (int32_t)o->n_predict;
    gp.on_piece = print_piece;
    gp.should_stop = should_stop;
    elm_generate_result r;
    interrupted = 0;
    elm_status st = elm_chat_send(chat, text, smp, &gp, &r);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-chat: %s (%s)\n", elm_chat_last_error(chat), elm_status_name(st));
        return st == ELM_ERR_CONTEXT_FULL ? 0 : 1;   /* a message too long is not fatal */
    }
    fputc('\n', stdout);
    fflush(stdout);
    if (r.finish == ELM_FINISH_CANCELLED) fprintf(stderr, "[stopped]\n");
    if (r.finish == ELM_FINISH_CONTEXT_FULL) fprintf(stderr, "[the context is full: older turns will be dropped]\n");
    if (o->stats) print_answer_stats(chat, &r);
    interrupted = 0;
    return 0;
}

/* Read stdin to the end (a piped prompt), without the trailing newlines. */
static char *read_all_stdin(void) {
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *b = realloc(buf, cap * 2);
            if (!b) { free(buf); return NULL; }
            buf = b;
            cap *= 2;
        }
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    buf[len] = '\0';
    return buf;
}

static int repl(elm_chat *chat, elm_sampler *smp, const options *o) {
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        /* Ctrl-C at the prompt must never be lost. The signal may be handled by any of
         * the process's threads (the library's workers too), so no wait of this thread is
         * sure to be interrupted; the handler therefore also writes a byte to a pipe, and
         * the prompt waits on stdin and that pipe together. */
        drain_wake_pipe();
        interrupted = 0;
        fputs("> ", stdout);
        fflush(stdout);
        struct pollfd pfd[2] = {{STDIN_FILENO, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
        while (poll(pfd, 2, -1) < 0 && errno == EINTR && !interrupted) {}
        const bool have_input = !interrupted && !(pfd[1].revents & POLLIN) && pfd[0].revents != 0;
        errno = 0;
        ssize_t n = have_input ? getline(&line, &cap, stdin) : -1;
        if (n < 0) {
            if (!have_input || errno == EINTR || interrupted) {   /* Ctrl-C: a fresh prompt */
                drain_wake_pipe();
                clearerr(stdin);
                fputs("\n(/quit or Ctrl-D to leave)\n", stderr);
                continue;
            }
            fputc('\n', stdout);   /* EOF */
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            elm_chat_reset(chat);
            elm_sampler_reset(smp);
            fprintf(stderr, "[conversation cleared]\n");
            continue;
        }
        if (!strcmp(line, "/stats")) {
            print_session_stats(chat, smp);
            continue;
        }
        if (!strcmp(line, "/help")) {
            fprintf(stderr, "/reset  forget the conversation\n/stats  figures of this session\n"
                            "/quit   leave (also Ctrl-D); Ctrl-C stops an answer\n");
            continue;
        }
        if ((rc = answer(chat, smp, o, line)) != 0) break;
    }
    free(line);
    return rc;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }

    if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        perror("edgelm-chat: pipe");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   /* no SA_RESTART: Ctrl-C at the prompt interrupts the read */
    sigaction(SIGINT, &sa, NULL);

    elm_model *model;
    elm_status st = elm_model_load(o.model, NULL, &model);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-chat: %s\n", elm_last_error());
        return 1;
    }
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = (int32_t)o.n_ctx;
    cp.n_threads = (int32_t)o.n_threads;
    elm_context *ctx;
    if ((st = elm_context_create(model, &cp, &ctx)) != ELM_OK) {
        fprintf(stderr, "edgelm-chat: %s\n", elm_last_error());
        elm_model_free(model);
        return 1;
    }

    /* The template: by name, else the model's; a model without one is a base model. */
    elm_chat_params chp = elm_chat_default_params();
    chp.system_prompt = o.system;
    chp.template_name = o.template_name;
    if (!o.template_name) {
        elm_chat_format f;
        st = elm_chat_format_of_gguf(elm_model_gguf(model), &f);
        if (st == ELM_ERR_NOT_FOUND) {
            chp.template_name = "raw";
        } else if (st != ELM_OK) {
            fprintf(stderr, "edgelm-chat: %s\n", elm_last_error());
            elm_context_free(ctx);
            elm_model_free(model);
            return 1;
        }
    }
    elm_chat *chat;
    if ((st = elm_chat_create(ctx, &chp, &chat)) != ELM_OK) {
        fprintf(stderr, "edgelm-chat: %s\n", elm_last_error());
        elm_context_free(ctx);
        elm_model_free(model);
        return 1;
    }

    elm_sampler_params sp = o.temp <= 0 ? elm_sampler_greedy_params() : elm_sampler_default_params();
    if (o.temp > 0) {
        sp.temperature = (float)o.temp;
        sp.top_k = (int32_t)o.top_k;
        sp.top_p = (float)o.top_p;
        sp.min_p = (float)o.min_p;
    }
    sp.repeat_penalty = (float)o.repeat_penalty;
    if (o.repeat_penalty != 1.0) sp.penalty_last_n = 64;
    sp.seed = o.seed_set ? (uint64_t)o.seed : (o.temp <= 0 ? 0 : ELM_SEED_RANDOM);
    elm_sampler *smp;
    if ((st = elm_sampler_create(elm_vocab_size(elm_model_tokenizer(model)), &sp, &smp)) != ELM_OK) {
        fprintf(stderr, "edgelm-chat: %s\n", elm_last_error());
        elm_chat_free(chat);
        elm_context_free(ctx);
        elm_model_free(model);
        return 1;
    }

    int rc = 0;
    const bool piped = !o.prompt && !isatty(STDIN_FILENO);
    if (o.prompt || piped) {
        char *text = piped ? read_all_stdin() : NULL;
        if (piped && !text) {
            fprintf(stderr, "edgelm-chat: cannot read stdin\n");
            rc = 1;
        } else {
            rc = answer(chat, smp, &o, piped ? text : o.prompt);
        }
        free(text);
    } else {
        elm_model_info info;
        elm_model_get_info(model, &info);
        fprintf(stderr, "edgelm-chat: %s (%s, %s), template %s, context %d tokens, seed %llu\n",
                info.name && info.name[0] ? info.name : o.model, info.arch, info.type_name,
                elm_chat_format_name(elm_chat_get_format(chat)), elm_context_n_ctx(ctx),
                (unsigned long long)elm_sampler_seed(smp));
        if (elm_chat_get_format(chat) == ELM_CHAT_RAW)
            fprintf(stderr, "(no chat template: plain completion, your text is continued)\n");
        fprintf(stderr, "Type a message; Ctrl-C stops an answer, /reset, /stats, /quit (or Ctrl-D).\n");
        rc = repl(chat, smp, &o);
    }

    elm_sampler_free(smp);
    elm_chat_free(chat);
    elm_context_free(ctx);
    elm_model_free(model);
    return rc;
}
