/* pretokenize.h: the pre-tokenizer splits of byte-level BPE vocabularies (internal).
 *
 * A BPE vocabulary names its pre-tokenizer in tokenizer.ggml.pre. Each one is a list of
 * regular expressions, applied in turn: every expression splits every piece the previous
 * one produced into its matches and the text between them. We implement the expressions
 * llama.cpp uses as hand-written matchers with the same (ECMAScript, leftmost-first)
 * semantics, on code points classified by lib/unicode.h.
 * Must not: allocate, or know about token ids (lib/tokenizer_bpe.c does the merging). */
#ifndef ELM_PRETOKENIZE_H
#define ELM_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef enum elmi_pre_type {
    ELMI_PRE_DEFAULT = 0,    /* "default", or no tokenizer.ggml.pre at all */
    ELMI_PRE_GPT2,           /* gpt-2, mpt, olmo, jais, phi-2, ... */
    ELMI_PRE_LLAMA3,         /* llama-bpe (Llama 3), dbrx, smaug-bpe, chatglm-bpe */
    ELMI_PRE_QWEN2,          /* qwen2, stablelm2, megrez, deepseek-r1-qwen */
    ELMI_PRE_DEEPSEEK_LLM,
    ELMI_PRE_DEEPSEEK_CODER,
    ELMI_PRE_FALCON,
    ELMI_PRE_STARCODER,      /* starcoder, refact, smollm, command-r, codeshell, exaone, minerva-7b */
    ELMI_PRE_PORO,           /* poro-chat, bloom, gpt3-finnish */
    ELMI_PRE_VIKING,
    ELMI_PRE_COUNT
} elmi_pre_type;

/* What a tokenizer.ggml.pre name means, including the vocabulary options llama.cpp ties
 * to it. */
typedef struct elmi_pre_info {
    const char *name;        /* as in tokenizer.ggml.pre */
    elmi_pre_type type;
    bool clean_spaces;       /* detokenize removes " ." style spaces */
    bool ignore_merges;      /* a piece that is a whole token is not merged */
    bool add_bos;            /* BOS is added by default */
    bool no_bos;             /* the vocabulary has no BOS token by default */
} elmi_pre_info;

/* The entry for a tokenizer.ggml.pre value; NULL when we do not know it. */
const elmi_pre_info *elmi_pre_lookup(const char *name, size_t len);

/* Split n code points (cp[i] with flags fl[i] = elmi_unicode_flags(cp[i])) into pieces.
 * buf_a and buf_b each hold n entries; the piece lengths (in code points, all > 0, summing
 * to n) end up in one of them, which is returned, with their count in *n_pieces. */
uint32_t *elmi_pretokenize(elmi_pre_type type, const uint32_t *cp, const uint16_t *fl, size_t n,
                           uint32_t *buf_a, uint32_t *buf_b, size_t *n_pieces);

#endif
