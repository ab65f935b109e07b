/* test_chat_cli.c: drives the edgelm-chat binary for real: one-shot answers (from -p and
 * from a pipe) print llama.cpp's golden greedy continuation, and an interactive session on
 * a pseudo-terminal answers two turns, survives Ctrl-C during an answer and at the prompt,
 * and leaves on /quit and on Ctrl-D. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define TIMEOUT_MS 120000

/* ==== Golden data ========================================================================== */

static char *golden_prompt, *golden_text;

static int setup(void **state) {
    (void)state;
    char *json = elmt_read_file(elmt_shared("golden/stories260K.json"), NULL);
    if (!json) { fprintf(stderr, "missing golden/stories260K.json\n"); return -1; }
    golden_prompt = elmt_json_string(json, "prompt");
    golden_text = elmt_json_string(json, "greedy_text");
    free(json);
    if (access(elmt_bin("edgelm-chat"), X_OK) != 0) { fprintf(stderr, "missing %s\n", elmt_bin("edgelm-chat")); return -1; }
    return golden_prompt && golden_text ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    free(golden_prompt);
    free(golden_text);
    return 0;
}

/* ==== Running with pipes =================================================================== */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Run argv with stdin_text on its stdin; collect stdout; return the exit status. */
static int run_piped(char *const argv[], const char *stdin_text, buf *out, buf *err) {
    int in[2], o[2], e[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(o), 0);
    assert_int_equal(pipe(e), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        dup2(e[1], 2);
        close(in[0]); close(in[1]); close(o[0]); close(o[1]); close(e[0]); close(e[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    close(e[1]);
    if (stdin_text) {
        size_t n = strlen(stdin_text);
        assert_int_equal(write(in[1], stdin_text, n), (ssize_t)n);
    }
    close(in[1]);
    struct pollfd fds[2] = {{o[0], POLLIN, 0}, {e[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        int r = poll(fds, 2, TIMEOUT_MS);
        assert_true(r > 0);   /* else: the program hung */
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char tmp[4096];
            ssize_t n = read(fds[k].fd, tmp, sizeof tmp);
            if (n <= 0) {
                close(fds[k].fd);
                fds[k].fd = -1;
                open_fds--;
            } else {
                buf_add(k == 0 ? out : err, tmp, (size_t)n);
            }
        }
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void one_shot_prints_the_golden_continuation(void **state) {
    (void)state;
    char *argv[] = {(char *)elmt_bin("edgelm-chat"), "-m", (char *)elmt_shared("models/stories260K.gguf"),
                    "-p", golden_prompt, "--temp", "0", "-n", "64", NULL};
    buf out = {0}, err = {0};
    buf_add(&out, "", 0);
    buf_add(&err, "", 0);
    int rc = run_piped(argv, NULL, &out, &err);
    if (rc != 0) fprintf(stderr, "stderr: %s\n", err.p);
    assert_int_equal(rc, 0);
    char want[4096];
    snprintf(want, sizeof want, "%s\n", golden_text);
    assert_string_equal(out.p, want);
    free(out.p);
    free(err.p);

    /* the same prompt piped into stdin (with its newline), and --stats on stderr only */
    char *argv2[] = {(char *)elmt_bin("edgelm-chat"), "-m", (char *)elmt_shared("models/stories260K.gguf"),
                     "--temp", "0", "-n", "64", "--stats", NULL};
    memset(&out, 0, sizeof out);
    memset(&err, 0, sizeof err);
    buf_add(&out, "", 0);
    buf_add(&err, "", 0);
    char piped[512];
    snprintf(piped, sizeof piped, "%s\n", golden_prompt);
    rc = run_piped(argv2, piped, &out, &err);
    assert_int_equal(rc, 0);
    assert_string_equal(out.p, want);
    assert_non_null(strstr(err.p, "first token"));
    assert_non_null(strstr(err.p, "tokens/s"));
    assert_non_null(strstr(err.p, "MiB"));
    free(out.p);
    free(err.p);
}

static void bad_command_lines_fail_with_a_message(void **state) {
    (void)state;
    struct { const char *args[6]; const char *says; } cases[] = {
        {{"-m", "/nonexistent/model.gguf", "-p", "x"}, "nonexistent"},
        {{"-p", "x"}, "-m MODEL"},
        {{"-m", NULL, "--template", "nosuch", "-p", "x"}, "nosuch"},
        {{"-m", NULL, "--temp", "abc", "-p", "x"}, "--temp"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *argv[8] = {(char *)elmt_bin("edgelm-chat")};
        int n = 1;
        for (int i = 0; i < 6 && (cases[k].args[i] || i == 1); i++)
            argv[n++] = (char *)(cases[k].args[i] ? cases[k].args[i] : elmt_shared("models/stories260K.gguf"));
        argv[n] = NULL;
        buf out = {0}, err = {0};
        buf_add(&out, "", 0);
        buf_add(&err, "", 0);
        int rc = run_piped(argv, "", &out, &err);
        assert_int_not_equal(rc, 0);
        if (!strstr(err.p, cases[k].says)) fprintf(stderr, "case %zu: %s\n", k, err.p);
        assert_non_null(strstr(err.p, cases[k].says));
        free(out.p);
        free(err.p);
    }
}

/* ==== Running on a pseudo-terminal ========================================================= */

typedef struct session {
    pid_t pid;
    int fd;              /* the pty master */
    buf out;             /* everything the terminal showed, "\r" removed */
} session;

static void start(session *s, char *const argv[]) {
    memset(s, 0, sizeof *s);
    buf_add(&s->out, "", 0);
    s->fd = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(s->fd >= 0);
    assert_int_equal(grantpt(s->fd), 0);
    assert_int_equal(unlockpt(s->fd), 0);
    const char *name = ptsname(s->fd);
    assert_non_null(name);
    char slave_name[256];
    snprintf(slave_name, sizeof slave_name, "%s", name);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        setsid();   /* a new session, so the pty becomes its controlling terminal */
        int slave = open(slave_name, O_RDWR);
        if (slave < 0) _exit(126);
        ioctl(slave, TIOCSCTTY, 0);
        /* NOFLSH: by default a Ctrl-C makes the terminal discard output the program has
         * written but the reader has not taken yet. A screen shows output at once, so a
         * person never loses any; this test reads asynchronously and would lose a prompt
         * written just before its Ctrl-C, then wait for it forever. */
        struct termios tio;
        if (tcgetattr(slave, &tio) == 0) {
            tio.c_lflag |= NOFLSH;
            tcsetattr(slave, TCSANOW, &tio);
        }
        dup2(slave, 0);
        dup2(slave, 1);
        dup2(slave, 2);
        if (slave > 2) close(slave);
        close(s->fd);
        execv(argv[0], argv);
        _exit(127);
    }
}

/* Read once from the terminal (whatever arrives within the timeout); fails if nothing comes
 * or the program has left. */
static void read_some(session *s, const char *waiting_for) {
    struct pollfd pfd = {s->fd, POLLIN, 0};
    int r = poll(&pfd, 1, TIMEOUT_MS);
    if (r <= 0) {
        fprintf(stderr, "timed out waiting for \"%s\"; the terminal shows:\n%s\n", waiting_for, s->out.p);
        fail();
    }
    char tmp[4096], clean[4096];
    ssize_t n = read(s->fd, tmp, sizeof tmp);
    if (n <= 0) {
        fprintf(stderr, "the program left while we waited for \"%s\"; the terminal shows:\n%s\n", waiting_for,
                s->out.p);
        fail();
    }
    size_t m = 0;
    for (ssize_t i = 0; i < n; i++)
        if (tmp[i] != '\r') clean[m++] = tmp[i];
    buf_add(&s->out, clean, m);
}

/* Read until `want` appears at or after offset `from`; returns the offset just after it. */
static size_t wait_for(session *s, const char *want, size_t from) {
    for (;;) {
        if (s->out.len >= from) {
            const char *hit = strstr(s->out.p + from, want);
            if (hit) return (size_t)(hit - s->out.p) + strlen(want);
        }
        read_some(s, want);
    }
}

static void type(session *s, const char *text) {
    size_t n = strlen(text);
    assert_int_equal(write(s->fd, text, n), (ssize_t)n);
}

/* Wait for the program to exit (draining the terminal); returns its exit status. */
static int finish(session *s) {
    const time_t t0 = time(NULL);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(s->pid, &status, WNOHANG);
        if (w == s->pid) break;
        assert_true(time(NULL) - t0 < TIMEOUT_MS / 1000);
        struct pollfd pfd = {s->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) > 0) {
            char tmp[4096];
            ssize_t n = read(s->fd, tmp, sizeof tmp);
            if (n > 0) buf_add(&s->out, tmp, (size_t)n);
        }
    }
    close(s->fd);
    free(s->out.p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void interactive_two_turns_ctrl_c_at_the_prompt_and_quit(void **state) {
    (void)state;
    char *argv[] = {(char *)elmt_bin("edgelm-chat"), "-m", (char *)elmt_shared("models/stories260K.gguf"),
                    "--temp", "0", "-n", "64", NULL};
    session s;
    start(&s, argv);
    size_t at = wait_for(&s, "> ", 0);

    /* turn 1: a base model continues the text: the golden continuation */
    char line[512];
    snprintf(line, sizeof line, "%s\n", golden_prompt);
    type(&s, line);
    at = wait_for(&s, line, at);   /* the terminal's echo */
    size_t end = wait_for(&s, "\n> ", at);
    /* exactly the answer between the echo and the next prompt */
    assert_int_equal(end - 3 - at, strlen(golden_text));
    assert_memory_equal(s.out.p + at, golden_text, strlen(golden_text));
    at = end;
    char answer[4096];
    snprintf(answer, sizeof answer, "%s\n> ", golden_text);

    /* turn 2 continues the same story (the history is kept) */
    type(&s, " The next day,\n");
    at = wait_for(&s, " The next day,\n", at);
    size_t answer_start = at;
    at = wait_for(&s, "\n> ", at);
    assert_true(at - answer_start > 10);   /* a real answer */

    /* Ctrl-C at the prompt: a note and a fresh prompt, the program stays */
    type(&s, "\x03");
    at = wait_for(&s, "/quit", at);
    at = wait_for(&s, "> ", at);

    /* /reset, then the first prompt again gives the golden text again */
    type(&s, "/reset\n");
    at = wait_for(&s, "cleared", at);
    at = wait_for(&s, "> ", at);
    type(&s, line);
    at = wait_for(&s, line, at);
    at = wait_for(&s, answer, at);

    type(&s, "/quit\n");
    assert_int_equal(finish(&s), 0);
}

static void ctrl_c_stops_an_answer_not_the_program(void **state) {
    (void)state;
    /* A model slow enough that the answer is still being written when Ctrl-C arrives:
     * 11M parameters, up to 500 tokens of (random-weight) text. */
    char *argv[] = {(char *)elmt_bin("edgelm-chat"), "-m", (char *)elmt_shared("models/synth-llama-f16.gguf"),
                    "--temp", "0", "-c", "512", "-n", "0", "-t", "1", NULL};
    session s;
    start(&s, argv);
    size_t at = wait_for(&s, "> ", 0);
    type(&s, "Tell me a long story\n");
    at = wait_for(&s, "Tell me a long story\n", at);
    /* the first bytes of the answer: then interrupt it */
    while (s.out.len <= at) read_some(&s, "the answer");
    type(&s, "\x03");
    at = wait_for(&s, "[stopped]", at);
    at = wait_for(&s, "> ", at);

    /* still alive: another turn is answered (it may fill the context; that ends it too) */
    type(&s, "\x03");   /* at the prompt, harmless */
    at = wait_for(&s, "> ", at);
    type(&s, "Again\n");
    at = wait_for(&s, "Again\n", at);
    type(&s, "\x03");   /* stop this one too, whenever it arrives */
    at = wait_for(&s, "> ", at);
    type(&s, "/quit\n");
    assert_int_equal(finish(&s), 0);
}

static void ctrl_d_leaves(void **state) {
    (void)state;
    char *argv[] = {(char *)elmt_bin("edgelm-chat"), "-m", (char *)elmt_shared("models/stories260K.gguf"), NULL};
    session s;
    start(&s, argv);
    wait_for(&s, "> ", 0);
    type(&s, "\x04");   /* EOF at the start of a line */
    assert_int_equal(finish(&s), 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_shot_prints_the_golden_continuation),
        cmocka_unit_test(bad_command_lines_fail_with_a_message),
        cmocka_unit_test(interactive_two_turns_ctrl_c_at_the_prompt_and_quit),
        cmocka_unit_test(ctrl_c_stops_an_answer_not_the_program),
        cmocka_unit_test(ctrl_d_leaves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
