/* tokenizer.c: vocabularies read from GGUF, special tokens, the public tokenize entry
 * point, and text from tokens (pieces, detokenize, the streaming detokenizer).
 *
 * What llama.cpp does is the specification: which tokens are special and how they are
 * found in text (tokenizer_st_partition), BOS/EOS defaults, end-of-generation tokens, how
 * a token renders. tokenizer_spm.c and tokenizer_bpe.c turn the plain-text fragments
 * between special tokens into ids.
 * Must not: keep per-call state in the tokenizer (it is shared between threads), or know
 * about models and tensors.
 */
#include "tokenizer_internal.h"
#include "unicode.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TEXT_BYTES ((size_t)1 << 30)   /* longest text elm_tokenize accepts */
#define MAX_PIECE_BYTES ((uint64_t)1 << 30) /* all rendered pieces together */

/* ==== Hashing, the string map, interning ================================================== */

uint64_t elmi_tok_hash(const void *s, size_t n) {
    const unsigned char *p = s;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    if (n) memcpy(&v, p, n);
    h = (h ^ v) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

int32_t elmi_tok_find(const elm_tokenizer *t, const char *s, size_t n, uint64_t hash) {
    const elmi_strmap *m = &t->map;
    uint32_t h32 = (uint32_t)hash;
    for (uint64_t i = (hash >> 32) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t slot = m->slots[i];
        if (slot == 0) return -1;
        if (m->hashes[i] == h32) {
            int32_t id = (int32_t)(slot - 1);
            if (elmi_tok_len(t, id) == n && memcmp(elmi_tok_str(t, id), s, n) == 0) return id;
        }
    }
}

static void map_put(elmi_strmap *m, uint64_t hash, int32_t id) {
    uint64_t i = (hash >> 32) & m->mask;
    while (m->slots[i] != 0) i = (i + 1) & m->mask;
    m->slots[i] = (uint32_t)id + 1;
    m->hashes[i] = (uint32_t)hash;
}

/* (Re)build the map with room for twice `count` strings. */
static bool map_build(elm_tokenizer *t, uint64_t count) {
    uint64_t slots = 64;
    while (slots < 2 * count) slots *= 2;
    uint32_t *s = calloc(slots, sizeof *s), *h = malloc(slots * sizeof *h);
    if (!s || !h) { free(s); free(h); return false; }
    free(t->map.slots);
    free(t->map.hashes);
    t->map = (elmi_strmap){s, h, slots - 1};
    for (int32_t id = 0; id < t->n_strings; id++)
        map_put(&t->map, elmi_tok_hash(elmi_tok_str(t, id), elmi_tok_len(t, id)), id);
    return true;
}

static int32_t append_string(elm_tokenizer *t, const char *s, size_t n) {
    uint64_t used = t->text_off[t->n_strings];
    if (used + n + 1 > t->text_cap) {
        uint64_t cap = (t->text_cap + n + 1) * 2;
        char *p = realloc(t->text, cap);
        if (!p) return -1;
        t->text = p;
        t->text_cap = cap;
    }
    if ((uint64_t)t->n_strings + 2 > t->str_cap) {
        uint64_t cap = t->str_cap * 2 + 16;
        uint64_t *p = realloc(t->text_off, cap * sizeof *p);
        if (!p) return -1;
        t->text_off = p;
        t->str_cap = cap;
    }
    memcpy(t->text + used, s, n);
    t->text[used + n] = '\0';
    int32_t id = t->n_strings++;
    t->text_off[id + 1] = used + n + 1;
    return id;
}

int32_t elmi_tok_intern(elm_tokenizer *t, const char *s, size_t n) {
    uint64_t h = elmi_tok_hash(s, n);
    int32_t id = elmi_tok_find(t, s, n, h);
    if (id >= 0) return id;
    if (t->n_strings >= INT32_MAX - 1) return -1;
    id = append_string(t, s, n);
    if (id < 0) return -1;
    if ((uint64_t)t->n_strings * 2 > t->map.mask + 1) {
        if (!map_build(t, (uint64_t)t->n_strings * 2)) return -1;
    } else {
        map_put(&t->map, h, id);
    }
    return id;
}

/* ==== Scratch and output ================================================================== */

void *elmi_scratch_get(elmi_scratch *s, int i, size_t n) {
    if (n == 0) n = 1;
    if (s->bytes[i] >= n) return s->p[i];
    free(s->p[i]);
    s->p[i] = malloc(n);
    s->bytes[i] = s->p[i] ? n : 0;
    return s->p[i];
}

void *elmi_scratch_grow(elmi_scratch *s, int i, size_t n) {
    if (s->bytes[i] >= n) return s->p[i];
    void *p = realloc(s->p[i], n);
    if (!p) return NULL;
    s->p[i] = p;
    s->bytes[i] = n;
    return p;
}

void elmi_scratch_free(elmi_scratch *s) {
    for (size_t i = 0; i < sizeof s->p / sizeof s->p[0]; i++) free(s->p[i]);
}

bool elmi_tok_out_grow(elmi_tok_out *o) {
    if (o->failed) return false;
    int64_t cap = o->cap * 2 + 256;
    elm_token *p = realloc(o->ids, (size_t)cap * sizeof *p);
    if (!p) { o->failed = true; return false; }
    o->ids = p;
    o->cap = cap;
    return true;
}

/* ==== Loading ============================================================================= */

static bool has_key(const elm_gguf *g, const char *key) { return elm_gguf_find_key(g, key) >= 0; }

elm_status elmi_tok_strings(const elm_gguf *g, const char *path, const char *key, elm_gguf_value *arr, uint64_t *n) {
    int64_t k = elm_gguf_find_key(g, key);
    if (k < 0) return elmi_error(ELM_ERR_FORMAT, "%s: no %s", path, key);
    elm_status st = elm_gguf_key_value(g, k, arr);
    if (st) return st;
    if (arr->type != ELM_GGUF_ARRAY || arr->v.arr.elem_type != ELM_GGUF_STRING)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s is not an array of strings", path, key);
    *n = arr->v.arr.n;
    return ELM_OK;
}

/* A special token id key: 0xFFFFFFFF (or -1) means "none"; another value outside the
 * vocabulary keeps the default, as llama.cpp does. */
static elm_status read_id(elm_tokenizer *t, const elm_gguf *g, const char *path, const char *key, elm_token *id) {
    if (!has_key(g, key)) return ELM_OK;
    int64_t v;
    elm_status st = elm_gguf_get_int(g, key, &v);
    if (st) return st;
    if (v == 0xFFFFFFFFll || v == -1) { *id = ELMI_NO_TOKEN; return ELM_OK; }
    if (v < 0 || v >= t->n_vocab) {
        elmi_log(ELM_LOG_WARN, "%s: %s = %lld is outside the vocabulary (%d tokens); using %d", path, key,
                 (long long)v, t->n_vocab, *id);
        return ELM_OK;
    }
    *id = (elm_token)v;
    return ELM_OK;
}

static elm_status read_bool(const elm_gguf *g, const char *key, bool *out) {
    if (!has_key(g, key)) return ELM_OK;
    return elm_gguf_get_bool(g, key, out);
}

static int32_t find_text(const elm_tokenizer *t, const char *s) {
    size_t n = strlen(s);
    int32_t id = elmi_tok_find(t, s, n, elmi_tok_hash(s, n));
    return id < t->n_vocab ? id : -1;
}

/* Texts that mark chat and end-of-text tokens in vocabularies that do not name them. The
 * first one present wins (llama.cpp takes whichever its hash map shows first). */
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>", NULL};
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", NULL};
static const char *const fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL};
static const char *const fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", NULL};
static const char *const fim_sep_texts[] = {"<|file_sep|>", NULL};

/* If *id is unset, the first of texts in the vocabulary; it becomes a control token. */
static void detect(elm_tokenizer *t, elm_token *id, const char *const *texts) {
    if (*id != ELMI_NO_TOKEN) return;
    for (; *texts; texts++) {
        int32_t k = find_text(t, *texts);
        if (k >= 0) {
            *id = k;
            t->attr[k] |= ELMI_TA_CONTROL;
            return;
        }
    }
}

static void mark_eog(elm_tokenizer *t, elm_token id) {
    if (id >= 0 && id < t->n_vocab) t->attr[id] |= ELMI_TA_EOG;
}

static uint16_t attr_of_type(int32_t type) {
    switch (type) {
    case 1: return ELMI_TA_NORMAL;
    case 2: return ELMI_TA_UNKNOWN;
    case 3: return ELMI_TA_CONTROL;
    case 4: return ELMI_TA_USER_DEFINED;
    case 5: return ELMI_TA_UNUSED;
    case 6: return ELMI_TA_BYTE;
    default: return 0;                  /* undefined: renders as nothing, never matched */
    }
}

static elm_status load_vocab(elm_tokenizer *t, const elm_gguf *g, const char *path) {
    static const char *kt = "tokenizer.ggml.tokens", *ks = "tokenizer.ggml.scores",
                      *ky = "tokenizer.ggml.token_type";
    elm_gguf_value arr;
    uint64_t n;
    elm_status st = elmi_tok_strings(g, path, kt, &arr, &n);
    if (st) return st;
    if (n == 0 || n > (uint64_t)INT32_MAX / 4)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s has %llu tokens; expected 1 to %d", path, kt, (unsigned long long)n,
                          INT32_MAX / 4);
    t->n_vocab = (int32_t)n;

    const void *scores = NULL, *types = NULL;
    elm_gguf_type score_type = ELM_GGUF_FLOAT32;
    if (has_key(g, ks)) {
        uint64_t ns;
        if ((st = elm_gguf_get_array(g, ks, &score_type, &ns, &scores))) return st;
        if (score_type != ELM_GGUF_FLOAT32 && score_type != ELM_GGUF_INT32)
            return elmi_error(ELM_ERR_FORMAT, "%s: %s must be an array of FLOAT32 or INT32", path, ks);
        if (ns < n) return elmi_error(ELM_ERR_FORMAT, "%s: %s has %llu entries for %llu tokens", path, ks,
                                      (unsigned long long)ns, (unsigned long long)n);
    }
    if (has_key(g, ky)) {
        uint64_t nt;
        elm_gguf_type tt;
        if ((st = elm_gguf_get_array(g, ky, &tt, &nt, &types))) return st;
        if (tt != ELM_GGUF_INT32) return elmi_error(ELM_ERR_FORMAT, "%s: %s must be an array of INT32", path, ky);
        if (nt < n) return elmi_error(ELM_ERR_FORMAT, "%s: %s has %llu entries for %llu tokens", path, ky,
                                      (unsigned long long)nt, (unsigned long long)n);
    }

    uint64_t bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        elm_gguf_string s = elmi_tok_string_at(g, &arr, i);
        bytes += (s.len ? s.len : 24) + 1;
    }
    t->text_cap = bytes + 64;
    t->str_cap = n + 2;
    t->text = malloc(t->text_cap);
    t->text_off = malloc(t->str_cap * sizeof *t->text_off);
    t->score = calloc(n, sizeof *t->score);
    t->attr = calloc(n, sizeof *t->attr);
    if (!t->text || !t->text_off || !t->score || !t->attr)
        return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for %llu tokens", path, (unsigned long long)n);
    t->text_off[0] = 0;
    if (!map_build(t, n)) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for %llu tokens", path,
                                            (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        elm_gguf_string s = elmi_tok_string_at(g, &arr, i);
        char empty[32];
        if (s.len == 0) {         /* llama.cpp names empty tokens so they stay unique */
            s.len = (uint64_t)snprintf(empty, sizeof empty, "[EMPTY_%llu]", (unsigned long long)i);
            s.data = empty;
        }
        uint64_t h = elmi_tok_hash(s.data, s.len);
        int32_t dup = elmi_tok_find(t, s.data, s.len, h);
        if (dup >= 0)
            return elmi_error(ELM_ERR_FORMAT, "%s: token %llu repeats the text of token %d ('%.*s')", path,
                              (unsigned long long)i, dup, (int)(s.len > 40 ? 40 : s.len), s.data);
        int32_t id = append_string(t, s.data, s.len);
        if (id < 0) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for the vocabulary", path);
        map_put(&t->map, h, id);
        if (scores) {
            if (score_type == ELM_GGUF_FLOAT32) memcpy(&t->score[i], (const char *)scores + 4 * i, 4);
            else { int32_t v; memcpy(&v, (const char *)scores + 4 * i, 4); t->score[i] = (float)v; }
        }
        if (types) {
            int32_t v;
            memcpy(&v, (const char *)types + 4 * i, 4);
            t->attr[i] = attr_of_type(v);
        } else {
            t->attr[i] = ELMI_TA_NORMAL;
        }
    }
    return ELM_OK;
}

/* The byte a <0xXX> token stands for (hex digits read as far as they go, like strtol). */
static int byte_of_token(const char *s, uint64_t n) {
    int v = 0;
    for (uint64_t i = 3; i < n && i < 5; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        if (d < 0) break;
        v = v * 16 + d;
    }
    return v;
}

/* GPT-2 characters back to bytes; a character that is not one becomes a visible marker,
 * as llama.cpp writes it. Returns bytes written to out (NULL: just count). */
static uint64_t decode_gpt2_text(const char *s, uint64_t n, char *out) {
    uint64_t w = 0;
    for (uint64_t i = 0; i < n;) {
        size_t k;
        uint32_t cp = elmi_utf8_decode((const unsigned char *)s + i, n - i, &k);
        int b = elmi_gpt2_cp_to_byte(cp);
        if (b >= 0) {
            if (out) out[w] = (char)b;
            w++;
        } else {
            char enc[4], hex[8];
            size_t ne = elmi_utf8_encode(cp, enc);
            static const char pre[] = "[UNK_BYTE_0x";
            if (out) memcpy(out + w, pre, sizeof pre - 1);
            w += sizeof pre - 1;
            for (size_t j = 0; j < ne; j++) {
                snprintf(hex, sizeof hex, "%02x", (unsigned char)enc[j]);
                if (out) memcpy(out + w, hex, 2);
                w += 2;
            }
            if (out) memcpy(out + w, s, n);
            w += n;
            if (out) out[w] = ']';
            w++;
        }
        i += k;
    }
    return w;
}

/* Rendered text of token id (special tokens as their text); out NULL: just count. */
static uint64_t render(const elm_tokenizer *t, int32_t id, char *out) {
    const char *s = elmi_tok_str(t, id);
    uint64_t n = elmi_tok_len(t, id);
    uint16_t a = t->attr[id];
    if (a & (ELMI_TA_UNKNOWN | ELMI_TA_CONTROL | ELMI_TA_USER_DEFINED)) {
        if (out) memcpy(out, s, n);
        return n;
    }
    if (a & ELMI_TA_NORMAL) {
        if (t->kind == ELMI_TOK_BPE) return decode_gpt2_text(s, n, out);
        uint64_t w = 0;                 /* SentencePiece: U+2581 back to a space */
        for (uint64_t i = 0; i < n;) {
            if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                if (out) out[w] = ' ';
                w++;
                i += 3;
            } else {
                if (out) out[w] = s[i];
                w++;
                i++;
            }
        }
        return w;
    }
    if (a & ELMI_TA_BYTE) {
        if (out) out[0] = (char)byte_of_token(s, n);
        return 1;
    }
    return 0;                           /* unused and undefined tokens render as nothing */
}

static elm_status build_pieces(elm_tokenizer *t, const char *path) {
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        total += render(t, i, NULL);
        if (total > MAX_PIECE_BYTES)
            return elmi_error(ELM_ERR_FORMAT, "%s: the tokens' texts render to more than %llu bytes", path,
                              (unsigned long long)MAX_PIECE_BYTES);
    }
    t->piece = malloc(total ? total : 1);
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    if (!t->piece || !t->piece_off) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for token pieces", path);
    uint64_t at = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = at;
        at += render(t, i, t->piece + at);
    }
    t->piece_off[t->n_vocab] = at;
    return ELM_OK;
}

/* Special tokens, longest text first (then by id): the order llama.cpp matches them in. */
typedef struct len_id { uint64_t len; int32_t id; } len_id;
static int cmp_special(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static inline uint64_t trie_key(uint32_t node, unsigned char c) { return ((uint64_t)node << 8 | c) + 1; }
static inline uint64_t trie_slot(uint64_t key, uint64_t mask) { return ((key * 0x9E3779B97F4A7C15ull) >> 24) & mask; }

static int64_t trie_child(const elmi_trie *tr, uint32_t node, unsigned char c) {
    uint64_t key = trie_key(node, c);
    for (uint64_t i = trie_slot(key, tr->mask);; i = (i + 1) & tr->mask) {
        if (tr->keys[i] == 0) return -1;
        if (tr->keys[i] == key) return tr->child[i];
    }
}

static elm_status build_specials(elm_tokenizer *t, const char *path) {
    int32_t n = 0;
    uint64_t bytes = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (ELMI_TA_CONTROL | ELMI_TA_USER_DEFINED | ELMI_TA_UNKNOWN)) { n++; bytes += elmi_tok_len(t, i); }
    t->n_special = n;
    t->special = malloc((n ? (size_t)n : 1) * sizeof *t->special);
    elmi_trie *tr = &t->trie;
    uint64_t slots = 64;
    while (slots < 2 * bytes) slots *= 2;
    tr->keys = calloc(slots, sizeof *tr->keys);
    tr->child = malloc(slots * sizeof *tr->child);
    tr->terminal = malloc((bytes + 1) * sizeof *tr->terminal);
    tr->mask = slots - 1;
    if (!t->special || !tr->keys || !tr->child || !tr->terminal)
        return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for %d special tokens", path, n);
    len_id *order = malloc((n ? (size_t)n : 1) * sizeof *order);
    if (!order) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for %d special tokens", path, n);
    n = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->attr[i] & (ELMI_TA_CONTROL | ELMI_TA_USER_DEFINED | ELMI_TA_UNKNOWN))
            order[n++] = (len_id){elmi_tok_len(t, i), i};
    qsort(order, (size_t)n, sizeof *order, cmp_special);
    for (int32_t k = 0; k < n; k++) t->special[k] = order[k].id;
    free(order);

    tr->n_nodes = 1;
    tr->terminal[0] = -1;
    for (int32_t k = 0; k < n; k++) {
        const unsigned char *s = (const unsigned char *)elmi_tok_str(t, t->special[k]);
        uint64_t len = elmi_tok_len(t, t->special[k]);
        if (len == 0) continue;
        tr->first_byte[s[0] >> 3] |= (uint8_t)(1u << (s[0] & 7));
        uint32_t node = 0;
        for (uint64_t j = 0; j < len; j++) {
            int64_t c = trie_child(tr, node, s[j]);
            if (c < 0) {
                uint64_t key = trie_key(node, s[j]), i = trie_slot(key, tr->mask);
                while (tr->keys[i] != 0) i = (i + 1) & tr->mask;
                tr->keys[i] = key;
                tr->child[i] = tr->n_nodes;
                tr->terminal[tr->n_nodes] = -1;
                c = tr->n_nodes++;
            }
            node = (uint32_t)c;
        }
        if (tr->terminal[node] < 0) tr->terminal[node] = k;
    }
    return ELM_OK;
}

/* True when no token has a "▁" (U+2581) at byte offset > 0 that is not preceded by
 * another "▁": then no token can span a "▁" that follows anything else, and
 * tokenizer_spm.c may merge the words between such spaces independently. */
static bool spm_words_independent(const elm_tokenizer *t) {
    static const char sp[3] = {'\xE2', '\x96', '\x81'};
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = elmi_tok_str(t, id);
        uint64_t n = elmi_tok_len(t, id);
        for (uint64_t i = 1; i + 3 <= n; i++) {
            if (memcmp(s + i, sp, 3) != 0) continue;
            if (i < 3 || memcmp(s + i - 3, sp, 3) != 0) return false;
        }
    }
    return true;
}

static elm_status load(elm_tokenizer *t, const elm_gguf *g, const char *path) {
    elm_gguf_string model, pre = {"default", 7};
    if (!has_key(g, "tokenizer.ggml.model"))
        return elmi_error(ELM_ERR_NOT_FOUND, "%s: no tokenizer (tokenizer.ggml.model is missing)", path);
    elm_status st = elm_gguf_get_string(g, "tokenizer.ggml.model", &model);
    if (st) return st;
    if (has_key(g, "tokenizer.ggml.pre") && (st = elm_gguf_get_string(g, "tokenizer.ggml.pre", &pre))) return st;

    const elmi_pre_info *pi = NULL;
    if (model.len == 5 && memcmp(model.data, "llama", 5) == 0) {
        t->kind = ELMI_TOK_SPM;
        t->bos = 1; t->eos = 2; t->unk = 0;
        t->add_space_prefix = true;
        t->add_bos = true;
    } else if (model.len == 4 && memcmp(model.data, "gpt2", 4) == 0) {
        t->kind = ELMI_TOK_BPE;
        t->bos = 11; t->eos = 11;      /* llama.cpp's defaults (Falcon's <|endoftext|>) */
        pi = elmi_pre_lookup(pre.data, pre.len);
        if (!pi)
            return elmi_error(ELM_ERR_UNSUPPORTED, "%s: unknown pre-tokenizer tokenizer.ggml.pre = '%.*s'", path,
                              (int)(pre.len > 40 ? 40 : pre.len), pre.data);
        t->pre = pi->type;
        t->clean_spaces = pi->clean_spaces;
        t->ignore_merges = pi->ignore_merges;
        t->add_bos = pi->add_bos;
        if (pi->no_bos) t->bos = ELMI_NO_TOKEN;
    } else {
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model = '%.*s' is not supported (only 'llama' "
                          "and 'gpt2')", path, (int)(model.len > 40 ? 40 : model.len), model.data);
    }
    snprintf(t->model_name, sizeof t->model_name, "%s", t->kind == ELMI_TOK_SPM ? "llama" : "gpt2");
    snprintf(t->pre_name, sizeof t->pre_name, "%.*s", (int)(pre.len < 47 ? pre.len : 47), pre.data);
    if ((st = read_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix))) return st;

    if ((st = load_vocab(t, g, path))) return st;
    if (t->kind == ELMI_TOK_BPE && (st = elmi_bpe_load(t, g, path))) return st;

    t->eot = t->eom = t->sep = t->pad = t->mask_id = ELMI_NO_TOKEN;
    t->fim_pre = t->fim_suf = t->fim_mid = t->fim_pad = t->fim_rep = t->fim_sep = ELMI_NO_TOKEN;
    if (t->kind == ELMI_TOK_BPE) t->unk = ELMI_NO_TOKEN;
    elm_token *defaults[] = {&t->bos, &t->eos, &t->unk};
    for (size_t i = 0; i < 3; i++)
        if (*defaults[i] >= t->n_vocab) *defaults[i] = ELMI_NO_TOKEN;
    static const struct { const char *key; size_t off; } ids[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(elm_tokenizer, bos)},
        {"tokenizer.ggml.eos_token_id", offsetof(elm_tokenizer, eos)},
        {"tokenizer.ggml.eot_token_id", offsetof(elm_tokenizer, eot)},
        {"tokenizer.ggml.eom_token_id", offsetof(elm_tokenizer, eom)},
        {"tokenizer.ggml.unknown_token_id", offsetof(elm_tokenizer, unk)},
        {"tokenizer.ggml.seperator_token_id", offsetof(elm_tokenizer, sep)},
        {"tokenizer.ggml.padding_token_id", offsetof(elm_tokenizer, pad)},
        {"tokenizer.ggml.mask_token_id", offsetof(elm_tokenizer, mask_id)},
        {"tokenizer.ggml.fim_pre_token_id", offsetof(elm_tokenizer, fim_pre)},
        {"tokenizer.ggml.fim_suf_token_id", offsetof(elm_tokenizer, fim_suf)},
        {"tokenizer.ggml.fim_mid_token_id", offsetof(elm_tokenizer, fim_mid)},
        {"tokenizer.ggml.fim_pad_token_id", offsetof(elm_tokenizer, fim_pad)},
        {"tokenizer.ggml.fim_rep_token_id", offsetof(elm_tokenizer, fim_rep)},
        {"tokenizer.ggml.fim_sep_token_id", offsetof(elm_tokenizer, fim_sep)},
        {"tokenizer.ggml.prefix_token_id", offsetof(elm_tokenizer, fim_pre)},
        {"tokenizer.ggml.suffix_token_id", offsetof(elm_tokenizer, fim_suf)},
        {"tokenizer.ggml.middle_token_id", offsetof(elm_tokenizer, fim_mid)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if ((st = read_id(t, g, path, ids[i].key, (elm_token *)((char *)t + ids[i].off)))) return st;
    }
    if ((st = read_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos))) return st;
    if ((st = read_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos))) return st;
    if (t->add_bos && t->bos == ELMI_NO_TOKEN)
        return elmi_error(ELM_ERR_FORMAT, "%s: tokenizer.ggml.add_bos_token is true but there is no BOS token", path);
    if (t->add_eos && t->eos == ELMI_NO_TOKEN)
        return elmi_error(ELM_ERR_FORMAT, "%s: tokenizer.ggml.add_eos_token is true but there is no EOS token", path);

    /* end-of-generation tokens, by id and by well-known text */
    detect(t, &t->eot, eot_texts);
    static const char *const eom_texts[] = {"<|eom_id|>", NULL};
    detect(t, &t->eom, eom_texts);
    detect(t, &t->fim_pad, fim_pad_texts);
    detect(t, &t->fim_rep, fim_rep_texts);
    detect(t, &t->fim_sep, fim_sep_texts);
    for (const char *const *s = eog_texts; *s; s++) {
        int32_t k = find_text(t, *s);
        if (k >= 0) { t->attr[k] |= ELMI_TA_CONTROL; mark_eog(t, k); }
    }
    mark_eog(t, t->eos);
    mark_eog(t, t->eot);
    mark_eog(t, t->eom);
    mark_eog(t, t->fim_pad);
    mark_eog(t, t->fim_rep);
    mark_eog(t, t->fim_sep);

    if ((st = build_specials(t, path))) return st;

    /* llama.cpp's Phi-3 rule: special tokens eat the spaces after them, except these */
    elm_gguf_string name;
    if (has_key(g, "general.name") && elm_gguf_get_string(g, "general.name", &name) == ELM_OK) {
        char low[64];
        size_t n = name.len < sizeof low - 1 ? name.len : sizeof low - 1;
        for (size_t i = 0; i < n; i++) {
            char c = name.data[i];
            low[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        low[n] = '\0';
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (int32_t k = 0; k < t->n_special; k++) t->attr[t->special[k]] |= ELMI_TA_RSTRIP;
            int32_t k = find_text(t, "</s>");
            if (k >= 0) t->attr[k] |= ELMI_TA_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (size_t i = 0; i < 3; i++)
                if ((k = find_text(t, keep[i])) >= 0) t->attr[k] &= (uint16_t)~ELMI_TA_RSTRIP;
        }
    }

    if (t->kind == ELMI_TOK_SPM) t->spm_word_split = spm_words_independent(t);
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        t->byte_token[b] = find_text(t, hex);
        if (t->byte_token[b] < 0) {
            char one = (char)b;
            t->byte_token[b] = elmi_tok_token(t, &one, 1);
        }
    }
    return build_pieces(t, path);
}

elm_status elm_tokenizer_create(const elm_gguf *g, elm_tokenizer **out) {
    if (!g || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_tokenizer_create: NULL argument");
    elm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return elmi_error(ELM_ERR_NOMEM, "elm_tokenizer_create: out of memory");
    const char *path = elm_gguf_path(g);
    elm_status st = load(t, g, path ? path : "(memory)");
    if (st) { elm_tokenizer_free(t); return st; }
    *out = t;
    return ELM_OK;
}

void elm_tokenizer_free(elm_tokenizer *t) {
    if (!t) return;
    free(t->text);
    free(t->text_off);
    free(t->score);
    free(t->attr);
    free(t->map.slots);
    free(t->map.hashes);
    free(t->piece);
    free(t->piece_off);
    free(t->special);
    free(t->trie.keys);
    free(t->trie.child);
    free(t->trie.terminal);
    free(t->merges.keys);
    free(t->merges.rank);
    free(t->merges.result);
    free(t);
}

/* ==== Special tokens in text ============================================================== */

/* One stretch of the input: plain text, or a special token found in it. */
typedef struct fragment {
    int32_t token;           /* the special token, or -1 for text */
    size_t start, len;       /* bytes of text */
} fragment;

typedef struct occurrence {
    int32_t rank;            /* index into t->special: lower matches first (accepted: the id) */
    uint32_t pos;            /* byte offset */
} occurrence;

static int cmp_occurrence(const void *a, const void *b) {
    const occurrence *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static int cmp_position(const void *a, const void *b) {
    const occurrence *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static inline bool c_isspace(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Cut text into fragments as llama.cpp's tokenizer_st_partition does: for each special
 * token in order (longest first), every occurrence that lies wholly inside text not yet
 * claimed, leftmost first, becomes that token (eating neighbouring spaces for LSTRIP /
 * RSTRIP tokens). We find all occurrences with the trie and replay that order. */
static elm_status partition(const elm_tokenizer *t, const char *text, size_t len, bool parse_special,
                            elmi_scratch *sc, fragment **frags, size_t *n_frags) {
    const unsigned char *u = (const unsigned char *)text;
    const elmi_trie *tr = &t->trie;
    occurrence *occ = NULL;
    size_t n_occ = 0, cap_occ = 0;
    for (size_t p = 0; p < len && t->n_special > 0; p++) {
        if (!(tr->first_byte[u[p] >> 3] & (1u << (u[p] & 7)))) continue;
        uint32_t node = 0;
        for (size_t q = p; q < len; q++) {
            int64_t c = trie_child(tr, node, u[q]);
            if (c < 0) break;
            node = (uint32_t)c;
            int32_t k = tr->terminal[node];
            if (k < 0) continue;
            uint16_t a = t->attr[t->special[k]];
            /* without parse_special only user-defined tokens are recognised */
            if (!parse_special && (a & (ELMI_TA_CONTROL | ELMI_TA_UNKNOWN))) continue;
            if (n_occ == cap_occ) {
                cap_occ = cap_occ * 2 + 64;
                occurrence *o = elmi_scratch_grow(sc, 8, cap_occ * sizeof *o);
                if (!o) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for special tokens");
                occ = o;
            }
            occ[n_occ++] = (occurrence){k, (uint32_t)p};
        }
    }
    fragment *f = elmi_scratch_get(sc, 9, (2 * n_occ + 1) * sizeof *f);
    if (!f) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for special tokens");
    *frags = f;
    if (n_occ == 0) {
        *n_frags = len ? 1 : 0;
        f[0] = (fragment){-1, 0, len};
        return ELM_OK;
    }
    qsort(occ, n_occ, sizeof *occ, cmp_occurrence);
    /* claim[i]: 0 free text, 1 start of an accepted token, 2 rest of it or an eaten space */
    unsigned char *claim = elmi_scratch_get(sc, 10, len);
    if (!claim) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for special tokens");
    memset(claim, 0, len);
    occurrence *acc = elmi_scratch_get(sc, 11, n_occ * sizeof *acc);   /* accepted: (id, pos) */
    if (!acc) return elmi_error(ELM_ERR_NOMEM, "tokenize: out of memory for special tokens");
    size_t n_acc = 0;
    for (size_t i = 0; i < n_occ; i++) {
        int32_t id = t->special[occ[i].rank];
        size_t p = occ[i].pos, n = elmi_tok_len(t, id);
        bool free_text = true;
        for (size_t j = p; j < p + n; j++) if (claim[j]) { free_text = false; break; }
        if (!free_text) continue;
        claim[p] = 1;
        memset(claim + p + 1, 2, n - 1);
        acc[n_acc++] = (occurrence){id, occ[i].pos};
        uint16_t a = t->attr[id];
        if (a & ELMI_TA_LSTRIP)
            for (size_t j = p; j > 0 && !claim[j - 1] && c_isspace(u[j - 1]); j--) claim[j - 1] = 2;
        if (a & ELMI_TA_RSTRIP)
            for (size_t j = p + n; j < len && !claim[j] && c_isspace(u[j]); j++) claim[j] = 2;
    }
    /* accepted tokens in text order, with the free text between them */
    qsort(acc, n_acc, sizeof *acc, cmp_position);
    size_t nf = 0, k = 0;
    for (size_t p = 0; p < len;) {
        if (claim[p] == 0) {
            size_t q = p;
            while (q < len && claim[q] == 0) q++;
            f[nf++] = (fragment){-1, p, q - p};
            p = q;
        } else if (claim[p] == 1) {
            while (acc[k].pos != p) k++;        /* acc is sorted by position */
            f[nf++] = (fragment){acc[k].rank, p, elmi_tok_len(t, acc[k].rank)};
            p++;
        } else {
            p++;
        }
    }
    *n_frags = nf;
    return ELM_OK;
}

/* ==== Tokenize ============================================================================ */

elm_status elm_tokenize(const elm_tokenizer *t, const char *text, size_t len, uint32_t flags, elm_token *out,
                        int32_t max_tokens, int32_t *n_out) {
    if (!t || !n_out || (!text && len > 0) || max_tokens < 0 || (!out && max_tokens > 0))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_tokenize: NULL or negative argument");
    if (flags & ~(ELM_TOKENIZE_ADD_SPECIAL | ELM_TOKENIZE_PARSE_SPECIAL))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_tokenize: unknown flags 0x%x", flags);
    if (len > MAX_TEXT_BYTES)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_tokenize: %zu bytes of text is more than the %zu accepted", len,
                          MAX_TEXT_BYTES);
    bool add_special = flags & ELM_TOKENIZE_ADD_SPECIAL;
    elmi_scratch sc = {0};
    elmi_tok_out o = {0};
    fragment *frag = NULL;
    size_t n_frag = 0;
    elm_status st = partition(t, text, len, flags & ELM_TOKENIZE_PARSE_SPECIAL, &sc, &frag, &n_frag);
    if (st) goto done;

    if (add_special && t->add_bos) elmi_tok_push(&o, t->bos);
    bool prev_special = true;            /* SentencePiece: a space before text that starts
                                            the input or follows a special token */
    for (size_t i = 0; i < n_frag && !st; i++) {
        if (frag[i].token >= 0) {
            elmi_tok_push(&o, frag[i].token);
            prev_special = true;
            continue;
        }
        if (t->kind == ELMI_TOK_SPM)
            st = elmi_spm_tokenize(t, text + frag[i].start, frag[i].len, t->add_space_prefix && prev_special, &sc, &o);
        else
            st = elmi_bpe_tokenize(t, text + frag[i].start, frag[i].len, &sc, &o);
        prev_special = false;
    }
    if (st) goto done;
    if (add_special && t->add_eos) elmi_tok_push(&o, t->eos);
    if (o.failed) { st = elmi_error(ELM_ERR_NOMEM, "elm_tokenize: out of memory for the token list"); goto done; }
    if (o.n > INT32_MAX) { st = elmi_error(ELM_ERR_INVALID_ARG, "elm_tokenize: more than 2^31 tokens"); goto done; }
    *n_out = (int32_t)o.n;
    if (o.n > max_tokens) {
        st = elmi_error(ELM_ERR_INVALID_ARG, "elm_tokenize: the text needs %lld tokens, more than max_tokens = %d",
                        (long long)o.n, max_tokens);
        goto done;
    }
    if (o.n) memcpy(out, o.ids, (size_t)o.n * sizeof *out);
done:
    free(o.ids);
    elmi_scratch_free(&sc);
    return st;
}

/* ==== Text from tokens ===================================================================== */

static bool valid_token(const elm_tokenizer *t, elm_token tok) { return t && tok >= 0 && tok < t->n_vocab; }

/* The bytes a token shows as (empty for control and unknown tokens unless rendered). */
static const char *piece_of(const elm_tokenizer *t, elm_token tok, bool render_special, size_t *n) {
    if (!render_special && (t->attr[tok] & (ELMI_TA_UNKNOWN | ELMI_TA_CONTROL))) { *n = 0; return ""; }
    *n = (size_t)(t->piece_off[tok + 1] - t->piece_off[tok]);
    return t->piece + t->piece_off[tok];
}

elm_status elm_token_to_piece(const elm_tokenizer *t, elm_token tok, bool render_special, char *buf, size_t cap,
                              size_t *n_out) {
    if (!valid_token(t, tok) || !n_out || (!buf && cap > 0))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_token_to_piece: bad argument (token %d)", tok);
    size_t n;
    const char *p = piece_of(t, tok, render_special, &n);
    *n_out = n;
    if (n > cap) return elmi_error(ELM_ERR_INVALID_ARG, "elm_token_to_piece: %zu bytes needed, %zu given", n, cap);
    if (n) memcpy(buf, p, n);
    return ELM_OK;
}

/* llama.cpp's clean-up of detokenized text for vocabularies that ask for it: no space
 * before ? ! . , ; " ' " loses its spaces; " 's", " 'm", " 're", " 've" lose the space.
 * In place; returns the new length. */
static size_t clean_spaces(char *s, size_t n) {
    if (n == 0) return 0;
    size_t w = 1;
    for (size_t i = 1; i < n; i++) {                  /* " ?" " !" " ." " ," */
        char x = s[i];
        if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) w--;
        s[w++] = x;
    }
    n = w;
    w = 1;
    for (size_t i = 1; i < n; i++) {                  /* " ' " -> "'" */
        char x = s[i];
        if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
            w--;
            s[++i] = '\0';   /* the next space is dropped; it also stops a following match */
        }
        s[w++] = x;
    }
    n = w;
    w = 1;
    for (size_t i = 1; i < n; i++) {                  /* " 's" " 'm" " 're" " 've" */
        char x = s[i];
        if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = s[i + 1];
            if (x1 == 's' || x1 == 'm') w--;
            else if (i + 2 < n && ((x1 == 'r' && s[i + 2] == 'e') || (x1 == 'v' && s[i + 2] == 'e'))) w--;
        }
        s[w++] = x;
    }
    return w;
}

/* Whether the token at index i of a sequence loses its leading space: SentencePiece's
 * dummy prefix is removed from the first token, or from the second after a BOS. */
static bool strips_space(const elm_tokenizer *t, const elm_token *tokens, int32_t i) {
    if (!t->add_space_prefix) return false;
    if (i == 0) return tokens[0] != t->bos;
    return i == 1 && tokens[0] == t->bos;
}

static size_t write_raw(const elm_tokenizer *t, const elm_token *tokens, int32_t n, bool render_special, char *out) {
    size_t w = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t k;
        const char *p = piece_of(t, tokens[i], render_special, &k);
        if (k && p[0] == ' ' && strips_space(t, tokens, i)) { p++; k--; }
        if (out) memcpy(out + w, p, k);
        w += k;
    }
    return w;
}

elm_status elm_detokenize(const elm_tokenizer *t, const elm_token *tokens, int32_t n, bool render_special, char *buf,
                          size_t cap, size_t *n_out) {
    if (!t || !n_out || n < 0 || (!tokens && n > 0) || (!buf && cap > 0))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_detokenize: NULL or negative argument");
    for (int32_t i = 0; i < n; i++)
        if (!valid_token(t, tokens[i]))
            return elmi_error(ELM_ERR_INVALID_ARG, "elm_detokenize: token %d (at %d) is not in the vocabulary (%d)",
                              tokens[i], i, t->n_vocab);
    size_t raw = write_raw(t, tokens, n, render_special, NULL);
    size_t need = raw;
    if (raw <= cap) {
        write_raw(t, tokens, n, render_special, buf);
        if (t->clean_spaces) need = clean_spaces(buf, raw);
    } else if (t->clean_spaces) {
        /* the cleaned text may still fit: find out */
        char *tmp = malloc(raw);
        if (!tmp) return elmi_error(ELM_ERR_NOMEM, "elm_detokenize: out of memory for %zu bytes", raw);
        write_raw(t, tokens, n, render_special, tmp);
        need = clean_spaces(tmp, raw);
        if (need <= cap) memcpy(buf, tmp, need);
        free(tmp);
    }
    *n_out = need;
    if (need > cap) return elmi_error(ELM_ERR_INVALID_ARG, "elm_detokenize: %zu bytes needed, %zu given", need, cap);
    if (need < cap) buf[need] = '\0';
    return ELM_OK;
}

/* ==== Streaming ============================================================================ */

/* Append the complete characters of pending ++ p to out (NULL: count only), U+FFFD for
 * each byte that cannot start a valid character; an unfinished character at the end goes
 * to rest (at most 3 bytes). Returns bytes written. */
static size_t assemble(const char *pending, size_t pl, const char *p, size_t n, char *out, char *rest,
                       size_t *rest_len) {
    size_t total = pl + n, w = 0;
    *rest_len = 0;
    for (size_t i = 0; i < total;) {
        unsigned char b[4];
        size_t m = 0;
        for (; m < 4 && i + m < total; m++) b[m] = (unsigned char)(i + m < pl ? pending[i + m] : p[i + m - pl]);
        int k = elmi_utf8_check(b, m);
        if (k > 0) {
            if (out) memcpy(out + w, b, (size_t)k);
            w += (size_t)k;
            i += (size_t)k;
        } else if (k == 0) {
            if (out) memcpy(out + w, "\xEF\xBF\xBD", 3);
            w += 3;
            i++;
        } else {
            memcpy(rest, b, m);          /* m < 4: the rest of the input */
            *rest_len = m;
            break;
        }
    }
    return w;
}

void elm_detok_stream_init(elm_detok_stream *s, const elm_tokenizer *t, bool render_special) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->tok = t;
    s->render_special = render_special;
    s->at_start = true;
}

elm_status elm_detok_stream_push(elm_detok_stream *s, elm_token tok, char *buf, size_t cap, size_t *n_out) {
    if (!s || !n_out || (!buf && cap > 0) || !valid_token(s->tok, tok) || s->pending_len > 3)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_detok_stream_push: bad argument (token %d)", tok);
    const elm_tokenizer *t = s->tok;
    size_t n;
    const char *p = piece_of(t, tok, s->render_special, &n);
    bool first = s->at_start && tok != t->bos;
    if (first && t->add_space_prefix && n && p[0] == ' ') { p++; n--; }
    char rest[4];
    size_t rest_len;
    size_t need = assemble(s->pending, s->pending_len, p, n, NULL, rest, &rest_len);
    *n_out = need;
    if (need > cap)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_detok_stream_push: %zu bytes needed, %zu given", need, cap);
    assemble(s->pending, s->pending_len, p, n, buf, rest, &rest_len);
    memcpy(s->pending, rest, rest_len);
    s->pending_len = (uint32_t)rest_len;
    if (tok != t->bos) s->at_start = false;
    return ELM_OK;
}

elm_status elm_detok_stream_flush(elm_detok_stream *s, char *buf, size_t cap, size_t *n_out) {
    if (!s || !n_out || (!buf && cap > 0))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_detok_stream_flush: NULL argument");
    size_t need = s->pending_len ? 3 : 0;     /* an unfinished character: one U+FFFD */
    *n_out = need;
    if (need > cap)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_detok_stream_flush: %zu bytes needed, %zu given", need, cap);
    if (need) memcpy(buf, "\xEF\xBF\xBD", 3);
    s->pending_len = 0;
    return ELM_OK;
}

/* ==== Vocabulary facts ===================================================================== */

int32_t elm_vocab_size(const elm_tokenizer *t) { return t ? t->n_vocab : 0; }
elm_token elm_token_bos(const elm_tokenizer *t) { return t ? t->bos : ELMI_NO_TOKEN; }
elm_token elm_token_eos(const elm_tokenizer *t) { return t ? t->eos : ELMI_NO_TOKEN; }
elm_token elm_token_eot(const elm_tokenizer *t) { return t ? t->eot : ELMI_NO_TOKEN; }
elm_token elm_token_pad(const elm_tokenizer *t) { return t ? t->pad : ELMI_NO_TOKEN; }
elm_token elm_token_unk(const elm_tokenizer *t) { return t ? t->unk : ELMI_NO_TOKEN; }
bool elm_token_is_eog(const elm_tokenizer *t, elm_token tok) {
    return valid_token(t, tok) && (t->attr[tok] & ELMI_TA_EOG);
}
bool elm_token_is_control(const elm_tokenizer *t, elm_token tok) {
    return valid_token(t, tok) && (t->attr[tok] & ELMI_TA_CONTROL);
}
const char *elm_token_text(const elm_tokenizer *t, elm_token tok) {
    return valid_token(t, tok) ? elmi_tok_str(t, tok) : NULL;
}
bool elm_tokenizer_adds_bos(const elm_tokenizer *t) { return t && t->add_bos; }
bool elm_tokenizer_adds_eos(const elm_tokenizer *t) { return t && t->add_eos; }
const char *elm_tokenizer_model_name(const elm_tokenizer *t) { return t ? t->model_name : ""; }
const char *elm_tokenizer_pre_name(const elm_tokenizer *t) { return t ? t->pre_name : ""; }
