/* test_tokenizer.c: tokenizers against llama.cpp's test vectors and golden prompts, the
 * pre-tokenizer splits against splits derived by hand from their regular expressions,
 * round trips, invalid UTF-8, special tokens, the streaming detokenizer and the
 * edgelm-tokenize tool.
 *
 * The truth is always outside the code under test: the .out files of ../shared/vocab (made
 * by the models' own Hugging Face tokenizers), ../shared/golden (llama.cpp), splits worked
 * out by hand, or the input text itself (round trips).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "edgelm.h"
#include "pretokenize.h"
#include "unicode.h"
#include "support.h"

/* ==== Helpers ============================================================================== */

static const char *const vocab_names[] = {
    "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm", "mpt", "phi-3", "refact", "starcoder",
};
#define N_VOCABS (sizeof vocab_names / sizeof vocab_names[0])

typedef struct vocab {
    elm_gguf *g;
    elm_tokenizer *t;
} vocab;

static vocab open_vocab_path(const char *path) {
    vocab v = {0};
    elm_status st = elm_gguf_open(path, NULL, &v.g);
    if (st != ELM_OK) fail_msg("cannot open %s: %s", path, elm_last_error());
    st = elm_tokenizer_create(v.g, &v.t);
    if (st != ELM_OK) fail_msg("cannot build the tokenizer of %s: %s", path, elm_last_error());
    return v;
}

static vocab open_vocab(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", name);
    return open_vocab_path(elmt_shared(rel));
}

static void close_vocab(vocab *v) {
    elm_tokenizer_free(v->t);
    elm_gguf_close(v->g);
}

/* Tokenize with the two-call protocol; returns a malloc'ed array (never NULL). */
static elm_token *tok(const elm_tokenizer *t, const char *s, size_t len, uint32_t flags, int32_t *n) {
    int32_t need = -1;
    elm_status st = elm_tokenize(t, s, len, flags, NULL, 0, &need);
    if (st == ELM_OK) {
        assert_int_equal(need, 0);
    } else {
        assert_int_equal(st, ELM_ERR_INVALID_ARG);
        assert_true(need > 0);
    }
    elm_token *ids = malloc((size_t)(need > 0 ? need : 1) * sizeof *ids);
    assert_non_null(ids);
    int32_t got = -1;
    st = elm_tokenize(t, s, len, flags, ids, need, &got);
    if (st != ELM_OK) fail_msg("elm_tokenize: %s", elm_last_error());
    assert_int_equal(got, need);
    *n = got;
    return ids;
}

static char *detok(const elm_tokenizer *t, const elm_token *ids, int32_t n, bool render, size_t *len) {
    size_t need = 0;
    elm_status st = elm_detokenize(t, ids, n, render, NULL, 0, &need);
    assert_true(st == ELM_OK || st == ELM_ERR_INVALID_ARG);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    size_t got = 0;
    st = elm_detokenize(t, ids, n, render, buf, need + 1, &got);
    if (st != ELM_OK) fail_msg("elm_detokenize: %s", elm_last_error());
    assert_int_equal(got, need);
    assert_int_equal(buf[got], '\0');
    *len = got;
    return buf;
}

/* Strict UTF-8 (RFC 3629), written independently of lib/unicode.c. */
static bool utf8_valid(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { k = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { k = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { k = 4; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (i + k > n) return false;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k;
    }
    return true;
}

/* Stream tokens one at a time; every chunk must be valid UTF-8. Returns the text. */
static char *stream(const elm_tokenizer *t, const elm_token *ids, int32_t n, bool render, size_t *len) {
    elm_detok_stream s;
    elm_detok_stream_init(&s, t, render);
    size_t cap = 64, used = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (int32_t i = 0; i <= n; i++) {
        char chunk[1024];
        size_t k = 0;
        elm_status st = i < n ? elm_detok_stream_push(&s, ids[i], chunk, sizeof chunk, &k)
                              : elm_detok_stream_flush(&s, chunk, sizeof chunk, &k);
        if (st != ELM_OK) fail_msg("stream: %s", elm_last_error());
        if (!utf8_valid((const unsigned char *)chunk, k)) fail_msg("stream chunk %d is not valid UTF-8", i);
        while (used + k + 1 > cap) { cap *= 2; out = realloc(out, cap); assert_non_null(out); }
        memcpy(out + used, chunk, k);
        used += k;
    }
    out[used] = '\0';
    *len = used;
    return out;
}

/* The test strings of a vocab's .inp file (each followed by "\n__ggml_vocab_test__\n"). */
typedef struct cases {
    char *inp, *out;
    const char *text[128];
    size_t len[128];
    char *expect[128];       /* lines of .out */
    int n;
} cases;

static void load_cases(const char *name, cases *c) {
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.inp", name);
    size_t n_inp, n_out;
    c->inp = elmt_read_file(elmt_shared(rel), &n_inp);
    if (!c->inp) fail_msg("missing %s", elmt_shared(rel));
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.out", name);
    c->out = elmt_read_file(elmt_shared(rel), &n_out);
    if (!c->out) fail_msg("missing %s", elmt_shared(rel));
    static const char sep[] = "\n__ggml_vocab_test__\n";
    c->n = 0;
    for (char *p = c->inp; p < c->inp + n_inp;) {
        char *e = strstr(p, sep);
        assert_non_null(e);
        assert_true(c->n < 128);
        c->text[c->n] = p;
        c->len[c->n] = (size_t)(e - p);
        c->n++;
        p = e + sizeof sep - 1;
    }
    int lines = 0;
    for (char *p = c->out; *p && lines < 128;) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        c->expect[lines++] = p;
        if (!e) break;
        p = e + 1;
    }
    assert_true(lines >= c->n);
}

static void free_cases(cases *c) {
    free(c->inp);
    free(c->out);
}

/* Parse "1 2 3" (any spacing) into ids; returns the count. */
static int parse_ids(const char *s, elm_token *ids, int cap) {
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
        if (!*s) break;
        char *e;
        long v = strtol(s, &e, 10);
        assert_true(e != s);
        assert_true(n < cap);
        ids[n++] = (elm_token)v;
        s = e;
    }
    return n;
}

/* ==== llama.cpp's test vectors ============================================================= */

static void vocab_test_vectors(void **state) {
    (void)state;
    int total = 0, passed = 0;
    for (size_t v = 0; v < N_VOCABS; v++) {
        vocab vb = open_vocab(vocab_names[v]);
        cases c;
        load_cases(vocab_names[v], &c);
        int ok = 0;
        for (int i = 0; i < c.n; i++) {
            elm_token expect[4096];
            int ne = parse_ids(c.expect[i], expect, 4096);
            int32_t n;
            elm_token *ids = tok(vb.t, c.text[i], c.len[i], 0, &n);
            bool same = n == ne && (n == 0 || memcmp(ids, expect, (size_t)n * sizeof *ids) == 0);
            if (!same) {
                printf("  %s case %d ('%.*s'): expected %d tokens, got %d\n", vocab_names[v], i,
                       (int)(c.len[i] > 40 ? 40 : c.len[i]), c.text[i], ne, n);
            }
            ok += same;
            free(ids);
        }
        printf("  vocab %-15s %d/%d\n", vocab_names[v], ok, c.n);
        total += c.n;
        passed += ok;
        free_cases(&c);
        close_vocab(&vb);
    }
    printf("  all vocabs: %d/%d\n", passed, total);
    assert_int_equal(passed, total);
    assert_int_equal(total, 9 * 46);
}

/* ==== Golden prompts (llama.cpp b4748 on ../shared/models) ================================= */

/* A minimal JSON reader for the golden files: the value of "key" at top level. */
static const char *json_find(const char *js, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(js, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == '\n') p++;
    return p;
}

static void put_utf8(char **o, uint32_t cp) {
    char *w = *o;
    if (cp < 0x80) *w++ = (char)cp;
    else if (cp < 0x800) { *w++ = (char)(0xC0 | cp >> 6); *w++ = (char)(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | cp >> 12); *w++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | cp >> 18); *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F)); *w++ = (char)(0x80 | (cp & 0x3F));
    }
    *o = w;
}

/* Decode the JSON string at p (which points at its opening quote) into a malloc'ed buffer. */
static char *json_string(const char *p, size_t *len) {
    assert_int_equal(*p, '"');
    p++;
    char *out = malloc(strlen(p) * 2 + 1), *w = out;
    assert_non_null(out);
    while (*p && *p != '"') {
        if (*p != '\\') { *w++ = *p++; continue; }
        p++;
        switch (*p) {
        case 'n': *w++ = '\n'; p++; break;
        case 't': *w++ = '\t'; p++; break;
        case 'r': *w++ = '\r'; p++; break;
        case 'b': *w++ = '\b'; p++; break;
        case 'f': *w++ = '\f'; p++; break;
        case 'u': {
            uint32_t cp = (uint32_t)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 5;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                uint32_t lo = (uint32_t)strtoul((char[5]){p[2], p[3], p[4], p[5], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            put_utf8(&w, cp);
            break;
        }
        default: *w++ = *p++; break;
        }
    }
    *w = '\0';
    *len = (size_t)(w - out);
    return out;
}

static int json_ints(const char *p, elm_token *ids, int cap) {
    assert_int_equal(*p, '[');
    const char *e = strchr(p, ']');
    assert_non_null(e);
    char *tmp = strndup(p + 1, (size_t)(e - p - 1));
    for (char *q = tmp; *q; q++) if (*q == ',') *q = ' ';
    int n = parse_ids(tmp, ids, cap);
    free(tmp);
    return n;
}

static const char *const golden_files[] = {
    "stories260K", "stories260K-f16", "stories260K-bf16", "synth-llama-f16", "synth-llama-f16.long",
    "synth-llama-q2_k", "synth-llama-q3_k_m", "synth-llama-q4_0", "synth-llama-q4_0.long", "synth-llama-q4_1",
    "synth-llama-q4_k_m", "synth-llama-q4_k_m.long", "synth-llama-q5_0", "synth-llama-q5_1", "synth-llama-q5_k_m",
    "synth-llama-q6_k", "synth-llama-q8_0", "synth-qwen2-q4_k_m", "synth-qwen2-q8_0", "synth-qwen2-q8_0.long",
};

static void golden_prompts(void **state) {
    (void)state;
    int checked = 0;
    for (size_t f = 0; f < sizeof golden_files / sizeof golden_files[0]; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "golden/%s.json", golden_files[f]);
        char *js = elmt_read_file(elmt_shared(rel), NULL);
        if (!js) fail_msg("missing %s", elmt_shared(rel));
        size_t model_len, prompt_len, text_len;
        char *model = json_string(json_find(js, "model"), &model_len);
        char *prompt = json_string(json_find(js, "prompt"), &prompt_len);
        bool add_bos = strncmp(json_find(js, "add_bos"), "true", 4) == 0;
        elm_token expect[1024], greedy[1024];
        int ne = json_ints(json_find(js, "prompt_tokens"), expect, 1024);
        int ng = json_ints(json_find(js, "greedy_tokens"), greedy, 1024);
        char *greedy_text = json_string(json_find(js, "greedy_text"), &text_len);

        snprintf(rel, sizeof rel, "models/%s", model);
        vocab v = open_vocab_path(elmt_shared(rel));
        int32_t n;
        elm_token *ids = tok(v.t, prompt, prompt_len, add_bos ? ELM_TOKENIZE_ADD_SPECIAL : 0, &n);
        assert_int_equal(n, ne);
        assert_memory_equal(ids, expect, (size_t)n * sizeof *ids);
        free(ids);

        /* the continuation's text is its tokens' pieces, one after the other */
        char *text = malloc(text_len + 4096), *w = text;
        for (int i = 0; i < ng; i++) {
            size_t k;
            assert_int_equal(elm_token_to_piece(v.t, greedy[i], false, w, 256, &k), ELM_OK);
            w += k;
        }
        assert_int_equal((size_t)(w - text), text_len);
        assert_memory_equal(text, greedy_text, text_len);
        free(text);

        close_vocab(&v);
        free(model);
        free(prompt);
        free(greedy_text);
        free(js);
        checked++;
    }
    printf("  golden prompts and continuations: %d files\n", checked);
}

/* ==== Pre-tokenizer splits, derived by hand from the regular expressions ==================== */

/* Decode UTF-8 and split with pre-tokenizer `type`; compare with the expected pieces,
 * given as one string with pieces separated by '|'. */
static void check_split(elmi_pre_type type, const char *text, const char *expect) {
    size_t len = strlen(text);
    uint32_t cp[512];
    uint16_t fl[512];
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k;
        cp[n] = elmi_utf8_decode((const unsigned char *)text + i, len - i, &k);
        fl[n] = elmi_unicode_flags(cp[n]);
        n++;
        i += k;
    }
    uint32_t a[512], b[512];
    size_t np;
    const uint32_t *piece = elmi_pretokenize(type, cp, fl, n, a, b, &np);
    /* render the pieces back as "p1|p2|..." */
    char got[2048], *w = got;
    size_t at = 0;
    for (size_t i = 0; i < np; i++) {
        if (i) *w++ = '|';
        for (size_t j = at; j < at + piece[i]; j++) put_utf8(&w, cp[j]);
        at += piece[i];
    }
    *w = '\0';
    if (strcmp(got, expect) != 0) fail_msg("split %d of '%s':\n  expected '%s'\n  got      '%s'", type, text, expect, got);
}

static void split_llama3(void **state) {
    (void)state;
    /* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    check_split(ELMI_PRE_LLAMA3, "Hello world", "Hello| world");
    check_split(ELMI_PRE_LLAMA3, "I'm HERE'S don't", "I|'m| HERE|'S| don|'t");
    check_split(ELMI_PRE_LLAMA3, "we'LL 'sun", "we|'LL| '|sun");
    check_split(ELMI_PRE_LLAMA3, "12345", "123|45");
    check_split(ELMI_PRE_LLAMA3, "1234567", "123|456|7");
    check_split(ELMI_PRE_LLAMA3, "a  b", "a| | b");
    check_split(ELMI_PRE_LLAMA3, "ab   12", "ab|  | |12");
    check_split(ELMI_PRE_LLAMA3, "x \n\n y", "x| \n\n| y");
    check_split(ELMI_PRE_LLAMA3, "hi!!\n\nthere", "hi|!!\n\n|there");
    check_split(ELMI_PRE_LLAMA3, "end  \t", "end|  \t");
    check_split(ELMI_PRE_LLAMA3, "\r\nfoo", "\r\n|foo");
    check_split(ELMI_PRE_LLAMA3, "$hello .5", "$hello| .|5");
    check_split(ELMI_PRE_LLAMA3, "\xe2\x82\xac" "100", "\xe2\x82\xac|100");                   /* €100 */
    check_split(ELMI_PRE_LLAMA3, "\xd0\x9f\xd1\x80\xd0\xb8, \xd0\xbc\xd0\xb8\xd1\x80",        /* При, мир */
                "\xd0\x9f\xd1\x80\xd0\xb8|,| \xd0\xbc\xd0\xb8\xd1\x80");
    check_split(ELMI_PRE_LLAMA3, "\xe4\xbd\xa0\xe5\xa5\xbd world", "\xe4\xbd\xa0\xe5\xa5\xbd| world"); /* 你好 */
    check_split(ELMI_PRE_LLAMA3, "a\xe3\x80\x80" "b", "a|\xe3\x80\x80" "b");           /* U+3000 then b */
    check_split(ELMI_PRE_LLAMA3, "x \n", "x| \n");
    check_split(ELMI_PRE_LLAMA3, "x ", "x| ");
    check_split(ELMI_PRE_LLAMA3, "((x))\n", "((|x|))\n");
}

static void split_qwen2(void **state) {
    (void)state;
    /* the Llama 3 expression with \p{N} in place of \p{N}{1,3} */
    check_split(ELMI_PRE_QWEN2, "Hello world", "Hello| world");
    check_split(ELMI_PRE_QWEN2, "12345", "1|2|3|4|5");
    check_split(ELMI_PRE_QWEN2, "I'M x1y", "I|'M| x|1|y");
    check_split(ELMI_PRE_QWEN2, "ab   12", "ab|  | |1|2");
    check_split(ELMI_PRE_QWEN2, "x \n\n y", "x| \n\n| y");
    check_split(ELMI_PRE_QWEN2, "hi!!\n\nthere", "hi|!!\n\n|there");
    check_split(ELMI_PRE_QWEN2, "<|im_start|>user", "<||im|_start||>|user");
}

static void split_gpt2_and_others(void **state) {
    (void)state;
    /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    check_split(ELMI_PRE_GPT2, "Hello world", "Hello| world");
    check_split(ELMI_PRE_GPT2, "I'm HERE'S", "I|'m| HERE|'|S");
    check_split(ELMI_PRE_GPT2, "12345 678", "12345| 678");
    check_split(ELMI_PRE_GPT2, "a  b", "a| | b");
    check_split(ELMI_PRE_GPT2, "x \n\n y", "x| \n\n| y");
    check_split(ELMI_PRE_GPT2, "hi!!\n\nthere", "hi|!!|\n|\n|there");   /* \s+(?!\S), then \s+ */
    check_split(ELMI_PRE_GPT2, "end   ", "end|   ");
    /* starcoder: \p{N} first, then GPT-2 */
    check_split(ELMI_PRE_STARCODER, "x 123", "x| |1|2|3");
    /* default: [\p{P}\$\+<=>\^~\|]+ , GPT-2, \p{N}+ , [0-9][0-9][0-9] */
    check_split(ELMI_PRE_DEFAULT, "a+=b 12345", "a|+=|b| |123|45");
    /* falcon: [\p{P}\$\+<=>\^~\|`]+ , GPT-2, [0-9][0-9][0-9] */
    check_split(ELMI_PRE_FALCON, "x 12345", "x| |123|45");
    check_split(ELMI_PRE_FALCON, "``a", "``|a");
    /* deepseek-coder: [\r\n], \s?\p{L}+, \s?\p{P}+, [CJK]+, \p{N} */
    check_split(ELMI_PRE_DEEPSEEK_CODER, "abc 123\nx", "abc| |1|2|3|\n|x");
    check_split(ELMI_PRE_DEEPSEEK_CODER, "a, b!", "a|,| b|!");
    /* deepseek-llm: [\r\n], \s?[cased letters]+, \s?[ASCII/fullwidth punctuation]+, \s+$,
     * [CJK]+, \p{N}+ */
    check_split(ELMI_PRE_DEEPSEEK_LLM, "Hi there  ", "Hi| there|  ");
    check_split(ELMI_PRE_DEEPSEEK_LLM, "x 42", "x| |42");
    check_split(ELMI_PRE_DEEPSEEK_LLM, "\xe4\xbd\xa0\xe5\xa5\xbd" "ab", "\xe4\xbd\xa0\xe5\xa5\xbd|ab");
    /* poro: ' ?[^(\s|.,!?…。，、।۔،)]+' */
    check_split(ELMI_PRE_PORO, "hi there, you(x)", "hi| there|,| you|(|x|)");
}

/* ==== Hand-made Llama 3 and Qwen2 vocabularies, end to end ================================= */

/* GPT-2's printable image of a byte, computed here independently. */
static uint32_t gpt2_cp(int b) {
    bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (keep) return (uint32_t)b;
    int n = 0;
    for (int i = 0; i < b; i++) {
        bool k = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF);
        n += !k;
    }
    return 256u + (uint32_t)n;
}

/* "Ġworld" style: each byte of s as its GPT-2 character. */
static void gpt2_encode(const char *s, char *out) {
    char *w = out;
    for (; *s; s++) put_utf8(&w, gpt2_cp((unsigned char)*s));
    *w = '\0';
}

static const char *make_bpe_vocab(const char *dir, const char *pre) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/vocab-%s.gguf", dir, pre);
    /* merges building "Hello", " world", "'s", "123", "45", "!!\n", plus merges that would
     * join neighbouring pieces if the split let them meet */
    static const char *const merges[][2] = {
        {"H", "e"}, {"He", "l"}, {"Hel", "l"}, {"Hell", "o"},
        {" ", "w"}, {" w", "o"}, {" wo", "r"}, {" wor", "l"}, {" worl", "d"},
        {"'", "s"}, {"1", "2"}, {"12", "3"}, {"4", "5"}, {"!", "!"}, {"!!", "\n"},
        {"Hello", " world"}, {" world", "'s"}, {"'s", " "}, {" ", "123"}, {"123", "45"}, {"3", "4"},
        {"45", "!!\n"},
    };
    size_t nm = sizeof merges / sizeof merges[0];
    static const char *const extra[] = {" xyz", "<|begin_of_text|>", "<|eot_id|>", "<|im_end|>"};
    enum { N_EXTRA = 4 };
    size_t n_tok = 256 + nm + N_EXTRA;
    elm_gguf_string *toks = calloc(n_tok, sizeof *toks), *mstr = calloc(nm, sizeof *mstr);
    int32_t *types = calloc(n_tok, sizeof *types);
    char (*buf)[160] = calloc(n_tok + nm, sizeof *buf);
    assert_true(toks && mstr && types && buf);
    for (int b = 0; b < 256; b++) {
        char *w = buf[b];
        put_utf8(&w, gpt2_cp(b));
        *w = '\0';
        toks[b] = (elm_gguf_string){buf[b], strlen(buf[b])};
        types[b] = 1;
    }
    for (size_t i = 0; i < nm; i++) {
        char l[64], r[64], cat[128];
        gpt2_encode(merges[i][0], l);
        gpt2_encode(merges[i][1], r);
        snprintf(cat, sizeof cat, "%s%s", merges[i][0], merges[i][1]);
        gpt2_encode(cat, buf[256 + i]);
        toks[256 + i] = (elm_gguf_string){buf[256 + i], strlen(buf[256 + i])};
        types[256 + i] = 1;
        snprintf(buf[n_tok + i], sizeof buf[0], "%s %s", l, r);
        mstr[i] = (elm_gguf_string){buf[n_tok + i], strlen(buf[n_tok + i])};
    }
    for (int i = 0; i < N_EXTRA; i++) {
        size_t k = 256 + nm + (size_t)i;
        if (i == 0) gpt2_encode(extra[0], buf[k]);
        else snprintf(buf[k], sizeof buf[0], "%s", extra[i]);
        toks[k] = (elm_gguf_string){buf[k], strlen(buf[k])};
        types[k] = i == 0 ? 1 : 3;
    }
    elm_gguf_writer *w;
    assert_int_equal(elm_gguf_writer_create(&w), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_string(w, "general.architecture", "llama", 5), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_string(w, "tokenizer.ggml.model", "gpt2", 4), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_string(w, "tokenizer.ggml.pre", pre, strlen(pre)), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_array_string(w, "tokenizer.ggml.tokens", toks, n_tok), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_array(w, "tokenizer.ggml.token_type", ELM_GGUF_INT32, types, n_tok), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_array_string(w, "tokenizer.ggml.merges", mstr, nm), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)(256 + nm + 1)), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)(256 + nm + 1)), ELM_OK);
    assert_int_equal(elm_gguf_writer_write(w, path), ELM_OK);
    elm_gguf_writer_free(w);
    free(toks);
    free(mstr);
    free(types);
    free(buf);
    return path;
}

/* Ids of the expected pieces, looked up by their GPT-2 text. */
static int expect_ids(const elm_tokenizer *t, const char *const *pieces, elm_token *ids) {
    int n = 0;
    for (; *pieces; pieces++) {
        char enc[128];
        gpt2_encode(*pieces, enc);
        elm_token id = -1;
        for (int32_t i = 0; i < elm_vocab_size(t); i++)
            if (strcmp(elm_token_text(t, i), enc) == 0) { id = i; break; }
        if (id < 0) fail_msg("no token '%s'", *pieces);
        ids[n++] = id;
    }
    return n;
}

static void handmade_llama3_qwen2(void **state) {
    (void)state;
    const char *dir = elmt_tmpdir();
    assert_non_null(dir);
    static const char text[] = "Hello world's 12345!!\n";
    static const char *const llama3[] = {"Hello", " world", "'s", " ", "123", "45", "!!\n", NULL};
    static const char *const qwen2[] = {"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", "!!\n", NULL};
    static const char *const xyz_whole[] = {" xyz", NULL};
    static const char *const xyz_bytes[] = {" ", "x", "y", "z", NULL};
    for (int k = 0; k < 2; k++) {
        vocab v = open_vocab_path(make_bpe_vocab(dir, k == 0 ? "llama-bpe" : "qwen2"));
        elm_token expect[32];
        int ne = expect_ids(v.t, k == 0 ? llama3 : qwen2, expect);
        int32_t n;
        elm_token *ids = tok(v.t, text, strlen(text), 0, &n);
        assert_int_equal(n, ne);
        assert_memory_equal(ids, expect, (size_t)n * sizeof *ids);
        free(ids);
        /* Llama 3 ignores merges for a piece that is itself a token; Qwen2 does not */
        ne = expect_ids(v.t, k == 0 ? xyz_whole : xyz_bytes, expect);
        ids = tok(v.t, " xyz", 4, 0, &n);
        assert_int_equal(n, ne);
        assert_memory_equal(ids, expect, (size_t)n * sizeof *ids);
        free(ids);
        /* Llama 3 adds BOS by default, Qwen2 does not */
        ids = tok(v.t, "Hello", 5, ELM_TOKENIZE_ADD_SPECIAL, &n);
        assert_int_equal(elm_tokenizer_adds_bos(v.t), k == 0);
        assert_int_equal(n, k == 0 ? 2 : 1);
        if (k == 0) assert_int_equal(ids[0], elm_token_bos(v.t));
        free(ids);
        /* end of turn found by its text; both are end-of-generation tokens */
        assert_string_equal(elm_token_text(v.t, elm_token_eot(v.t)), "<|eot_id|>");
        for (int32_t i = 0; i < elm_vocab_size(v.t); i++) {
            const char *s = elm_token_text(v.t, i);
            bool eog = !strcmp(s, "<|eot_id|>") || !strcmp(s, "<|im_end|>") || i == elm_token_eos(v.t);
            assert_int_equal(elm_token_is_eog(v.t, i), eog);
        }
        assert_string_equal(elm_tokenizer_pre_name(v.t), k == 0 ? "llama-bpe" : "qwen2");
        /* round trip, control tokens parsed and rendered */
        static const char chat[] = "<|begin_of_text|>Hello world<|eot_id|>";
        ids = tok(v.t, chat, strlen(chat), ELM_TOKENIZE_PARSE_SPECIAL, &n);
        assert_int_equal(ids[0], elm_token_bos(v.t));
        assert_int_equal(ids[n - 1], elm_token_eot(v.t));
        size_t len;
        char *back = detok(v.t, ids, n, true, &len);
        assert_string_equal(back, chat);
        free(back);
        back = detok(v.t, ids, n, false, &len);
        assert_string_equal(back, "Hello world");
        free(back);
        free(ids);
        close_vocab(&v);
    }
}

/* ==== Round trips =========================================================================== */

/* Texts that llama.cpp's clean-up of detokenized text (gpt-2, mpt, starcoder, falcon and
 * refact vocabularies) changes: a space before ? ! . , or an apostrophe form. */
static bool cleanup_applies(const char *s, size_t n) {
    for (size_t i = 1; i < n; i++) {
        if (s[i - 1] != ' ') continue;
        if (s[i] == '?' || s[i] == '!' || s[i] == '.' || s[i] == ',' || s[i] == '\'') return true;
    }
    return false;
}

static void round_trips(void **state) {
    (void)state;
    for (size_t v = 0; v < N_VOCABS; v++) {
        vocab vb = open_vocab(vocab_names[v]);
        cases c;
        load_cases(vocab_names[v], &c);
        bool spm = !strcmp(elm_tokenizer_model_name(vb.t), "llama");
        bool cleans = !spm && strncmp(vocab_names[v], "deepseek", 8) != 0;
        int strict = 0;
        for (int i = 0; i < c.n; i++) {
            if (!utf8_valid((const unsigned char *)c.text[i], c.len[i])) continue;
            for (int special = 0; special < 2; special++) {
                int32_t n;
                elm_token *ids = tok(vb.t, c.text[i], c.len[i], special ? ELM_TOKENIZE_ADD_SPECIAL : 0, &n);
                size_t len;
                /* the stream gives the text back exactly for every vocabulary */
                char *s = stream(vb.t, ids, n, false, &len);
                if (len != c.len[i] || memcmp(s, c.text[i], len) != 0)
                    fail_msg("%s: stream round trip of case %d '%s' gave '%s'", vocab_names[v], i, c.text[i], s);
                free(s);
                /* elm_detokenize too, unless the vocabulary's clean-up applies */
                if (!cleans || !cleanup_applies(c.text[i], c.len[i])) {
                    s = detok(vb.t, ids, n, false, &len);
                    if (len != c.len[i] || memcmp(s, c.text[i], len) != 0)
                        fail_msg("%s: round trip of case %d '%s' gave '%s'", vocab_names[v], i, c.text[i], s);
                    free(s);
                    strict += special;
                }
                free(ids);
            }
        }
        assert_true(strict > 30);
        free_cases(&c);
        close_vocab(&vb);
    }
}

static void cleanup_of_spaces(void **state) {
    (void)state;
    /* llama.cpp's rules: " ." " ," " !" " ?" lose the space, " ' " becomes "'", " 's"
     * " 'm" " 're" " 've" lose the space, " 't" " 'd" " 'll" keep it */
    vocab v = open_vocab("gpt-2");
    static const struct { const char *in, *out; } cases[] = {
        {"Hello , world !", "Hello, world!"},
        {"it 's ok", "it's ok"},
        {"we 're here and they 've gone", "we're here and they've gone"},
        {"don 't", "don 't"},
        {"a ' b", "a'b"},
        {"I 'll go", "I 'll go"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t n;
        elm_token *ids = tok(v.t, cases[i].in, strlen(cases[i].in), 0, &n);
        size_t len;
        char *s = detok(v.t, ids, n, false, &len);
        assert_string_equal(s, cases[i].out);
        /* a buffer just big enough for the cleaned text is enough */
        char small[64];
        size_t got;
        assert_int_equal(elm_detokenize(v.t, ids, n, false, small, len, &got), ELM_OK);
        assert_int_equal(got, len);
        assert_memory_equal(small, cases[i].out, len);
        free(s);
        free(ids);
    }
    close_vocab(&v);
}

/* ==== Invalid UTF-8 ========================================================================= */

/* What SentencePiece gives back for any bytes: the text is cut into symbols by the length
 * its lead bytes announce (llama.cpp does not validate), so an invalid lead byte can take
 * the bytes of the "▁" that stands for a following space into its symbol; such a symbol
 * is emitted as byte tokens and comes back with the "▁" bytes instead of the space. */
static size_t spm_expected(const unsigned char *s, size_t n, char *out) {
    unsigned char norm[64 * 3 + 3];
    size_t nn = 0;
    memcpy(norm, "\xe2\x96\x81", 3);
    nn = 3;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') { memcpy(norm + nn, "\xe2\x96\x81", 3); nn += 3; }
        else norm[nn++] = s[i];
    }
    size_t w = 0;
    for (size_t i = 0; i < nn;) {
        unsigned c = norm[i];
        size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (k > nn - i) k = nn - i;
        if (k == 3 && !memcmp(norm + i, "\xe2\x96\x81", 3)) {
            if (i > 0) out[w++] = ' ';        /* the dummy prefix is not given back */
        } else {
            memcpy(out + w, norm + i, k);
            w += k;
        }
        i += k;
    }
    return w;
}

/* llama.cpp's lenient reading of UTF-8, re-encoded: what byte-level BPE sees. Overlong
 * forms and surrogates keep their value; bytes that start nothing valid become U+FFFD. */
static size_t lenient_utf8(const unsigned char *s, size_t n, char *out) {
    char *w = out;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        uint32_t cp = k == 1 ? c : k == 2 ? (c & 0x1F) : k == 3 ? (c & 0x0F) : (c & 0x07);
        bool ok = k > 0 && i + k <= n && !(c >= 0x80 && c < 0xC0);
        for (size_t j = 1; ok && j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) ok = false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (ok && cp > 0x10FFFF) ok = false;
        if (!ok) { cp = 0xFFFD; k = 1; }
        put_utf8(&w, cp);
        i += k;
    }
    return (size_t)(w - out);
}

static void invalid_utf8(void **state) {
    (void)state;
    static const char *const bad[] = {
        "\xe2\x82", "abc\xe2", "\xe2\x82z", "\xc0\x80", "x\xe0\x80\x80y", "\xed\xa0\x80", "\xed\xbf\xbf\xed\xa0\x80",
        "\xff", "\xfe\xff", "a\xff\x62 c", "\x80\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xf0\x9f\xa6",
        "\xf0\x9f\xa6 \xf0\x9f\xa6\x99", "  \xc3", "\xc3\xa9\xc3", " <s>\xff</s>",
    };
    uint64_t rng = 42;
    int n_random = elmt_quick() ? 20 : 200;
    for (size_t v = 0; v < N_VOCABS; v++) {
        vocab vb = open_vocab(vocab_names[v]);
        bool spm = !strcmp(elm_tokenizer_model_name(vb.t), "llama");
        bool cleans = !spm && strncmp(vocab_names[v], "deepseek", 8) != 0;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0] + (size_t)n_random; i++) {
            unsigned char rnd[64];
            const char *s;
            size_t len;
            if (i < sizeof bad / sizeof bad[0]) {
                s = bad[i];
                len = strlen(s);
            } else {
                len = elmt_rand_u64(&rng) % sizeof rnd;
                for (size_t j = 0; j < len; j++) rnd[j] = (unsigned char)elmt_rand_u64(&rng);
                s = (const char *)rnd;
            }
            for (uint32_t flags = 0; flags < 4; flags++) {
                int32_t n;
                elm_token *ids = tok(vb.t, s, len, flags, &n);
                for (int32_t j = 0; j < n; j++) assert_true(ids[j] >= 0 && ids[j] < elm_vocab_size(vb.t));
                size_t out_len;
                char *out = stream(vb.t, ids, n, false, &out_len);   /* chunks checked to be valid */
                free(out);
                if (flags == 0 && (spm || !cleans)) {
                    /* SentencePiece keeps the bytes (byte tokens); byte-level BPE sees the
                     * lenient decoding (deepseek vocabularies: no clean-up to account for) */
                    char expect[64 * 4];
                    size_t ne = spm ? spm_expected((const unsigned char *)s, len, expect)
                                    : lenient_utf8((const unsigned char *)s, len, expect);
                    out = detok(vb.t, ids, n, false, &out_len);
                    if (out_len != ne || memcmp(out, expect, ne) != 0)
                        fail_msg("%s: invalid text %zu does not come back as expected", vocab_names[v], i);
                    free(out);
                }
                free(ids);
            }
        }
        close_vocab(&vb);
    }
}

/* ==== Streaming ============================================================================= */

static void stream_holds_partial_characters(void **state) {
    (void)state;
    vocab v = open_vocab("llama-spm");
    /* the llama from the test strings: no token of its own, four byte tokens */
    static const char llama[] = "\xf0\x9f\xa6\x99";
    int32_t n;
    elm_token *ids = tok(v.t, llama, 4, 0, &n);
    assert_int_equal(n, 5);                 /* "▁" then <0xF0> <0x9F> <0xA6> <0x99> */
    elm_detok_stream s;
    elm_detok_stream_init(&s, v.t, false);
    char out[64];
    size_t k;
    assert_int_equal(elm_detok_stream_push(&s, ids[0], out, sizeof out, &k), ELM_OK);
    assert_int_equal(k, 0);                 /* the dummy-prefix space is dropped */
    for (int i = 1; i < 4; i++) {
        assert_int_equal(elm_detok_stream_push(&s, ids[i], out, sizeof out, &k), ELM_OK);
        assert_int_equal(k, 0);             /* nothing until the character is complete */
    }
    /* too small a buffer: an error, and the stream is unchanged */
    assert_int_equal(elm_detok_stream_push(&s, ids[4], out, 3, &k), ELM_ERR_INVALID_ARG);
    assert_int_equal(k, 4);
    assert_int_equal(elm_detok_stream_push(&s, ids[4], out, sizeof out, &k), ELM_OK);
    assert_int_equal(k, 4);
    assert_memory_equal(out, llama, 4);
    assert_int_equal(elm_detok_stream_flush(&s, out, sizeof out, &k), ELM_OK);
    assert_int_equal(k, 0);
    /* an unfinished character at the end is flushed as U+FFFD */
    elm_detok_stream_init(&s, v.t, false);
    assert_int_equal(elm_detok_stream_push(&s, ids[1], out, sizeof out, &k), ELM_OK);
    assert_int_equal(elm_detok_stream_push(&s, ids[2], out, sizeof out, &k), ELM_OK);
    assert_int_equal(k, 0);
    assert_int_equal(elm_detok_stream_flush(&s, out, sizeof out, &k), ELM_OK);
    assert_int_equal(k, 3);
    assert_memory_equal(out, "\xef\xbf\xbd", 3);
    free(ids);
    /* a stray continuation byte in the middle becomes U+FFFD at once */
    elm_token cont = elm_token_unk(v.t);
    for (int32_t i = 0; i < elm_vocab_size(v.t); i++)
        if (!strcmp(elm_token_text(v.t, i), "<0x80>")) cont = i;
    elm_detok_stream_init(&s, v.t, false);
    assert_int_equal(elm_detok_stream_push(&s, cont, out, sizeof out, &k), ELM_OK);
    assert_int_equal(k, 3);
    assert_memory_equal(out, "\xef\xbf\xbd", 3);
    close_vocab(&v);

    /* byte-level BPE: multi-byte characters split over tokens of partial bytes */
    v = open_vocab("gpt-2");
    static const char text[] = "\xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 \xe2\x9c\x85 \xd0\xbd\xd0\xb5 \xe1\x9e\x80\xe1\x9e\xb6";
    ids = tok(v.t, text, strlen(text), 0, &n);
    int partial = 0;
    for (int32_t i = 0; i < n; i++) {
        char piece[64];
        size_t pk;
        assert_int_equal(elm_token_to_piece(v.t, ids[i], false, piece, sizeof piece, &pk), ELM_OK);
        partial += !utf8_valid((const unsigned char *)piece, pk);
    }
    assert_true(partial >= 2);              /* the test means something */
    size_t len;
    char *back = stream(v.t, ids, n, false, &len);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(back, text, len);
    free(back);
    free(ids);
    close_vocab(&v);
}

/* ==== Special tokens ======================================================================== */

static elm_token *concat(const elm_token *a, int32_t na, const elm_token *b, int32_t nb, int32_t *n) {
    elm_token *r = malloc((size_t)(na + nb + 1) * sizeof *r);
    assert_non_null(r);
    memcpy(r, a, (size_t)na * sizeof *r);
    memcpy(r + na, b, (size_t)nb * sizeof *r);
    *n = na + nb;
    return r;
}

static void expect_tokens(const elm_token *got, int32_t ng, const elm_token *want, int32_t nw) {
    assert_int_equal(ng, nw);
    assert_memory_equal(got, want, (size_t)ng * sizeof *got);
}

static void special_tokens(void **state) {
    (void)state;
    /* GPT-2: <|endoftext|> is one token only when asked */
    vocab v = open_vocab("gpt-2");
    static const char eot[] = "<|endoftext|>";
    int32_t n, m;
    elm_token *ids = tok(v.t, eot, strlen(eot), ELM_TOKENIZE_PARSE_SPECIAL, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 50256);
    free(ids);
    ids = tok(v.t, eot, strlen(eot), 0, &n);
    assert_true(n > 1);
    free(ids);
    /* text around it is tokenized on its own */
    static const char mixed[] = "Hello<|endoftext|> world";
    ids = tok(v.t, mixed, strlen(mixed), ELM_TOKENIZE_PARSE_SPECIAL, &n);
    elm_token *a = tok(v.t, "Hello", 5, 0, &m);
    elm_token *b = tok(v.t, " world", 6, 0, &n);
    elm_token e = 50256;
    int32_t nab;
    elm_token *ab = concat(a, m, &e, 1, &nab);
    elm_token *abc = concat(ab, nab, b, n, &nab);
    free(ids);
    ids = tok(v.t, mixed, strlen(mixed), ELM_TOKENIZE_PARSE_SPECIAL, &n);
    expect_tokens(ids, n, abc, nab);
    free(a); free(b); free(ab); free(abc); free(ids);
    /* facts */
    assert_int_equal(elm_vocab_size(v.t), 50257);
    assert_int_equal(elm_token_bos(v.t), 50256);
    assert_int_equal(elm_token_eos(v.t), 50256);
    assert_int_equal(elm_token_eot(v.t), 50256);
    assert_true(elm_token_is_eog(v.t, 50256));
    assert_true(elm_token_is_control(v.t, 50256));
    assert_false(elm_token_is_eog(v.t, 0));
    assert_false(elm_tokenizer_adds_bos(v.t));
    assert_string_equal(elm_tokenizer_model_name(v.t), "gpt2");
    assert_string_equal(elm_tokenizer_pre_name(v.t), "gpt-2");
    assert_string_equal(elm_token_text(v.t, 50256), "<|endoftext|>");
    assert_null(elm_token_text(v.t, 50257));
    assert_null(elm_token_text(v.t, -1));
    char piece[32];
    size_t k;
    assert_int_equal(elm_token_to_piece(v.t, 50256, false, piece, sizeof piece, &k), ELM_OK);
    assert_int_equal(k, 0);
    assert_int_equal(elm_token_to_piece(v.t, 50256, true, piece, sizeof piece, &k), ELM_OK);
    assert_int_equal(k, strlen(eot));
    assert_int_equal(elm_token_to_piece(v.t, 50256, true, piece, 4, &k), ELM_ERR_INVALID_ARG);
    assert_int_equal(k, strlen(eot));
    assert_int_equal(elm_token_to_piece(v.t, 50257, true, piece, sizeof piece, &k), ELM_ERR_INVALID_ARG);
    close_vocab(&v);

    /* SentencePiece: BOS by default; text after a special token gets the dummy-prefix space */
    v = open_vocab("llama-spm");
    assert_true(elm_tokenizer_adds_bos(v.t));
    assert_false(elm_tokenizer_adds_eos(v.t));
    assert_int_equal(elm_token_bos(v.t), 1);
    assert_int_equal(elm_token_eos(v.t), 2);
    assert_int_equal(elm_token_unk(v.t), 0);
    assert_int_equal(elm_token_pad(v.t), -1);
    ids = tok(v.t, "", 0, ELM_TOKENIZE_ADD_SPECIAL, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    free(ids);
    ids = tok(v.t, "", 0, 0, &n);
    assert_int_equal(n, 0);
    free(ids);
    static const char sp[] = "hello<s>world</s>";
    ids = tok(v.t, sp, strlen(sp), ELM_TOKENIZE_PARSE_SPECIAL, &n);
    a = tok(v.t, "hello", 5, 0, &m);
    int32_t nb;
    b = tok(v.t, "world", 5, 0, &nb);
    elm_token one = 1, two = 2;
    ab = concat(a, m, &one, 1, &nab);
    abc = concat(ab, nab, b, nb, &nab);
    elm_token *abcd = concat(abc, nab, &two, 1, &nab);
    expect_tokens(ids, n, abcd, nab);
    /* rendered: the prefix space of "world" is a real space after "<s>" */
    size_t len;
    char *s = detok(v.t, ids, n, true, &len);
    assert_string_equal(s, "hello<s> world</s>");
    free(s);
    s = detok(v.t, ids, n, false, &len);
    assert_string_equal(s, "hello world");
    free(s);
    free(a); free(b); free(ab); free(abc); free(abcd); free(ids);
    /* without parse_special, "<s>" is text */
    ids = tok(v.t, sp, strlen(sp), 0, &n);
    for (int32_t i = 0; i < n; i++) assert_true(ids[i] != 1 && ids[i] != 2);
    free(ids);
    /* a too small output buffer: error, with the count needed */
    elm_token few[2];
    int32_t need = 0;
    assert_int_equal(elm_tokenize(v.t, "Hello world again", 17, 0, few, 2, &need), ELM_ERR_INVALID_ARG);
    assert_int_equal(need, 3);
    assert_int_equal(elm_tokenize(v.t, "x", 1, 0x100, few, 2, &need), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_tokenize(NULL, "x", 1, 0, few, 2, &need), ELM_ERR_INVALID_ARG);
    /* byte tokens render as their byte */
    assert_int_equal(elm_token_to_piece(v.t, 3 + 0x41, false, piece, sizeof piece, &k), ELM_OK);
    assert_int_equal(k, 1);
    assert_int_equal(piece[0], 'A');
    close_vocab(&v);

    /* user-defined tokens are found even without parse_special (deepseek-coder <|EOT|>) */
    v = open_vocab("deepseek-coder");
    ids = tok(v.t, "a<|EOT|>b", 9, 0, &n);
    assert_int_equal(n, 3);
    assert_string_equal(elm_token_text(v.t, ids[1]), "<|EOT|>");
    free(ids);
    assert_true(elm_tokenizer_adds_bos(v.t));
    ids = tok(v.t, "a", 1, ELM_TOKENIZE_ADD_SPECIAL, &n);
    assert_int_equal(ids[0], 32013);
    free(ids);
    close_vocab(&v);

    /* Phi-3: special tokens eat the spaces that follow them (llama.cpp's rule for it) */
    v = open_vocab("phi-3");
    static const char turn[] = "<|user|>  \n hi<|end|>";
    ids = tok(v.t, turn, strlen(turn), ELM_TOKENIZE_PARSE_SPECIAL, &n);
    a = tok(v.t, "hi", 2, 0, &m);
    elm_token user = 32010, end = 32007;
    ab = concat(&user, 1, a, m, &nab);
    abc = concat(ab, nab, &end, 1, &nab);
    expect_tokens(ids, n, abc, nab);
    free(a); free(ab); free(abc); free(ids);
    assert_int_equal(elm_token_eot(v.t), 32007);
    assert_true(elm_token_is_eog(v.t, 32007));
    assert_true(elm_token_is_eog(v.t, 32000));
    close_vocab(&v);
}

/* ==== The tool =============================================================================== */

static char *run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char out[65536];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    if (rc != 0) fail_msg("'%s' failed (%d)", cmd, rc);
    return out;
}

static void tokenize_tool(void **state) {
    (void)state;
    const char *bin = elmt_bin("edgelm-tokenize");
    char cmd[4096];
    /* a test string of the gpt-2 vocab, as an argument and from a file */
    cases c;
    load_cases("gpt-2", &c);
    int idx = -1;
    for (int i = 0; i < c.n; i++)
        if (c.len[i] == 13 && !memcmp(c.text[i], "Hello, world!", 13)) idx = i;
    assert_true(idx >= 0);
    elm_token expect[64], got[64];
    int ne = parse_ids(c.expect[idx], expect, 64);
    snprintf(cmd, sizeof cmd, "%s -m %s --no-bos 'Hello, world!'", bin, elmt_shared("vocab/ggml-vocab-gpt-2.gguf"));
    int ng = parse_ids(run(cmd), got, 64);
    expect_tokens(got, ng, expect, ne);
    /* the longest test string, from a file */
    int longest = 0;
    for (int i = 0; i < c.n; i++) if (c.len[i] > c.len[longest]) longest = i;
    char path[1024];
    snprintf(path, sizeof path, "%s/input.txt", elmt_tmpdir());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(c.text[longest], 1, c.len[longest], f), c.len[longest]);
    fclose(f);
    static elm_token exp2[4096], got2[4096];
    ne = parse_ids(c.expect[longest], exp2, 4096);
    snprintf(cmd, sizeof cmd, "%s -m %s --no-bos -f %s", bin, elmt_shared("vocab/ggml-vocab-gpt-2.gguf"), path);
    char *out = run(cmd);
    assert_non_null(strchr(out, '\n'));
    assert_true(strchr(out, '\n') == out + strlen(out) - 1);     /* one line */
    ng = parse_ids(out, got2, 4096);
    expect_tokens(got2, ng, exp2, ne);
    free_cases(&c);
    /* BOS by default on a model file; --parse-special */
    snprintf(cmd, sizeof cmd, "%s -m %s 'Once upon a time'", bin, elmt_shared("models/stories260K.gguf"));
    ng = parse_ids(run(cmd), got, 64);
    static const elm_token once[] = {1, 403, 407, 261, 378};
    expect_tokens(got, ng, once, 5);
    snprintf(cmd, sizeof cmd, "%s -m %s --no-bos --parse-special '<|endoftext|>'", bin,
             elmt_shared("vocab/ggml-vocab-gpt-2.gguf"));
    ng = parse_ids(run(cmd), got, 64);
    assert_int_equal(ng, 1);
    assert_int_equal(got[0], 50256);
    /* errors: usage, missing file */
    snprintf(cmd, sizeof cmd, "%s -m /nonexistent.gguf x 2>/dev/null", bin);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_true(pclose(p) != 0);
    snprintf(cmd, sizeof cmd, "%s 2>/dev/null", bin);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_true(pclose(p) != 0);
}

/* ==== Unicode tables ========================================================================== */

static void unicode_classes(void **state) {
    (void)state;
    /* spot checks against the Unicode Character Database */
    assert_int_equal(elmi_unicode_flags('a'), ELMI_UF_LETTER);
    assert_int_equal(elmi_unicode_flags('7'), ELMI_UF_NUMBER);
    assert_int_equal(elmi_unicode_flags(' '), ELMI_UF_SEPARATOR | ELMI_UF_WHITESPACE);
    assert_int_equal(elmi_unicode_flags('\n'), ELMI_UF_CONTROL | ELMI_UF_WHITESPACE);
    assert_int_equal(elmi_unicode_flags('$'), ELMI_UF_SYMBOL);
    assert_int_equal(elmi_unicode_flags('_'), ELMI_UF_PUNCT);
    assert_int_equal(elmi_unicode_flags(0x85), ELMI_UF_CONTROL | ELMI_UF_WHITESPACE);
    assert_int_equal(elmi_unicode_flags(0xA0), ELMI_UF_SEPARATOR | ELMI_UF_WHITESPACE);
    assert_int_equal(elmi_unicode_flags(0x00E9), ELMI_UF_LETTER);        /* é */
    assert_int_equal(elmi_unicode_flags(0x0301), ELMI_UF_MARK);          /* combining acute */
    assert_int_equal(elmi_unicode_flags(0x0660), ELMI_UF_NUMBER);        /* Arabic-Indic zero */
    assert_int_equal(elmi_unicode_flags(0x2163), ELMI_UF_NUMBER);        /* Roman numeral four (Nl) */
    assert_int_equal(elmi_unicode_flags(0x3000), ELMI_UF_SEPARATOR | ELMI_UF_WHITESPACE);
    assert_int_equal(elmi_unicode_flags(0x200B), ELMI_UF_CONTROL);       /* zero width space: Cf */
    assert_int_equal(elmi_unicode_flags(0x4E00), ELMI_UF_LETTER);        /* CJK, in a First/Last range */
    assert_int_equal(elmi_unicode_flags(0xAC00), ELMI_UF_LETTER);        /* Hangul, First/Last */
    assert_int_equal(elmi_unicode_flags(0xD800), ELMI_UF_CONTROL);       /* surrogate */
    assert_int_equal(elmi_unicode_flags(0xE000), ELMI_UF_CONTROL);       /* private use */
    assert_int_equal(elmi_unicode_flags(0x0378), ELMI_UF_UNDEFINED);     /* unassigned */
    assert_int_equal(elmi_unicode_flags(0x1F999), ELMI_UF_SYMBOL);       /* 🦙 */
    assert_int_equal(elmi_unicode_flags(0x10FFFF), ELMI_UF_UNDEFINED);
    assert_int_equal(elmi_unicode_flags(0x110000), ELMI_UF_UNDEFINED);
    assert_int_equal(elmi_unicode_flags(0x2028), ELMI_UF_SEPARATOR | ELMI_UF_WHITESPACE);
    assert_int_equal(elmi_unicode_flags(0x1C), ELMI_UF_CONTROL);         /* not White_Space */
    /* GPT-2's byte mapping is a bijection onto its 256 code points */
    for (int b = 0; b < 256; b++) {
        assert_int_equal(elmi_gpt2_byte_to_cp((uint8_t)b), gpt2_cp(b));
        assert_int_equal(elmi_gpt2_cp_to_byte(gpt2_cp(b)), b);
    }
    assert_int_equal(elmi_gpt2_byte_to_cp(' '), 0x120);                 /* Ġ */
    assert_int_equal(elmi_gpt2_cp_to_byte(0x144), -1);
    assert_int_equal(elmi_gpt2_cp_to_byte(0x20), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unicode_classes),
        cmocka_unit_test(vocab_test_vectors),
        cmocka_unit_test(golden_prompts),
        cmocka_unit_test(split_llama3),
        cmocka_unit_test(split_qwen2),
        cmocka_unit_test(split_gpt2_and_others),
        cmocka_unit_test(handmade_llama3_qwen2),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(cleanup_of_spaces),
        cmocka_unit_test(invalid_utf8),
        cmocka_unit_test(stream_holds_partial_characters),
        cmocka_unit_test(special_tokens),
        cmocka_unit_test(tokenize_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
