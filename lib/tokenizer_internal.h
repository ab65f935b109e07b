/* tokenizer_internal.h: the shape of an elm_tokenizer, shared by tokenizer.c (vocabulary,
 * special tokens, detokenization), tokenizer_spm.c and tokenizer_bpe.c (internal).
 * Must not: be included outside lib/tokenizer*.c. */
#ifndef ELM_TOKENIZER_INTERNAL_H
#define ELM_TOKENIZER_INTERNAL_H

#include "edgelm.h"
#include "pretokenize.h"

/* Token attributes (a bit set, as llama.cpp keeps them). 0 = undefined type. */
#define ELMI_TA_NORMAL        0x001u
#define ELMI_TA_UNKNOWN       0x002u
#define ELMI_TA_CONTROL       0x004u
#define ELMI_TA_USER_DEFINED  0x008u
#define ELMI_TA_UNUSED        0x010u
#define ELMI_TA_BYTE          0x020u
#define ELMI_TA_LSTRIP        0x040u  /* a matched special token eats the spaces before it */
#define ELMI_TA_RSTRIP        0x080u  /* ... and after it */
#define ELMI_TA_EOG           0x100u  /* ends generation */

#define ELMI_NO_TOKEN (-1)

typedef enum elmi_tok_kind { ELMI_TOK_SPM = 1, ELMI_TOK_BPE = 2 } elmi_tok_kind;

/* A string -> id map with open addressing over ids (slot = id + 1, 0 = empty). The
 * strings are the tokenizer's own (elmi_tok_str). */
typedef struct elmi_strmap {
    uint32_t *slots;
    uint32_t *hashes;        /* low 32 bits of each slot's hash, to skip most compares */
    uint64_t mask;           /* slots - 1 (a power of two minus one) */
} elmi_strmap;

/* Pair of interned ids -> BPE merge (rank, result). */
typedef struct elmi_pairmap {
    uint64_t *keys;          /* (left << 32 | right) + 1; 0 = empty */
    int32_t *rank;
    int32_t *result;         /* interned id of left+right */
    uint64_t mask;
} elmi_pairmap;

/* GPT-2's character for each byte, as UTF-8 (1 or 2 bytes). */
typedef struct elmi_gpt2_chars {
    char c[256][2];
    uint8_t n[256];
} elmi_gpt2_chars;

/* Prefix tree of the special tokens' texts, for finding them in input text. */
typedef struct elmi_trie {
    uint64_t *keys;          /* (node << 8 | byte) + 1; 0 = empty */
    uint32_t *child;
    uint64_t mask;
    int32_t *terminal;       /* per node: index into special[] of the token ending here, or -1 */
    uint32_t n_nodes;
    uint8_t first_byte[32];  /* bit set of bytes that start some special token */
} elmi_trie;

struct elm_tokenizer {
    elmi_tok_kind kind;
    int32_t n_vocab;         /* tokens */
    int32_t n_strings;       /* interned strings: the tokens, then BPE merge parts that are not tokens */

    char *text;              /* every interned string, NUL-terminated, back to back */
    uint64_t *text_off;      /* n_strings + 1 offsets into text (bytes); length = next - this - 1 */
    uint64_t text_cap, str_cap; /* bytes of text, entries of text_off allocated */
    float *score;            /* n_vocab SentencePiece scores */
    uint16_t *attr;          /* n_vocab ELMI_TA_* */
    elmi_strmap map;         /* interned string -> id */

    char *piece;             /* n_vocab rendered pieces (bytes, not NUL-terminated) */
    uint64_t *piece_off;     /* n_vocab + 1 offsets into piece */

    /* special ids, ELMI_NO_TOKEN when absent */
    elm_token bos, eos, eot, eom, unk, sep, pad, mask_id;
    elm_token fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos;
    bool add_space_prefix;   /* SentencePiece's dummy prefix: a space before the text */
    bool clean_spaces;       /* elm_detokenize removes spaces before . , ! ? and some ' */
    bool ignore_merges;      /* BPE: a piece that is a token is emitted whole */
    bool spm_word_split;     /* SPM: no token has a "▁" that follows something else than
                                "▁", so words can be merged one at a time */
    int32_t byte_token[256]; /* SPM: <0xXX> (or the 1-byte string) token of each byte, or -1 */

    /* special tokens recognised in text: control, user-defined and unknown tokens,
     * longest text first, then by id */
    int32_t *special;
    int32_t n_special;
    elmi_trie trie;

    /* BPE */
    elmi_pre_type pre;
    elmi_pairmap merges;
    int32_t n_merges;
    int32_t byte_sym[256];   /* interned id of the GPT-2 character of each byte, or -1 */
    int32_t single_byte[256];/* token of the 1-byte string of each byte, or -1 */
    elmi_gpt2_chars gpt2;

    char model_name[16];     /* "llama" or "gpt2" */
    char pre_name[48];       /* tokenizer.ggml.pre, or "default" */
};

/* Output of the tokenizers: a growing list of ids. */
typedef struct elmi_tok_out {
    elm_token *ids;
    int64_t cap;             /* ids allocated */
    int64_t n;               /* ids written */
    bool failed;             /* an allocation failed: ids are missing */
} elmi_tok_out;

bool elmi_tok_out_grow(elmi_tok_out *o);
static inline void elmi_tok_push(elmi_tok_out *o, elm_token id) {
    if (o->n == o->cap && !elmi_tok_out_grow(o)) return;
    o->ids[o->n++] = id;
}

/* Bytes of interned string id, and its text. */
static inline uint64_t elmi_tok_len(const elm_tokenizer *t, int32_t id) {
    return t->text_off[id + 1] - t->text_off[id] - 1;
}
static inline const char *elmi_tok_str(const elm_tokenizer *t, int32_t id) { return t->text + t->text_off[id]; }

/* The hash every map uses (64 bits). */
uint64_t elmi_tok_hash(const void *s, size_t n);
/* Interned id of the bytes s[0..n), or -1. */
int32_t elmi_tok_find(const elm_tokenizer *t, const char *s, size_t n, uint64_t hash);
/* Token id of s[0..n) (only real tokens, not other interned strings), or -1. */
static inline int32_t elmi_tok_token(const elm_tokenizer *t, const char *s, size_t n) {
    int32_t id = elmi_tok_find(t, s, n, elmi_tok_hash(s, n));
    return id < t->n_vocab ? id : -1;
}

/* Reusable scratch memory of one elm_tokenize call. Slots 0-7 belong to the fragment
 * tokenizers (tokenizer_spm.c, tokenizer_bpe.c), 8-11 to the special-token search. */
typedef struct elmi_scratch {
    void *p[12];
    size_t bytes[12];
} elmi_scratch;
/* At least n bytes in slot i (contents not kept); NULL when out of memory. */
void *elmi_scratch_get(elmi_scratch *s, int i, size_t n);
/* The same, keeping the slot's contents. */
void *elmi_scratch_grow(elmi_scratch *s, int i, size_t n);
void elmi_scratch_free(elmi_scratch *s);

/* Tokenize one fragment of raw text (no special tokens in it). */
elm_status elmi_spm_tokenize(const elm_tokenizer *t, const char *text, size_t len, bool prefix_space,
                             elmi_scratch *sc, elmi_tok_out *o);
elm_status elmi_bpe_tokenize(const elm_tokenizer *t, const char *text, size_t len, elmi_scratch *sc,
                             elmi_tok_out *o);
/* The array of strings under key, for elmi_tok_string_at; *n = its length. Errors name
 * the file and the key. */
elm_status elmi_tok_strings(const elm_gguf *g, const char *path, const char *key, elm_gguf_value *arr, uint64_t *n);
/* Element i of such an array (O(1), no key lookup). */
static inline elm_gguf_string elmi_tok_string_at(const elm_gguf *g, const elm_gguf_value *arr, uint64_t i) {
    elm_gguf_value v;
    if (elm_gguf_array_elem(g, arr, i, &v) != ELM_OK || v.type != ELM_GGUF_STRING) return (elm_gguf_string){"", 0};
    return v.v.s;
}

/* Interned id of s[0..n), adding the string when new; -1 when out of memory. */
int32_t elmi_tok_intern(elm_tokenizer *t, const char *s, size_t n);
/* BPE setup: reads tokenizer.ggml.merges, interning merge parts that are not tokens, and
 * fills byte_sym and single_byte. */
elm_status elmi_bpe_load(elm_tokenizer *t, const elm_gguf *g, const char *path);

#endif
