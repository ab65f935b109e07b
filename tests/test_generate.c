/* test_generate.c: the generation loop and chat sessions on the real stories260K model:
 * greedy output equals llama.cpp's golden continuation, streaming is UTF-8 whole and adds up
 * to the text, stop strings are cut exactly and never leak, limits and cancellation give
 * the right finish reasons, and a chat session that reuses its KV cache answers exactly as
 * a fresh evaluation of the whole conversation would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "edgelm.h"
#include "support.h"

/* ==== Golden data ========================================================================== */

typedef struct fixture {
    elm_model *model;
    elm_context *ctx;
    elm_sampler *greedy;
    char *prompt;
    char *golden;        /* greedy_text: 64 tokens after the prompt */
} fixture;

static elm_context *new_context(elm_model *m, int32_t n_ctx, int32_t n_threads) {
    elm_context_params cp = elm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = n_threads;
    elm_context *c = NULL;
    assert_int_equal(elm_context_create(m, &cp, &c), ELM_OK);
    return c;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    char *json = elmt_read_file(elmt_shared("golden/stories260K.json"), NULL);
    if (!json) { fprintf(stderr, "missing golden/stories260K.json\n"); return -1; }
    f->prompt = elmt_json_string(json, "prompt");
    f->golden = elmt_json_string(json, "greedy_text");
    free(json);
    if (!f->prompt || !f->golden) return -1;
    if (elm_model_load(elmt_shared("models/stories260K.gguf"), NULL, &f->model) != ELM_OK) {
        fprintf(stderr, "load: %s\n", elm_last_error());
        return -1;
    }
    elm_context_params cp = elm_context_default_params();
    cp.n_threads = 2;
    if (elm_context_create(f->model, &cp, &f->ctx) != ELM_OK) return -1;
    elm_sampler_params sp = elm_sampler_greedy_params();
    if (elm_sampler_create(elm_vocab_size(elm_model_tokenizer(f->model)), &sp, &f->greedy) != ELM_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    elm_sampler_free(f->greedy);
    elm_context_free(f->ctx);
    elm_model_free(f->model);
    free(f->prompt);
    free(f->golden);
    free(f);
    return 0;
}

/* ==== A collecting callback ================================================================ */

typedef struct collect {
    char text[8192];
    size_t len;
    int pieces;
    int stop_after;      /* return false after this many pieces (0: never) */
    bool bad_utf8;       /* a piece that does not consist of whole UTF-8 characters */
} collect;

static bool whole_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > n) return false;
        for (size_t j = 1; j < k; j++) if ((s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}

static bool on_piece(const char *t, size_t n, void *user) {
    collect *c = user;
    if (!whole_utf8((const unsigned char *)t, n)) c->bad_utf8 = true;
    if (c->len + n < sizeof c->text) {
        memcpy(c->text + c->len, t, n);
        c->len += n;
        c->text[c->len] = '\0';
    }
    c->pieces++;
    return !(c->stop_after && c->pieces >= c->stop_after);
}

static elm_generate_params params_for(collect *c, int32_t max_tokens) {
    memset(c, 0, sizeof *c);
    elm_generate_params p = elm_generate_default_params();
    p.max_tokens = max_tokens;
    p.on_piece = on_piece;
    p.user = c;
    return p;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* ==== elm_generate ========================================================================= */

static void greedy_matches_the_golden_continuation(void **state) {
    fixture *f = *state;
    collect c;
    elm_generate_params p = params_for(&c, 64);
    elm_generate_result r;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_string_equal(c.text, f->golden);
    assert_false(c.bad_utf8);
    assert_int_equal(r.finish, ELM_FINISH_LENGTH);
    assert_int_equal(r.n_generated, 64);
    assert_int_equal(r.n_prompt_tokens, 5);   /* BOS + 4, as llama.cpp tokenizes it */
    assert_int_equal(r.n_cached_tokens, 0);
    assert_int_equal(r.n_text_bytes, strlen(f->golden));
    assert_true(r.last_token >= 0);
    /* the last token was sampled, not decoded: the cache holds prompt + 63 */
    assert_int_equal(elm_context_position(f->ctx), 5 + 63);
    /* timings are real and consistent */
    assert_true(r.prompt_seconds > 0 && r.ttft_seconds >= r.prompt_seconds);
    assert_true(r.total_seconds >= r.ttft_seconds);
    assert_true(r.gen_seconds > 0 && r.gen_tokens_per_second > 0);
    assert_true(r.token_seconds_p50 > 0 && r.token_seconds_p50 <= r.token_seconds_p90);
    assert_true(r.token_seconds_p90 <= r.token_seconds_max);
    assert_true(r.gen_seconds <= r.total_seconds);

    /* again on the same context: elm_generate starts from a clear cache */
    p = params_for(&c, 64);
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_string_equal(c.text, f->golden);
}

static void continuing_with_last_token_completes_the_text(void **state) {
    fixture *f = *state;
    collect a, b;
    elm_generate_params p = params_for(&a, 20);
    elm_generate_result r;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_LENGTH);
    assert_true(starts_with(f->golden, a.text));
    p = params_for(&b, 44);
    elm_token last = r.last_token;
    assert_int_equal(elm_generate_tokens(f->ctx, f->greedy, &last, 1, &p, &r), ELM_OK);
    assert_int_equal(r.n_generated, 44);
    char joined[8192];
    snprintf(joined, sizeof joined, "%s%s", a.text, b.text);
    assert_string_equal(joined, f->golden);
}

static void stop_strings_cut_exactly_and_never_leak(void **state) {
    fixture *f = *state;
    const char *golden = f->golden;
    struct { const char *stops[3]; int n; const char *cut_at; } cases[] = {
        {{"Lily"}, 1, "Lily"},                           /* one token, mid-text */
        {{"girl named"}, 1, "girl named"},               /* spans tokens */
        {{"park.", "little"}, 2, "little"},              /* the earliest match wins */
        {{"She wanted", "ball"}, 2, "ball"},
        {{"said NOT THERE"}, 1, NULL},                   /* a prefix held back at the end, then delivered */
        {{"zzz", "Lily's mom saidX"}, 2, NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        collect c;
        elm_generate_params p = params_for(&c, 64);
        p.stop_strings = cases[k].stops;
        p.n_stop_strings = cases[k].n;
        elm_generate_result r;
        assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
        assert_false(c.bad_utf8);
        if (cases[k].cut_at) {
            const char *at = strstr(golden, cases[k].cut_at);
            assert_non_null(at);
            assert_int_equal(r.finish, ELM_FINISH_STOP_STRING);
            assert_int_equal(c.len, (size_t)(at - golden));
            assert_memory_equal(c.text, golden, c.len);
            assert_int_equal(r.n_text_bytes, c.len);
        } else {
            assert_int_equal(r.finish, ELM_FINISH_LENGTH);
            assert_string_equal(c.text, golden);
        }
    }
    /* bad stop strings are refused */
    collect c;
    elm_generate_params p = params_for(&c, 8);
    const char *empty[1] = {""};
    p.stop_strings = empty;
    p.n_stop_strings = 1;
    elm_generate_result r;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_ERR_INVALID_ARG);
    p.n_stop_strings = ELM_MAX_STOP_STRINGS + 1;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_ERR_INVALID_ARG);
}

static bool stop_now(void *user) {
    (void)user;
    return true;
}

static int polls;
static bool stop_after_polls(void *user) {
    (void)user;
    return ++polls > 11;   /* 1 before the prompt, then one per token */
}

static void cancellation_and_limits(void **state) {
    fixture *f = *state;
    collect c;
    elm_generate_result r;

    /* the callback says stop after 3 pieces */
    elm_generate_params p = params_for(&c, 64);
    c.stop_after = 3;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_CANCELLED);
    assert_int_equal(c.pieces, 3);
    assert_int_equal(r.n_generated, 3);
    assert_true(starts_with(f->golden, c.text));

    /* should_stop before anything: nothing evaluated, nothing generated */
    p = params_for(&c, 64);
    p.should_stop = stop_now;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_CANCELLED);
    assert_int_equal(r.n_generated, 0);
    assert_int_equal(r.n_prompt_tokens, 0);
    assert_int_equal(c.len, 0);

    /* should_stop after 10 tokens */
    p = params_for(&c, 64);
    polls = 0;
    p.should_stop = stop_after_polls;
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_CANCELLED);
    assert_int_equal(r.n_generated, 10);
    assert_true(starts_with(f->golden, c.text));

    /* max_tokens */
    p = params_for(&c, 7);
    assert_int_equal(elm_generate(f->ctx, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_LENGTH);
    assert_int_equal(r.n_generated, 7);
    assert_true(c.len > 0 && starts_with(f->golden, c.text));
}

static void a_full_context_ends_the_answer(void **state) {
    fixture *f = *state;
    elm_context *small = new_context(f->model, 16, 1);
    collect c;
    elm_generate_params p = params_for(&c, 0);   /* no limit */
    elm_generate_result r;
    assert_int_equal(elm_generate(small, f->greedy, f->prompt, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_CONTEXT_FULL);
    /* 5 prompt tokens + 11 decoded answer tokens fill 16; the 12th is sampled, not stored */
    assert_int_equal(r.n_generated, 12);
    assert_int_equal(elm_context_position(small), 16);
    assert_true(starts_with(f->golden, c.text));

    /* a prompt that does not fit at all is an error, and the result is untouched */
    elm_context *tiny = new_context(f->model, 4, 1);
    r.n_generated = 12345;
    p = params_for(&c, 8);
    assert_int_equal(elm_generate(tiny, f->greedy, f->prompt, &p, &r), ELM_ERR_CONTEXT_FULL);
    assert_int_equal(r.n_generated, 12345);
    assert_int_equal(c.len, 0);
    elm_context_free(tiny);
    elm_context_free(small);
}

static void seeded_sampling_is_reproducible_across_threads(void **state) {
    fixture *f = *state;
    char first[8192] = "";
    for (int threads = 1; threads <= 2; threads++) {
        for (int rep = 0; rep < 2; rep++) {
            elm_context *ctx = new_context(f->model, 0, threads);
            elm_sampler_params sp = elm_sampler_default_params();
            sp.seed = 1234;
            elm_sampler *s = NULL;
            assert_int_equal(elm_sampler_create(elm_vocab_size(elm_model_tokenizer(f->model)), &sp, &s), ELM_OK);
            collect c;
            elm_generate_params p = params_for(&c, 60);
            elm_generate_result r;
            assert_int_equal(elm_generate(ctx, s, f->prompt, &p, &r), ELM_OK);
            assert_true(c.len > 0);
            if (!first[0]) snprintf(first, sizeof first, "%s", c.text);
            else assert_string_equal(c.text, first);
            elm_sampler_free(s);
            elm_context_free(ctx);
        }
    }
    /* sampling at 0.8 does not simply give the greedy text */
    assert_string_not_equal(first, f->golden);
}

/* ==== Chat sessions ======================================================================== */

/* The answer a fresh context gives to text (tokenized with BOS and special tokens). */
static void fresh_answer(fixture *f, const char *text, int32_t max_tokens, collect *c) {
    elm_context *ctx = new_context(f->model, 0, 2);
    elm_generate_params p = params_for(c, max_tokens);
    elm_generate_result r;
    assert_int_equal(elm_generate(ctx, f->greedy, text, &p, &r), ELM_OK);
    elm_context_free(ctx);
}

static void raw_session_reuses_the_cache_and_answers_like_a_fresh_run(void **state) {
    fixture *f = *state;
    elm_chat_params cp = elm_chat_default_params();
    cp.template_name = "raw";
    elm_chat *chat = NULL;
    assert_int_equal(elm_chat_create(f->ctx, &cp, &chat), ELM_OK);
    assert_int_equal(elm_chat_get_format(chat), ELM_CHAT_RAW);

    collect c;
    elm_generate_params p = params_for(&c, 64);
    elm_generate_result r;
    assert_int_equal(elm_chat_send(chat, f->prompt, f->greedy, &p, &r), ELM_OK);
    assert_string_equal(c.text, f->golden);   /* plain completion = the golden run */
    assert_int_equal(r.n_cached_tokens, 0);
    assert_int_equal(elm_chat_n_messages(chat), 2);
    assert_string_equal(elm_chat_message_at(chat, 1)->role, "assistant");
    assert_string_equal(elm_chat_message_at(chat, 1)->content, f->golden);

    /* turn 2: most of the conversation is already in the cache */
    const char *more = " The end.";
    p = params_for(&c, 20);
    assert_int_equal(elm_chat_send(chat, more, f->greedy, &p, &r), ELM_OK);
    assert_true(r.n_cached_tokens >= 5);
    assert_true(r.n_prompt_tokens >= 1 && r.n_prompt_tokens < 20);
    char whole[8192];
    snprintf(whole, sizeof whole, "%s%s%s", f->prompt, f->golden, more);
    collect fresh;
    fresh_answer(f, whole, 20, &fresh);
    assert_string_equal(c.text, fresh.text);

    /* reset keeps nothing */
    elm_chat_reset(chat);
    assert_int_equal(elm_chat_n_messages(chat), 0);
    assert_int_equal(elm_context_position(f->ctx), 0);
    p = params_for(&c, 64);
    assert_int_equal(elm_chat_send(chat, f->prompt, f->greedy, &p, &r), ELM_OK);
    assert_string_equal(c.text, f->golden);
    elm_chat_free(chat);
}

/* Relative RMS difference of two logit rows. */
static double rel_rms(const float *a, const float *b, int n) {
    double d = 0.0, r = 0.0;
    for (int i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d / (r > 0 ? r : 1));
}

static void templated_session_matches_fresh_renders(void **state) {
    fixture *f = *state;
    elm_chat_params cp = elm_chat_default_params();
    cp.template_name = "llama2-sys";
    cp.system_prompt = "Tell a story.";
    elm_chat *chat = NULL;
    /* the model was trained at 512 tokens (its file says 128): room for four turns of a
     * template that this 512-token vocabulary spells out letter by letter */
    elm_context *ctx = new_context(f->model, 512, 2);
    elm_context *fresh = new_context(f->model, 512, 2);
    const int n_vocab = elm_vocab_size(elm_model_tokenizer(f->model));
    assert_int_equal(elm_chat_create(ctx, &cp, &chat), ELM_OK);
    /* Turns with 12-token answers, each followed by a probe: a turn answered with one token,
     * after which the context holds the logits of the prompt's last token. Those must be
     * the logits of the same conversation evaluated from scratch: the reused cache, the
     * re-tokenized answers and the truncation are then all right. */
    const char *turns[4] = {"Once upon a time", "Then what?", "And the dog?", "Why?"};
    for (int t = 0; t < 4; t++) {
        const bool probe = t % 2 == 1;
        collect c;
        elm_generate_params p = params_for(&c, probe ? 1 : 12);
        elm_generate_result r;
        assert_int_equal(elm_chat_send(chat, turns[t], f->greedy, &p, &r), ELM_OK);
        assert_int_equal(r.n_generated, probe ? 1 : 12);
        if (t > 0) assert_true(r.n_cached_tokens > 40);   /* earlier turns came from the cache */
        size_t n = elm_chat_n_messages(chat);
        assert_int_equal(n, (size_t)(1 + 2 * (t + 1)));
        assert_string_equal(elm_chat_message_at(chat, n - 1)->content, c.text);
        if (!probe) continue;

        elm_chat_message msgs[16];
        for (size_t i = 0; i + 1 < n; i++) msgs[i] = *elm_chat_message_at(chat, i);
        char text[8192];
        size_t need = 0;
        assert_int_equal(elm_chat_render(ELM_CHAT_LLAMA2_SYS, msgs, n - 1, true, text, sizeof text, &need), ELM_OK);
        assert_true(need < sizeof text);
        elm_token toks[1024];
        int32_t nt = 0;
        assert_int_equal(elm_tokenize(elm_model_tokenizer(f->model), text, need,
                                      ELM_TOKENIZE_ADD_SPECIAL | ELM_TOKENIZE_PARSE_SPECIAL, toks, 1024, &nt), ELM_OK);
        assert_int_equal(nt, r.n_cached_tokens + r.n_prompt_tokens);
        elm_context_clear(fresh);
        assert_int_equal(elm_decode(fresh, toks, nt), ELM_OK);
        assert_int_equal(elm_context_position(ctx), nt);
        const double e = rel_rms(elm_get_logits(ctx), elm_get_logits(fresh), n_vocab);
        if (e > 1e-4) print_error("turn %d: logits differ by %g (relative RMS)\n", t, e);
        assert_true(e <= 1e-4);
    }
    assert_string_equal(elm_chat_message_at(chat, 0)->role, "system");
    elm_chat_free(chat);
    elm_context_free(fresh);
    elm_context_free(ctx);
}

static void context_policies(void **state) {
    fixture *f = *state;
    /* DROP_OLDEST: a 128-token context keeps going by forgetting old turns */
    elm_context *ctx = new_context(f->model, 128, 1);
    elm_chat_params cp = elm_chat_default_params();
    cp.template_name = "llama2-sys";
    cp.system_prompt = "S";
    cp.reserve_tokens = 16;
    elm_chat *chat = NULL;
    assert_int_equal(elm_chat_create(ctx, &cp, &chat), ELM_OK);
    size_t max_msgs = 0;
    for (int t = 0; t < 8; t++) {
        collect c;
        elm_generate_params p = params_for(&c, 10);
        elm_generate_result r;
        assert_int_equal(elm_chat_send(chat, "Hi.", f->greedy, &p, &r), ELM_OK);
        assert_string_equal(elm_chat_message_at(chat, 0)->content, "S");
        assert_true(elm_context_position(ctx) <= 128);
        if (elm_chat_n_messages(chat) > max_msgs) max_msgs = elm_chat_n_messages(chat);
    }
    assert_true(elm_chat_n_messages(chat) < 1 + 2 * 8);   /* turns were dropped */
    assert_true(max_msgs >= 5);
    elm_chat_free(chat);

    /* ERROR: the send that does not fit fails and leaves the session as it was */
    cp.context_policy = ELM_CHAT_CONTEXT_ERROR;
    assert_int_equal(elm_chat_create(ctx, &cp, &chat), ELM_OK);
    elm_status st = ELM_OK;
    int sent = 0;
    while (st == ELM_OK && sent < 20) {
        collect c;
        elm_generate_params p = params_for(&c, 10);
        elm_generate_result r;
        size_t before = elm_chat_n_messages(chat);
        st = elm_chat_send(chat, "Hi.", f->greedy, &p, &r);
        if (st == ELM_OK) {
            sent++;
            assert_int_equal(elm_chat_n_messages(chat), before + 2);
        } else {
            assert_int_equal(st, ELM_ERR_CONTEXT_FULL);
            assert_int_equal(elm_chat_n_messages(chat), before);
            assert_non_null(strstr(elm_chat_last_error(chat), "tokens"));
        }
    }
    assert_int_equal(st, ELM_ERR_CONTEXT_FULL);
    assert_true(sent >= 1);
    elm_chat_free(chat);
    elm_context_free(ctx);
}

static void cancelled_answers_are_kept_partial(void **state) {
    fixture *f = *state;
    elm_chat_params cp = elm_chat_default_params();
    cp.template_name = "raw";
    elm_chat *chat = NULL;
    assert_int_equal(elm_chat_create(f->ctx, &cp, &chat), ELM_OK);
    collect c;
    elm_generate_params p = params_for(&c, 64);
    c.stop_after = 4;
    elm_generate_result r;
    assert_int_equal(elm_chat_send(chat, f->prompt, f->greedy, &p, &r), ELM_OK);
    assert_int_equal(r.finish, ELM_FINISH_CANCELLED);
    assert_string_equal(elm_chat_message_at(chat, 1)->content, c.text);
    assert_true(starts_with(f->golden, c.text));

    /* messages added by hand take part in the next turn */
    assert_int_equal(elm_chat_add_message(chat, "user", " Then"), ELM_OK);
    assert_int_equal(elm_chat_n_messages(chat), 3);
    assert_int_equal(elm_chat_add_message(chat, NULL, "x"), ELM_ERR_INVALID_ARG);
    elm_chat_free(chat);

    /* a model without a template and no name: not found, never a guess */
    chat = NULL;
    assert_int_equal(elm_chat_create(f->ctx, NULL, &chat), ELM_ERR_NOT_FOUND);
    assert_null(chat);
    cp.template_name = "no-such-template";
    assert_int_equal(elm_chat_create(f->ctx, &cp, &chat), ELM_ERR_NOT_FOUND);
    assert_null(chat);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(greedy_matches_the_golden_continuation),
        cmocka_unit_test(continuing_with_last_token_completes_the_text),
        cmocka_unit_test(stop_strings_cut_exactly_and_never_leak),
        cmocka_unit_test(cancellation_and_limits),
        cmocka_unit_test(a_full_context_ends_the_answer),
        cmocka_unit_test(seeded_sampling_is_reproducible_across_threads),
        cmocka_unit_test(raw_session_reuses_the_cache_and_answers_like_a_fresh_run),
        cmocka_unit_test(templated_session_matches_fresh_renders),
        cmocka_unit_test(context_policies),
        cmocka_unit_test(cancelled_answers_are_kept_partial),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
