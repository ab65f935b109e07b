/* fuzz_tokenize.c: libFuzzer target for the tokenizers. Arbitrary bytes (invalid UTF-8,
 * special-token texts, long runs) are tokenized with a SentencePiece, a byte-level BPE and
 * a DeepSeek vocabulary (user-defined tokens), with every flag combination, then turned
 * back into text by elm_detokenize and the streaming detokenizer. AddressSanitizer turns
 * any read outside a buffer into a crash; the checks below catch wrong bookkeeping.
 *
 * Input: byte 0 picks the vocabulary and the flags; the rest is the text.
 * Vocabularies come from $SHARED/vocab (default ../shared, as make fuzz runs from the
 * project root). Must not: write files. */
#include "edgelm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[3] = {"llama-spm", "gpt-2", "deepseek-llm"};
static elm_gguf *files[3];
static elm_tokenizer *toks[3];

static const elm_tokenizer *get(int i) {
    if (!toks[i]) {
        const char *shared = getenv("SHARED");
        char path[1024];
        snprintf(path, sizeof path, "%s/vocab/ggml-vocab-%s.gguf", shared && *shared ? shared : "../shared", names[i]);
        if (elm_gguf_open(path, NULL, &files[i]) != ELM_OK || elm_tokenizer_create(files[i], &toks[i]) != ELM_OK) {
            fprintf(stderr, "fuzz_tokenize: %s\n", elm_last_error());
            abort();
        }
    }
    return toks[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const elm_tokenizer *t = get(data[0] % 3);
    uint32_t flags = (data[0] >> 2) & 3;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    int32_t n = -1;
    elm_status st = elm_tokenize(t, text, len, flags, NULL, 0, &n);
    if (st != ELM_OK && st != ELM_ERR_INVALID_ARG) abort();
    if (n < 0 || (st == ELM_OK && n != 0)) abort();
    elm_token *ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) return 0;
    int32_t m = -1;
    if (elm_tokenize(t, text, len, flags, ids, n, &m) != ELM_OK || m != n) abort();
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= elm_vocab_size(t)) abort();

    for (int render = 0; render < 2; render++) {
        size_t need = 0, got = 0;
        (void)elm_detokenize(t, ids, n, render, NULL, 0, &need);
        char *buf = malloc(need + 1);
        if (!buf) break;
        if (elm_detokenize(t, ids, n, render, buf, need + 1, &got) != ELM_OK || got != need) abort();
        if (need > 0 && elm_detokenize(t, ids, n, render, buf, need - 1, &got) != ELM_ERR_INVALID_ARG) abort();
        free(buf);

        elm_detok_stream s;
        elm_detok_stream_init(&s, t, render);
        for (int32_t i = 0; i < n; i++) {
            char chunk[8192];
            size_t k;
            if (elm_detok_stream_push(&s, ids[i], chunk, sizeof chunk, &k) != ELM_OK) abort();
        }
        char tail[8];
        size_t k;
        if (elm_detok_stream_flush(&s, tail, sizeof tail, &k) != ELM_OK || k > 3) abort();
    }
    free(ids);
    return 0;
}
