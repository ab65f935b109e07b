/* tokenizer_bpe.c: byte-level BPE ("gpt2" vocabularies), as llama.cpp runs it.
 *
 * The text (one fragment between special tokens) is decoded to code points (each invalid
 * byte becomes U+FFFD), split into pieces by the vocabulary's pre-tokenizer
 * (pretokenize.c), and each piece is re-encoded as UTF-8 and then as GPT-2 characters, one
 * per byte. Within a piece, the adjacent pair with the lowest merge rank is merged until no
 * pair has a merge (ties: the leftmost pair). Symbols are interned string ids, so a merge
 * is one hash lookup of two integers.
 * Must not: allocate outside the call's scratch (and the load), or know about special
 * tokens (tokenizer.c splits them off before).
 */
#include "tokenizer_internal.h"
#include "unicode.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

/* ==== Merges ============================================================================= */

static inline uint64_t pair_key(int32_t l, int32_t r) { return ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1; }
static inline uint64_t pair_slot(uint64_t key, uint64_t mask) { return ((key * 0x9E3779B97F4A7C15ull) >> 20) & mask; }

static bool merge_find(const elmi_pairmap *m, int32_t l, int32_t r, int32_t *rank, int32_t *result) {
    uint64_t key = pair_key(l, r);
    for (uint64_t i = pair_slot(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->keys[i] == 0) return false;
        if (m->keys[i] == key) { *rank = m->rank[i]; *result = m->result[i]; return true; }
    }
}

elm_status elmi_bpe_load(elm_tokenizer *t, const elm_gguf *g, const char *path) {
    static const char *key = "tokenizer.ggml.merges";
    elm_gguf_value arr;
    uint64_t n;
    elm_status st = elmi_tok_strings(g, path, key, &arr, &n);
    if (st) return st;
    if (n > (uint64_t)INT32_MAX / 4)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s has %llu entries, more than we accept", path, key,
                          (unsigned long long)n);
    uint64_t slots = 64;
    while (slots < 2 * n) slots *= 2;
    elmi_pairmap *m = &t->merges;
    m->keys = calloc(slots, sizeof *m->keys);
    m->rank = malloc(slots * sizeof *m->rank);
    m->result = malloc(slots * sizeof *m->result);
    if (!m->keys || !m->rank || !m->result) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for %llu merges", path,
                                                               (unsigned long long)n);
    m->mask = slots - 1;
    char *cat = NULL;
    size_t cat_cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        elm_gguf_string s = elmi_tok_string_at(g, &arr, i);
        /* "left right", split at the first space after the first byte (a part may begin
         * with a space). Lines without one pair two empty strings: they never match. */
        const char *sp = s.len > 1 ? memchr(s.data + 1, ' ', s.len - 1) : NULL;
        if (!sp) continue;
        size_t nl = (size_t)(sp - s.data), nr = s.len - nl - 1;
        if (nr == 0) continue;                         /* an empty part never matches */
        if (nl + nr > cat_cap) {
            cat_cap = 2 * (nl + nr);
            char *c = realloc(cat, cat_cap);
            if (!c) { free(cat); return elmi_error(ELM_ERR_NOMEM, "%s: out of memory", path); }
            cat = c;
        }
        memcpy(cat, s.data, nl);
        memcpy(cat + nl, sp + 1, nr);
        int32_t l = elmi_tok_intern(t, s.data, nl);
        int32_t r = elmi_tok_intern(t, sp + 1, nr);
        int32_t res = elmi_tok_intern(t, cat, nl + nr);
        if (l < 0 || r < 0 || res < 0) { free(cat); return elmi_error(ELM_ERR_NOMEM, "%s: out of memory", path); }
        /* a repeated pair keeps its first (lowest) rank */
        uint64_t k = pair_key(l, r);
        uint64_t j = pair_slot(k, m->mask);
        while (m->keys[j] != 0 && m->keys[j] != k) j = (j + 1) & m->mask;
        if (m->keys[j] == 0) {
            m->keys[j] = k;
            m->rank[j] = (int32_t)i;
            m->result[j] = res;
        }
    }
    free(cat);
    t->n_merges = (int32_t)n;

    for (int b = 0; b < 256; b++) {
        char enc[4];
        size_t ne = elmi_utf8_encode(elmi_gpt2_byte_to_cp((uint8_t)b), enc);
        memcpy(t->gpt2.c[b], enc, ne);
        t->gpt2.n[b] = (uint8_t)ne;
        t->byte_sym[b] = elmi_tok_find(t, enc, ne, elmi_tok_hash(enc, ne));
        char one = (char)b;
        t->single_byte[b] = elmi_tok_token(t, &one, 1);
    }
    return ELM_OK;
}

/* ==== Merging one piece =================================================================== */

typedef struct bpe_sym {
    int32_t prev, next;      /* neighbours, -1 at the ends */
    uint32_t start, n;       /* original bytes of the piece covered; n = 0 once merged away */
    int32_t id;              /* interned id of the symbol's GPT-2 text, or -1 */
} bpe_sym;

typedef struct bpe_bigram {
    int32_t rank;
    int32_t left, right;     /* symbol indices */
    int32_t id_left, id_right, id_result;
} bpe_bigram;

/* Heap order: lower rank first, then the leftmost pair. */
static inline bool before(const bpe_bigram *a, const bpe_bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct bpe_state {
    const elm_tokenizer *t;
    bpe_sym *sym;
    bpe_bigram *heap;
    size_t n_heap;
} bpe_state;

static void heap_push(bpe_state *s, bpe_bigram b) {
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &s->heap[p])) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = b;
}

static bpe_bigram heap_pop(bpe_state *s) {
    bpe_bigram top = s->heap[0];
    bpe_bigram last = s->heap[--s->n_heap];
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

static void add_bigram(bpe_state *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    int32_t l = s->sym[left].id, r = s->sym[right].id;
    if (l < 0 || r < 0) return;
    bpe_bigram b = {0, left, right, l, r, 0};
    if (!merge_find(&s->t->merges, l, r, &b.rank, &b.id_result)) return;
    heap_push(s, b);
}

/* Tokens of one piece, given as its UTF-8 bytes. sym/heap/enc hold room for n bytes. */
static void bpe_piece(const elm_tokenizer *t, const unsigned char *w, size_t n, bpe_sym *sym,
                      bpe_bigram *heap, char *enc, elmi_tok_out *o) {
    const elmi_gpt2_chars *g2 = &t->gpt2;
    if (t->ignore_merges) {
        size_t ne = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(enc + ne, g2->c[w[i]], g2->n[w[i]]);
            ne += g2->n[w[i]];
        }
        int32_t id = elmi_tok_token(t, enc, ne);
        if (id >= 0) { elmi_tok_push(o, id); return; }
    }
    for (size_t i = 0; i < n; i++)
        sym[i] = (bpe_sym){(int32_t)i - 1, i + 1 == n ? -1 : (int32_t)i + 1, (uint32_t)i, 1, t->byte_sym[w[i]]};
    bpe_state s = {t, sym, heap, 0};
    for (size_t i = 1; i < n; i++) add_bigram(&s, (int32_t)i - 1, (int32_t)i);
    while (s.n_heap > 0) {
        bpe_bigram b = heap_pop(&s);
        bpe_sym *l = &sym[b.left], *r = &sym[b.right];
        /* stale when either side has changed since the pair was queued */
        if (l->n == 0 || r->n == 0 || l->id != b.id_left || r->id != b.id_right || l->next != b.right) continue;
        l->n += r->n;
        l->id = b.id_result;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        add_bigram(&s, l->prev, b.left);
        add_bigram(&s, b.left, l->next);
    }
    for (int32_t i = 0; i != -1; i = sym[i].next) {
        const bpe_sym *y = &sym[i];
        if (y->id >= 0 && y->id < t->n_vocab) { elmi_tok_push(o, y->id); continue; }
        /* not a token: each byte of its GPT-2 text, when that byte alone is a token */
        for (uint32_t j = y->start; j < y->start + y->n; j++) {
            for (int k = 0; k < g2->n[w[j]]; k++) {
                int32_t id = t->single_byte[(unsigned char)g2->c[w[j]][k]];
                if (id >= 0) elmi_tok_push(o, id);
            }
        }
    }
}

elm_status elmi_bpe_tokenize(const elm_tokenizer *t, const char *text, size_t len, elmi_scratch *sc,
                             elmi_tok_out *o) {
    if (len == 0) return ELM_OK;
    uint32_t *cp = elmi_scratch_get(sc, 0, len * sizeof *cp);
    uint16_t *fl = elmi_scratch_get(sc, 1, len * sizeof *fl);
    uint32_t *pa = elmi_scratch_get(sc, 2, len * sizeof *pa);
    uint32_t *pb = elmi_scratch_get(sc, 4, len * sizeof *pb);
    if (!cp || !fl || !pa || !pb) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for %zu bytes of text", len);
    const unsigned char *u = (const unsigned char *)text;
    size_t n_cp = 0;
    for (size_t off = 0; off < len;) {
        size_t k;
        uint32_t c = elmi_utf8_decode(u + off, len - off, &k);
        cp[n_cp] = c;
        fl[n_cp] = elmi_unicode_flags(c);
        n_cp++;
        off += k;
    }
    size_t n_pieces;
    const uint32_t *piece = elmi_pretokenize(t->pre, cp, fl, n_cp, pa, pb, &n_pieces);

    /* room for the longest piece, in UTF-8 bytes */
    size_t max_bytes = 0;
    for (size_t i = 0, at = 0; i < n_pieces; i++) {
        size_t nb = 0;
        for (size_t j = at; j < at + piece[i]; j++) nb += cp[j] < 0x80 ? 1 : cp[j] < 0x800 ? 2 : cp[j] < 0x10000 ? 3 : 4;
        if (nb > max_bytes) max_bytes = nb;
        at += piece[i];
    }
    unsigned char *w = elmi_scratch_get(sc, 5, max_bytes);
    bpe_sym *sym = elmi_scratch_get(sc, 6, max_bytes * sizeof *sym);
    bpe_bigram *heap = elmi_scratch_get(sc, 3, 3 * max_bytes * sizeof *heap);
    char *enc = elmi_scratch_get(sc, 7, 2 * max_bytes);
    if (!w || !sym || !heap || !enc)
        return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for a piece of %zu bytes", max_bytes);

    for (size_t i = 0, at = 0; i < n_pieces; i++) {
        size_t nb = 0;
        for (size_t j = at; j < at + piece[i]; j++) nb += elmi_utf8_encode(cp[j], (char *)w + nb);
        at += piece[i];
        bpe_piece(t, w, nb, sym, heap, enc, o);
    }
    return o->failed ? elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for the token list") : ELM_OK;
}
