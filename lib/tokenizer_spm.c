/* tokenizer_spm.c: SentencePiece BPE ("llama" vocabularies), as llama.cpp runs it.
 *
 * The text (one fragment between special tokens) gets spaces replaced by U+2581 "▁" and,
 * when asked, one "▁" in front. It is cut into symbols at UTF-8 character starts (counting
 * bytes from the lead byte without validating, so invalid bytes group as llama.cpp groups
 * them). Then, repeatedly, the adjacent pair whose concatenation is the vocabulary token
 * with the highest score is merged (ties: the leftmost pair). A symbol left that is not a
 * token is emitted as its bytes' <0xXX> tokens.
 * Must not: allocate outside the call's scratch, or know about special tokens (tokenizer.c
 * splits them off before).
 */
#include "tokenizer_internal.h"
#include "unicode.h"
#include "error.h"

#include <string.h>

typedef struct spm_sym {
    int32_t prev, next;      /* neighbours in the list, -1 at the ends */
    uint32_t start;          /* byte offset into the normalized text */
    uint32_t n;              /* bytes; 0 once merged into the left neighbour */
    int32_t id;              /* token of the bytes, or -1 */
} spm_sym;

typedef struct spm_bigram {
    float score;             /* of the merged token */
    int32_t left, right;     /* symbol indices */
    uint32_t size;           /* bytes of left + right when the pair was queued */
    int32_t id;              /* the merged token */
} spm_bigram;

/* Heap order: higher score first, then the leftmost pair. */
static inline bool before(const spm_bigram *a, const spm_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct spm_state {
    const elm_tokenizer *t;
    const char *text;
    spm_sym *sym;
    spm_bigram *heap;
    size_t n_heap, cap_heap;
    elmi_scratch *sc;
} spm_state;

static bool heap_push(spm_state *s, spm_bigram b) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap * 2 + 64;
        spm_bigram *h = elmi_scratch_grow(s->sc, 3, cap * sizeof *h);
        if (!h) return false;
        s->heap = h;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = b;
    return true;
}

static spm_bigram heap_pop(spm_state *s) {
    spm_bigram top = s->heap[0];
    spm_bigram last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

static inline bool is_space(const char *buf, const spm_sym *y) {
    return y->n == 3 && memcmp(buf + y->start, "\xE2\x96\x81", 3) == 0;
}

static bool try_add_bigram(spm_state *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    const spm_sym *l = &s->sym[left], *r = &s->sym[right];
    uint32_t size = l->n + r->n;           /* the pair is contiguous in the text */
    int32_t id = elmi_tok_token(s->t, s->text + l->start, size);
    if (id < 0) return true;
    spm_bigram b = {s->t->score[id], left, right, size, id};
    return heap_push(s, b);
}

elm_status elmi_spm_tokenize(const elm_tokenizer *t, const char *text, size_t len, bool prefix_space,
                             elmi_scratch *sc, elmi_tok_out *o) {
    static const char space[3] = {'\xE2', '\x96', '\x81'};   /* U+2581 */
    /* normalized text: at most 3 bytes per input byte, plus the prefix */
    size_t cap = 3 * len + 3;
    char *buf = elmi_scratch_get(sc, 0, cap);
    if (!buf) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for %zu bytes of text", len);
    size_t nb = 0;
    if (prefix_space) { memcpy(buf, space, 3); nb = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(buf + nb, space, 3); nb += 3; }
        else buf[nb++] = text[i];
    }
    if (nb == 0) return ELM_OK;

    spm_sym *sym = elmi_scratch_get(sc, 1, nb * sizeof *sym);
    if (!sym) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for %zu symbols", nb);
    int32_t n_sym = 0;
    for (size_t off = 0; off < nb;) {
        size_t n = elmi_utf8_lead_len((unsigned char)buf[off]);
        if (n > nb - off) n = nb - off;
        sym[n_sym] = (spm_sym){-1, -1, (uint32_t)off, (uint32_t)n, -1};
        n_sym++;
        off += n;
    }

    /* Merging is global over the fragment, but where no token can span a symbol boundary
     * the two sides never interact, and each side merges in the same order on its own.
     * When the vocabulary allows it (t->spm_word_split), every "▁" that follows something
     * other than "▁" starts such an independent segment: words merge separately, with a
     * small heap that stays in cache. */
    spm_state s = {t, buf, sym, NULL, 0, 0, sc};
    for (int32_t a = 0; a < n_sym;) {
        int32_t b = a + 1;
        if (t->spm_word_split) {
            while (b < n_sym && !(is_space(buf, &sym[b]) && !is_space(buf, &sym[b - 1]))) b++;
        } else {
            b = n_sym;
        }
        for (int32_t i = a; i < b; i++) {
            sym[i].prev = i > a ? i - 1 : -1;
            sym[i].next = i + 1 < b ? i + 1 : -1;
        }
        s.n_heap = 0;
        for (int32_t i = a + 1; i < b; i++) {
            if (!try_add_bigram(&s, i - 1, i)) goto nomem;
        }
        while (s.n_heap > 0) {
            spm_bigram g = heap_pop(&s);
            spm_sym *l = &sym[g.left], *r = &sym[g.right];
            if (l->n == 0 || r->n == 0 || l->n + r->n != g.size) continue;   /* stale */
            l->n += r->n;
            l->id = g.id;
            r->n = 0;
            l->next = r->next;
            if (r->next >= 0) sym[r->next].prev = g.left;
            if (!try_add_bigram(&s, l->prev, g.left)) goto nomem;
            if (!try_add_bigram(&s, g.left, l->next)) goto nomem;
        }
        for (int32_t i = a; i != -1; i = sym[i].next) {
            const spm_sym *y = &sym[i];
            int32_t id = y->id >= 0 ? y->id : elmi_tok_token(t, buf + y->start, y->n);
            if (id >= 0) { elmi_tok_push(o, id); continue; }
            /* Not a token (only unmerged single characters get here): its bytes. A
             * vocabulary without the byte's token gives the unknown token (llama.cpp
             * would stop). */
            for (uint32_t j = 0; j < y->n; j++) {
                int32_t bt = t->byte_token[(unsigned char)buf[y->start + j]];
                if (bt < 0) bt = t->unk;
                if (bt >= 0) elmi_tok_push(o, bt);
            }
        }
        a = b;
    }
    return o->failed ? elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for the token list") : ELM_OK;
nomem:
    return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for the merge queue of %d symbols", n_sym);
}
