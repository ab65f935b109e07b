/* edgelm_tokenizer.h: text to token ids and back. Part of <edgelm.h>; include that.
 *
 * The tokenizer is read from a GGUF file's tokenizer.* metadata: SentencePiece BPE
 * ("llama") or byte-level BPE ("gpt2") with the pre-tokenizer that tokenizer.ggml.pre
 * names. A tokenizer is read-only after creation and safe to share between threads.
 */
#ifndef EDGELM_TOKENIZER_H
#define EDGELM_TOKENIZER_H

#include "edgelm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct elm_tokenizer elm_tokenizer;

/* Flags for elm_tokenize. */
#define ELM_TOKENIZE_ADD_SPECIAL   1u  /* add BOS/EOS as the vocab's add_bos/add_eos say */
#define ELM_TOKENIZE_PARSE_SPECIAL 2u  /* recognise special/control token texts in the input */

/* Build a tokenizer from any GGUF with tokenizer metadata (a model or a vocab-only file). */
ELM_API elm_status elm_tokenizer_create(const elm_gguf *g, elm_tokenizer **out);
ELM_API void elm_tokenizer_free(elm_tokenizer *t);
/* The model's tokenizer (built at load; owned by the model). */
ELM_API const elm_tokenizer *elm_model_tokenizer(const elm_model *m);

/* Tokenize len bytes of text (at most 2^30), exactly as llama.cpp's llama_tokenize does.
 * Sets *n_out to the number of tokens the text needs; when that is more than max_tokens,
 * returns ELM_ERR_INVALID_ARG without writing to out, so callers can size a buffer and
 * call again (out may be NULL when max_tokens is 0).
 * ADD_SPECIAL adds BOS/EOS as the vocabulary says (SentencePiece: BOS by default; GPT-2
 * style vocabularies: only when tokenizer.ggml.add_bos_token or their pre-tokenizer, e.g.
 * Llama 3's, asks). User-defined tokens (token type 4) are always recognised in the text;
 * PARSE_SPECIAL adds control tokens such as "<|im_start|>" (longest first, as llama.cpp).
 * Invalid UTF-8 is not an error and gives a defined result, the same as llama.cpp's:
 *   SentencePiece: bytes are grouped by the length their lead byte announces and a group
 *     that is not a token becomes byte tokens <0xXX>: the bytes come back, except that a
 *     space taken into such a group comes back as the bytes of U+2581.
 *   byte-level BPE: each byte that does not start a complete sequence becomes U+FFFD;
 *     overlong forms and surrogates are read as their value (as llama.cpp does). */
ELM_API elm_status elm_tokenize(const elm_tokenizer *t, const char *text, size_t len, uint32_t flags,
                                elm_token *out, int32_t max_tokens, int32_t *n_out);

/* The text of one token as it appears in output (spaces restored, byte tokens as bytes,
 * GPT-2 characters back to bytes; may be part of a UTF-8 character). Sets *n_out to the
 * bytes needed and writes them (no NUL); ELM_ERR_INVALID_ARG when cap is too small.
 * Control and unknown tokens render as their text only when render_special is true;
 * otherwise as nothing. User-defined tokens always render as their text. */
ELM_API elm_status elm_token_to_piece(const elm_tokenizer *t, elm_token tok, bool render_special,
                                      char *buf, size_t cap, size_t *n_out);
/* Detokenize n tokens into buf (NUL-terminated if room). *n_out = bytes needed (no NUL);
 * ELM_ERR_INVALID_ARG when they do not fit. The pieces one after the other, with:
 *   - SentencePiece's dummy prefix removed: the leading space of the first token (or of
 *     the second when the first is BOS);
 *   - llama.cpp's clean-up for vocabularies that ask for it (gpt-2, mpt, starcoder,
 *     falcon, refact, default, llama-bpe, ...; not qwen2, deepseek, smollm): no space
 *     before . , ! ?, " ' " becomes "'", and " 's" " 'm" " 're" " 've" lose the space.
 * So detokenize(tokenize(s)) == s for valid UTF-8 s, except where the clean-up applies,
 * and except spaces eaten next to special tokens that strip them (Phi-3's). */
ELM_API elm_status elm_detokenize(const elm_tokenizer *t, const elm_token *tokens, int32_t n,
                                  bool render_special, char *buf, size_t cap, size_t *n_out);

/* Streaming detokenizer: feed tokens one by one; it emits only complete, valid UTF-8
 * characters and holds back partial ones until they complete (or flushes them as U+FFFD
 * at the end). Bytes that cannot start a valid character become U+FFFD at once, so the
 * output is always valid UTF-8. The dummy prefix is removed as in elm_detokenize; there is
 * no clean-up of spaces, so for valid UTF-8 the stream gives back exactly the input text. */
typedef struct elm_detok_stream {
    const elm_tokenizer *tok;
    bool render_special;
    bool at_start;           /* strip the leading space SentencePiece puts on the first piece;
                                init sets it; set it false when the stream continues text
                                already shown (an answer after its prompt) */
    uint32_t pending_len;    /* internal: bytes held back */
    char pending[16];        /* internal */
} elm_detok_stream;

ELM_API void elm_detok_stream_init(elm_detok_stream *s, const elm_tokenizer *t, bool render_special);
/* Writes the bytes now complete to buf (*n_out = bytes written, or needed: when more than
 * cap, returns ELM_ERR_INVALID_ARG and the stream is unchanged; 3 * (piece bytes + 3)
 * is always enough). */
ELM_API elm_status elm_detok_stream_push(elm_detok_stream *s, elm_token tok, char *buf, size_t cap, size_t *n_out);
ELM_API elm_status elm_detok_stream_flush(elm_detok_stream *s, char *buf, size_t cap, size_t *n_out);

/* Vocabulary facts. Special ids are -1 when the vocab has none (a stored 0xFFFFFFFF
 * means none). The end-of-turn token is tokenizer.ggml.eot_token_id, or else the first of
 * "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", ... present.
 * End-of-generation tokens: EOS, EOT, EOM and those well-known texts (as llama.cpp). */
ELM_API int32_t elm_vocab_size(const elm_tokenizer *t);
ELM_API elm_token elm_token_bos(const elm_tokenizer *t);
ELM_API elm_token elm_token_eos(const elm_tokenizer *t);
ELM_API elm_token elm_token_eot(const elm_tokenizer *t);    /* end of turn (chat), or -1 */
ELM_API elm_token elm_token_pad(const elm_tokenizer *t);
ELM_API elm_token elm_token_unk(const elm_tokenizer *t);
ELM_API bool elm_token_is_eog(const elm_tokenizer *t, elm_token tok); /* ends generation */
ELM_API bool elm_token_is_control(const elm_tokenizer *t, elm_token tok);
/* The raw vocabulary string of a token (as stored in the GGUF), NUL-terminated; NULL for
 * ids outside the vocabulary. Empty tokens read as "[EMPTY_<id>]" (as llama.cpp). */
ELM_API const char *elm_token_text(const elm_tokenizer *t, elm_token tok);
ELM_API bool elm_tokenizer_adds_bos(const elm_tokenizer *t);
ELM_API bool elm_tokenizer_adds_eos(const elm_tokenizer *t);
/* "llama"/"gpt2" and the pre-tokenizer name ("default", "llama-bpe", ...). */
ELM_API const char *elm_tokenizer_model_name(const elm_tokenizer *t);
ELM_API const char *elm_tokenizer_pre_name(const elm_tokenizer *t);

#ifdef __cplusplus
}
#endif
#endif /* EDGELM_TOKENIZER_H */
