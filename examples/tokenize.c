/* tokenize.c: edgelm-tokenize, text in, token ids out.
 *
 *   edgelm-tokenize -m MODEL [--no-bos] [--parse-special] (TEXT | -f FILE)
 *
 * Prints the ids space-separated on one line. MODEL is any GGUF with tokenizer metadata
 * (a model, or a vocab-only file). By default BOS/EOS are added as the vocabulary says;
 * --no-bos adds neither. --parse-special recognises control-token texts such as
 * "<|im_start|>" in the input. Uses the public API only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgelm.h"

static void usage(FILE *f) {
    fprintf(f, "usage: edgelm-tokenize -m MODEL [--no-bos] [--parse-special] (TEXT | -f FILE)\n"
               "  prints the token ids of TEXT (or of the contents of FILE) on one line\n");
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *b = realloc(buf, cap * 2);
        if (!b) { free(buf); buf = NULL; break; }
        buf = b;
        cap *= 2;
    }
    if (ferror(f)) { free(buf); buf = NULL; }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    const char *model = NULL, *text = NULL, *file = NULL;
    uint32_t flags = ELM_TOKENIZE_ADD_SPECIAL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "-f") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--no-bos")) flags &= ~ELM_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(argv[i], "--parse-special")) flags |= ELM_TOKENIZE_PARSE_SPECIAL;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else if (argv[i][0] == '-' && argv[i][1] != '\0' && !text) { usage(stderr); return 2; }
        else if (!text) text = argv[i];
        else { usage(stderr); return 2; }
    }
    if (!model || (!text == !file)) { usage(stderr); return 2; }

    size_t len = 0;
    char *owned = NULL;
    if (file) {
        owned = read_all(file, &len);
        if (!owned) { fprintf(stderr, "edgelm-tokenize: cannot read %s\n", file); return 1; }
        text = owned;
    } else {
        len = strlen(text);
    }

    elm_gguf *g = NULL;
    elm_tokenizer *tok = NULL;
    if (elm_gguf_open(model, NULL, &g) != ELM_OK || elm_tokenizer_create(g, &tok) != ELM_OK) {
        fprintf(stderr, "edgelm-tokenize: %s\n", elm_last_error());
        elm_gguf_close(g);
        free(owned);
        return 1;
    }
    int32_t n = 0;
    elm_token *ids = NULL;
    elm_status st = elm_tokenize(tok, text, len, flags, NULL, 0, &n);
    if (st == ELM_ERR_INVALID_ARG && n > 0) {
        ids = malloc((size_t)n * sizeof *ids);
        st = ids ? elm_tokenize(tok, text, len, flags, ids, n, &n) : ELM_ERR_NOMEM;
    }
    int rc = 0;
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-tokenize: %s\n", elm_last_error());
        rc = 1;
    } else {
        for (int32_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    free(ids);
    elm_tokenizer_free(tok);
    elm_gguf_close(g);
    free(owned);
    return rc;
}
