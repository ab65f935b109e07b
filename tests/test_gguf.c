/* test_gguf.c: the GGUF reader, writer and the edgelm-gguf tool.
 *
 * Independent truths used here:
 *   - the shared models and vocabularies, checked against the facts their READMEs and the
 *     original models document (shapes, layer counts, vocabulary sizes, known tokens);
 *   - a byte builder in this file that encodes GGUF from the specification, field by
 *     field, without the library: hostile files are made with it, and the writer's output
 *     is compared with it byte for byte;
 *   - python3's json module for the tool's --json output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "edgelm.h"
#include "support.h"

/* ==== A GGUF byte builder, straight from the format description ========================== */

typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

static void bb_put(bb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void bb_u8(bb *b, uint8_t v) { bb_put(b, &v, 1); }
static void bb_u32(bb *b, uint32_t v) { bb_put(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_put(b, &v, 8); }
static void bb_strn(bb *b, const char *s, size_t n) { bb_u64(b, n); bb_put(b, s, n); }
static void bb_str(bb *b, const char *s) { bb_strn(b, s, strlen(s)); }
static void bb_pad(bb *b, size_t a) { while (b->n % a) bb_u8(b, 0); }
static void bb_free(bb *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }

static void header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bb_put(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}
static void kv_u32(bb *b, const char *k, uint32_t v) { bb_str(b, k); bb_u32(b, ELM_GGUF_UINT32); bb_u32(b, v); }
static void kv_str(bb *b, const char *k, const char *v) { bb_str(b, k); bb_u32(b, ELM_GGUF_STRING); bb_str(b, v); }
static void tinfo(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off) {
    bb_str(b, name);
    bb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) bb_u64(b, ne[d]);
    bb_u32(b, type);
    bb_u64(b, off);
}
/* Pad to the alignment and append `bytes` bytes of data (a recognisable pattern). */
static void data(bb *b, size_t align, size_t bytes) {
    bb_pad(b, align);
    for (size_t i = 0; i < bytes; i++) bb_u8(b, (uint8_t)(i * 7 + 1));
}

/* The small valid file the truncation test cuts: three keys (string, u32, array of
 * strings), two tensors (F32 8x2 = 64 bytes at 0, Q8_0 32x2 = 68 bytes at 64). */
static void small_valid(bb *b) {
    header(b, 3, 2, 3);
    kv_str(b, "general.architecture", "llama");
    kv_u32(b, "llama.block_count", 2);
    bb_str(b, "tokenizer.ggml.tokens");
    bb_u32(b, ELM_GGUF_ARRAY);
    bb_u32(b, ELM_GGUF_STRING);
    bb_u64(b, 3);
    bb_str(b, "a");
    bb_str(b, "");
    bb_str(b, "ccc");
    tinfo(b, "t.f32", 2, (uint64_t[]){8, 2}, ELM_TYPE_F32, 0);
    tinfo(b, "t.q8", 2, (uint64_t[]){32, 2}, ELM_TYPE_Q8_0, 64);
    data(b, 32, 64 + 68);
}

/* Open a copy of exactly n bytes (so AddressSanitizer sees any read past the end), and
 * touch every tensor's first and last byte when it opens. */
static elm_status open_copy(const void *p, size_t n) {
    void *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    elm_gguf *h = NULL;
    elm_status st = elm_gguf_open_memory(copy, n, "hostile.gguf", &h);
    if (st == ELM_OK) {
        for (int64_t i = 0; i < elm_gguf_n_tensors(h); i++) {
            const elm_gguf_tensor *t = elm_gguf_tensor_at(h, i);
            volatile uint8_t x = ((const uint8_t *)t->data)[0];
            x = ((const uint8_t *)t->data)[t->bytes - 1];
            (void)x;
        }
        elm_gguf_close(h);
    }
    free(copy);
    return st;
}

static void expect_reject(const bb *b, elm_status want, const char *needle) {
    elm_gguf *g = (elm_gguf *)0x1;
    elm_status st = elm_gguf_open_memory(b->p, b->n, "hostile.gguf", &g);
    if (st != want || !strstr(elm_last_error(), needle))
        print_error("status %s, message '%s'; wanted %s and '%s'\n", elm_status_name(st), elm_last_error(),
                    elm_status_name(want), needle);
    assert_int_equal(st, want);
    assert_ptr_equal(g, (elm_gguf *)0x1);          /* untouched on failure */
    const char *msg = elm_last_error();
    assert_non_null(strstr(msg, "hostile.gguf: "));
    assert_non_null(strstr(msg, needle));
    assert_null(strchr(msg, '\n'));
    if (want == ELM_ERR_FORMAT) assert_non_null(strstr(msg, "offset"));
    assert_int_equal(open_copy(b->p, b->n), want);   /* same under exact-size buffers */
}

/* ==== The shared files ==================================================================== */

typedef struct model_fact {
    const char *file;
    int64_t n_tensors;
    int64_t dim, layers, ffn, n_vocab, kv_dim; /* kv_dim = kv heads * head size */
    bool tied;                                 /* no output.weight */
    bool qkv_bias;
    uint32_t embd_type;                        /* token_embd.weight */
    const char *types;                         /* the set of types of 2-D tensors */
} model_fact;

static const model_fact models[] = {
    {"models/stories260K.gguf", 48, 64, 5, 172, 512, 32, false, false, ELM_TYPE_F32, "F32"},
    {"models/stories260K-f16.gguf", 48, 64, 5, 172, 512, 32, false, false, ELM_TYPE_F16, "F16"},
    {"models/stories260K-bf16.gguf", 48, 64, 5, 172, 512, 32, false, false, ELM_TYPE_BF16, "BF16"},
    {"models/synth-llama-f16.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_F16, "F16"},
    /* llama.cpp gives the (tied) token embedding Q6_K in the legacy and K mixes */
    {"models/synth-llama-q8_0.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q8_0, "Q8_0"},
    {"models/synth-llama-q4_0.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q4_0 Q6_K"},
    {"models/synth-llama-q4_1.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q4_1 Q6_K"},
    {"models/synth-llama-q5_0.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q5_0 Q6_K"},
    {"models/synth-llama-q5_1.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q5_1 Q6_K"},
    {"models/synth-llama-q2_k.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q2_K Q3_K Q6_K"},
    {"models/synth-llama-q3_k_m.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q3_K Q4_K Q5_K Q6_K"},
    {"models/synth-llama-q4_k_m.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q4_K Q6_K"},
    {"models/synth-llama-q5_k_m.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q5_K Q6_K"},
    {"models/synth-llama-q6_k.gguf", 38, 256, 4, 768, 32000, 128, true, false, ELM_TYPE_Q6_K, "Q6_K"},
    {"models/synth-qwen2-q8_0.gguf", 26, 256, 2, 512, 50257, 128, true, true, ELM_TYPE_Q8_0, "Q8_0"},
    {"models/synth-qwen2-q4_k_m.gguf", 26, 256, 2, 512, 50257, 128, true, true, ELM_TYPE_Q6_K, "Q4_K Q6_K"},
};

static void check_shape(const elm_gguf *g, const char *name, uint32_t n_dims, int64_t ne0, int64_t ne1) {
    const elm_gguf_tensor *t = elm_gguf_find_tensor(g, name);
    if (!t) print_error("%s: no tensor %s\n", elm_gguf_path(g), name);
    assert_non_null(t);
    assert_string_equal(t->name, name);
    assert_int_equal(t->n_dims, n_dims);
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1);
    assert_int_equal(t->ne[2], 1);
    assert_int_equal(t->ne[3], 1);
    /* a 1-D tensor (norm, bias) is F32 in every file */
    if (n_dims == 1) assert_int_equal(t->type, ELM_TYPE_F32);
    assert_int_equal(t->bytes, elm_type_row_bytes(t->type, ne0) * (uint64_t)ne1);
}

static void models_open_with_documented_shapes(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        const model_fact *f = &models[m];
        elm_gguf *g = NULL;
        elm_status st = elm_gguf_open(elmt_shared(f->file), NULL, &g);
        if (st) print_error("%s\n", elm_last_error());
        assert_int_equal(st, ELM_OK);
        assert_int_equal(elm_gguf_version(g), 3);
        assert_int_equal(elm_gguf_alignment(g), 32);
        assert_true(elm_gguf_is_mapped(g));
        assert_int_equal(elm_gguf_n_tensors(g), f->n_tensors);

        const char *arch = strstr(f->file, "qwen2") ? "qwen2" : "llama";
        elm_gguf_string s;
        assert_int_equal(elm_gguf_get_string(g, "general.architecture", &s), ELM_OK);
        assert_int_equal(s.len, strlen(arch));
        assert_memory_equal(s.data, arch, s.len);
        char key[64];
        int64_t v;
        snprintf(key, sizeof key, "%s.embedding_length", arch);
        assert_int_equal(elm_gguf_get_int(g, key, &v), ELM_OK);
        assert_int_equal(v, f->dim);
        snprintf(key, sizeof key, "%s.block_count", arch);
        assert_int_equal(elm_gguf_get_int(g, key, &v), ELM_OK);
        assert_int_equal(v, f->layers);
        snprintf(key, sizeof key, "%s.feed_forward_length", arch);
        assert_int_equal(elm_gguf_get_int(g, key, &v), ELM_OK);
        assert_int_equal(v, f->ffn);
        uint64_t n_tok;
        elm_gguf_type et;
        assert_int_equal(elm_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &n_tok, NULL), ELM_OK);
        assert_int_equal(et, ELM_GGUF_STRING);
        assert_int_equal(n_tok, (uint64_t)f->n_vocab);

        check_shape(g, "token_embd.weight", 2, f->dim, f->n_vocab);
        assert_int_equal(elm_gguf_find_tensor(g, "token_embd.weight")->type, f->embd_type);
        check_shape(g, "output_norm.weight", 1, f->dim, 1);
        if (f->tied) assert_null(elm_gguf_find_tensor(g, "output.weight"));
        else check_shape(g, "output.weight", 2, f->dim, f->n_vocab);
        for (int64_t l = 0; l < f->layers; l++) {
            static const char *const names[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
                                                "attn_norm", "ffn_norm"};
            const int64_t shapes[][3] = {{2, f->dim, f->dim}, {2, f->dim, f->kv_dim}, {2, f->dim, f->kv_dim},
                                         {2, f->dim, f->dim}, {2, f->dim, f->ffn}, {2, f->dim, f->ffn},
                                         {2, f->ffn, f->dim}, {1, f->dim, 1}, {1, f->dim, 1}};
            for (int k = 0; k < 9; k++) {
                char name[64];
                snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)l, names[k]);
                check_shape(g, name, (uint32_t)shapes[k][0], shapes[k][1], shapes[k][2]);
                const elm_gguf_tensor *t = elm_gguf_find_tensor(g, name);
                if (t->n_dims == 2) {
                    const char *tn = elm_type_get_info(t->type)->name;
                    const char *hit = strstr(f->types, tn);
                    /* the type is one of the file's documented types (whole word) */
                    assert_non_null(hit);
                    assert_true(hit[strlen(tn)] == '\0' || hit[strlen(tn)] == ' ');
                }
            }
            if (f->qkv_bias) {
                char name[64];
                snprintf(name, sizeof name, "blk.%lld.attn_q.bias", (long long)l);
                check_shape(g, name, 1, f->dim, 1);
                snprintf(name, sizeof name, "blk.%lld.attn_k.bias", (long long)l);
                check_shape(g, name, 1, f->kv_dim, 1);
                snprintf(name, sizeof name, "blk.%lld.attn_v.bias", (long long)l);
                check_shape(g, name, 1, f->kv_dim, 1);
            }
        }
        /* llama.cpp's writer packs tensors in order, each padded to the alignment, and
         * pads the file after the last one: the data section is exactly that long. */
        uint64_t end = 0;
        for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
            const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
            assert_int_equal(t->offset, end);
            assert_ptr_equal(t->data, (const uint8_t *)elm_gguf_mapping(g) + elm_gguf_data_offset(g) + t->offset);
            end += (t->bytes + 31) / 32 * 32;
        }
        assert_int_equal(elm_gguf_data_offset(g) + end, elm_gguf_file_size(g));
        elm_gguf_close(g);
    }
}

static void stories_values_are_the_trained_model(void **state) {
    (void)state;
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open(elmt_shared("models/stories260K.gguf"), NULL, &g), ELM_OK);
    /* documented: output.weight is a separate copy of token_embd.weight */
    const elm_gguf_tensor *e = elm_gguf_find_tensor(g, "token_embd.weight"), *o = elm_gguf_find_tensor(g, "output.weight");
    assert_int_equal(e->bytes, o->bytes);
    assert_memory_equal(e->data, o->data, e->bytes);
    assert_ptr_not_equal(e->data, o->data);
    /* documented: context length 128, 8 heads, 4 KV heads; unset special ids are 0xFFFFFFFF */
    uint64_t u;
    assert_int_equal(elm_gguf_get_uint(g, "llama.context_length", &u), ELM_OK);
    assert_int_equal(u, 128);
    assert_int_equal(elm_gguf_get_uint(g, "llama.attention.head_count", &u), ELM_OK);
    assert_int_equal(u, 8);
    assert_int_equal(elm_gguf_get_uint(g, "llama.attention.head_count_kv", &u), ELM_OK);
    assert_int_equal(u, 4);
    assert_int_equal(elm_gguf_get_uint(g, "tokenizer.ggml.padding_token_id", &u), ELM_OK);
    assert_int_equal(u, 0xFFFFFFFFu);
    double eps;
    assert_int_equal(elm_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps), ELM_OK);
    assert_float_equal(eps, 1e-5, 1e-12);
    /* SentencePiece: 0 <unk>, 1 <s>, 2 </s>, then the 256 byte tokens <0x00>.. */
    elm_gguf_string s;
    assert_int_equal(elm_gguf_get_array_string(g, "tokenizer.ggml.tokens", 1, &s), ELM_OK);
    assert_int_equal(s.len, 3);
    assert_memory_equal(s.data, "<s>", 3);
    assert_int_equal(elm_gguf_get_array_string(g, "tokenizer.ggml.tokens", 3 + 0x41, &s), ELM_OK);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.data, "<0x41>", 6);
    elm_gguf_close(g);
}

typedef struct vocab_fact {
    const char *file, *model;
    uint64_t n_tokens, n_merges;   /* 0: no merges key */
    uint64_t probe_id;
    const char *probe;             /* the token at probe_id */
} vocab_fact;

static const vocab_fact vocabs[] = {
    {"vocab/ggml-vocab-llama-spm.gguf", "llama", 32000, 0, 2, "</s>"},
    {"vocab/ggml-vocab-phi-3.gguf", "llama", 32064, 0, 0, "<unk>"},
    {"vocab/ggml-vocab-gpt-2.gguf", "gpt2", 50257, 50000, 50256, "<|endoftext|>"},
    {"vocab/ggml-vocab-deepseek-coder.gguf", "gpt2", 0, 0, 0, NULL},
    {"vocab/ggml-vocab-deepseek-llm.gguf", "gpt2", 0, 0, 0, NULL},
    {"vocab/ggml-vocab-falcon.gguf", "gpt2", 0, 0, 0, NULL},
    {"vocab/ggml-vocab-mpt.gguf", "gpt2", 0, 0, 0, NULL},
    {"vocab/ggml-vocab-refact.gguf", "gpt2", 0, 0, 0, NULL},
    {"vocab/ggml-vocab-starcoder.gguf", "gpt2", 0, 0, 0, NULL},
};

/* Walk a packed array of strings by hand from the raw bytes get_array returns. */
static void check_string_index(const elm_gguf *g, const char *key) {
    elm_gguf_type et;
    uint64_t n;
    const void *data;
    assert_int_equal(elm_gguf_get_array(g, key, &et, &n, &data), ELM_OK);
    assert_int_equal(et, ELM_GGUF_STRING);
    const uint8_t *p = data;
    const uint8_t *end = (const uint8_t *)elm_gguf_mapping(g) + elm_gguf_file_size(g);
    elm_gguf_value arr;
    int64_t ki = elm_gguf_find_key(g, key);
    assert_true(ki >= 0);
    assert_int_equal(elm_gguf_key_value(g, ki, &arr), ELM_OK);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        assert_true(p + 8 <= end);
        memcpy(&len, p, 8);
        assert_true(len <= (uint64_t)(end - p - 8));
        elm_gguf_string s;
        assert_int_equal(elm_gguf_get_array_string(g, key, i, &s), ELM_OK);
        assert_int_equal(s.len, len);
        assert_ptr_equal(s.data, (const char *)p + 8);
        if (i % 97 == 0 || i == n - 1) {
            elm_gguf_value e;
            assert_int_equal(elm_gguf_array_elem(g, &arr, i, &e), ELM_OK);
            assert_int_equal(e.type, ELM_GGUF_STRING);
            assert_ptr_equal(e.v.s.data, s.data);
        }
        p += 8 + len;
    }
    elm_gguf_string s;
    assert_int_equal(elm_gguf_get_array_string(g, key, n, &s), ELM_ERR_INVALID_ARG);
}

static void vocabs_open_with_documented_contents(void **state) {
    (void)state;
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        const vocab_fact *f = &vocabs[v];
        elm_gguf *g = NULL;
        elm_status st = elm_gguf_open(elmt_shared(f->file), NULL, &g);
        if (st) print_error("%s\n", elm_last_error());
        assert_int_equal(st, ELM_OK);
        assert_int_equal(elm_gguf_n_tensors(g), 0);
        elm_gguf_string s;
        assert_int_equal(elm_gguf_get_string(g, "tokenizer.ggml.model", &s), ELM_OK);
        assert_int_equal(s.len, strlen(f->model));
        assert_memory_equal(s.data, f->model, s.len);
        uint64_t n;
        elm_gguf_type et;
        assert_int_equal(elm_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &n, NULL), ELM_OK);
        if (f->n_tokens) assert_int_equal(n, f->n_tokens);
        assert_true(n > 1000);
        check_string_index(g, "tokenizer.ggml.tokens");
        if (elm_gguf_find_key(g, "tokenizer.ggml.merges") >= 0) check_string_index(g, "tokenizer.ggml.merges");
        if (f->n_merges) {
            assert_int_equal(elm_gguf_get_array(g, "tokenizer.ggml.merges", &et, &n, NULL), ELM_OK);
            assert_int_equal(n, f->n_merges);
        }
        if (f->probe) {
            assert_int_equal(elm_gguf_get_array_string(g, "tokenizer.ggml.tokens", f->probe_id, &s), ELM_OK);
            assert_int_equal(s.len, strlen(f->probe));
            assert_memory_equal(s.data, f->probe, s.len);
        }
        elm_gguf_close(g);
    }
}

static void open_options(void **state) {
    (void)state;
    const char *path = elmt_shared("models/stories260K.gguf");
    size_t size;
    uint8_t *bytes = elmt_read_file(path, &size);
    assert_non_null(bytes);
    elm_gguf_params p = elm_gguf_default_params();
    assert_true(p.use_mmap);
    assert_false(p.prefault);
    assert_false(p.mlock);
    assert_true(p.validate_utf8_keys);

    struct { bool mmap, prefault; } modes[] = {{true, false}, {true, true}, {false, false}};
    for (size_t m = 0; m < 3; m++) {
        p.use_mmap = modes[m].mmap;
        p.prefault = modes[m].prefault;
        elm_gguf *g = NULL;
        assert_int_equal(elm_gguf_open(path, &p, &g), ELM_OK);
        assert_int_equal(elm_gguf_is_mapped(g), modes[m].mmap);
        assert_int_equal(elm_gguf_file_size(g), size);
        assert_memory_equal(elm_gguf_mapping(g), bytes, size);
        assert_string_equal(elm_gguf_path(g), path);
        const elm_gguf_tensor *t = elm_gguf_find_tensor(g, "blk.4.ffn_down.weight");
        assert_non_null(t);
        assert_memory_equal(t->data, bytes + elm_gguf_data_offset(g) + t->offset, t->bytes);
        assert_int_equal((uintptr_t)t->data % 32, 0);
        elm_gguf_close(g);
    }
    /* mlock: either it works, or it fails as an I/O error that says so (RLIMIT_MEMLOCK) */
    p = elm_gguf_default_params();
    p.mlock = true;
    elm_gguf *g = NULL;
    elm_status st = elm_gguf_open(path, &p, &g);
    if (st == ELM_OK) elm_gguf_close(g);
    else {
        assert_int_equal(st, ELM_ERR_IO);
        assert_non_null(strstr(elm_last_error(), "mlock"));
    }
    /* the in-memory variant sees the same file */
    assert_int_equal(elm_gguf_open_memory(bytes, size, "mem.gguf", &g), ELM_OK);
    assert_false(elm_gguf_is_mapped(g));
    assert_ptr_equal(elm_gguf_mapping(g), bytes);
    assert_int_equal(elm_gguf_n_tensors(g), 48);
    elm_gguf_close(g);
    free(bytes);

    assert_int_equal(elm_gguf_open("/nonexistent/x.gguf", NULL, &g), ELM_ERR_IO);
    assert_non_null(strstr(elm_last_error(), "/nonexistent/x.gguf"));
    assert_int_equal(elm_gguf_open("/tmp", NULL, &g), ELM_ERR_IO);
    assert_int_equal(elm_gguf_open(NULL, NULL, &g), ELM_ERR_INVALID_ARG);
    elm_gguf_close(NULL);
}

/* ==== Hostile files ======================================================================= */

static void truncated_at_every_byte(void **state) {
    (void)state;
    bb b = {0};
    small_valid(&b);
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open_memory(b.p, b.n, "hostile.gguf", &g), ELM_OK);
    size_t end = (size_t)(elm_gguf_data_offset(g) + 64 + 68);
    elm_gguf_close(g);
    assert_true(end <= b.n);
    for (size_t k = 0; k < b.n; k++) {
        elm_status st = open_copy(b.p, k);
        if (k < end) {
            if (st != ELM_ERR_FORMAT) print_error("cut at %zu: %s (%s)\n", k, elm_status_name(st), elm_last_error());
            assert_int_equal(st, ELM_ERR_FORMAT);
            assert_non_null(strstr(elm_last_error(), "hostile.gguf: "));
        } else {
            assert_int_equal(st, ELM_OK);   /* only trailing padding was cut */
        }
    }
    /* the same through a real file: a short file names the problem */
    char path[4200];
    snprintf(path, sizeof path, "%s/cut.gguf", elmt_tmpdir());
    for (size_t k = 0; k < 40; k += 13) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(b.p, 1, k, f), k);
        fclose(f);
        assert_int_equal(elm_gguf_open(path, NULL, &g), ELM_ERR_FORMAT);
        assert_non_null(strstr(elm_last_error(), path));
    }
    bb_free(&b);
}

static void bad_headers(void **state) {
    (void)state;
    bb b = {0};
    bb_put(&b, "GGML", 4); bb_u32(&b, 3); bb_u64(&b, 0); bb_u64(&b, 0);
    expect_reject(&b, ELM_ERR_FORMAT, "magic");
    bb_free(&b);
    header(&b, 1, 0, 0);
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "v1");
    bb_free(&b);
    header(&b, 0x03000000u, 0, 0);   /* version 3 written big-endian */
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "big-endian");
    bb_free(&b);
    header(&b, 0x02000000u, 0, 0);
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "big-endian");
    bb_free(&b);
    header(&b, 4, 0, 0);
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "expected 2 or 3");
    bb_free(&b);
    /* v2 has the same layout and is read */
    header(&b, 2, 0, 1);
    kv_u32(&b, "a", 1);
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open_memory(b.p, b.n, "v2.gguf", &g), ELM_OK);
    assert_int_equal(elm_gguf_version(g), 2);
    elm_gguf_close(g);
    bb_free(&b);
}

static void huge_counts_and_lengths(void **state) {
    (void)state;
    const uint64_t huge = 1ull << 60;
    bb b = {0};
    header(&b, 3, 0, huge);
    kv_u32(&b, "a", 1);
    expect_reject(&b, ELM_ERR_FORMAT, "key count");
    bb_free(&b);
    header(&b, 3, huge, 0);
    expect_reject(&b, ELM_ERR_FORMAT, "tensor count");
    bb_free(&b);
    header(&b, 3, UINT64_MAX, UINT64_MAX);
    expect_reject(&b, ELM_ERR_FORMAT, "count");
    bb_free(&b);
    /* a key name of 2^60 bytes */
    header(&b, 3, 0, 1);
    bb_u64(&b, huge); bb_put(&b, "abc", 3);
    for (int k = 0; k < 32; k++) bb_u8(&b, 0);
    expect_reject(&b, ELM_ERR_FORMAT, "length");
    bb_free(&b);
    /* a string value of 2^62 bytes */
    header(&b, 3, 0, 1);
    bb_str(&b, "k"); bb_u32(&b, ELM_GGUF_STRING); bb_u64(&b, 1ull << 62); bb_put(&b, "xyz", 3);
    expect_reject(&b, ELM_ERR_FORMAT, "key 'k'");
    bb_free(&b);
    /* arrays of 2^60 elements: bytes, strings, arrays, and 2^62 u64 (n * 8 wraps) */
    const uint32_t elem_types[] = {ELM_GGUF_UINT8, ELM_GGUF_STRING, ELM_GGUF_ARRAY, ELM_GGUF_UINT64};
    const uint64_t counts[] = {huge, huge, huge, 1ull << 62};
    for (int i = 0; i < 4; i++) {
        header(&b, 3, 0, 1);
        bb_str(&b, "arr"); bb_u32(&b, ELM_GGUF_ARRAY); bb_u32(&b, elem_types[i]); bb_u64(&b, counts[i]);
        for (int k = 0; k < 64; k++) bb_u8(&b, 0);
        expect_reject(&b, ELM_ERR_FORMAT, "array");
        bb_free(&b);
    }
    /* unknown value and element types */
    header(&b, 3, 0, 1);
    bb_str(&b, "k"); bb_u32(&b, 13); bb_u64(&b, 0);
    expect_reject(&b, ELM_ERR_FORMAT, "value type");
    bb_free(&b);
    header(&b, 3, 0, 1);
    bb_str(&b, "k"); bb_u32(&b, ELM_GGUF_ARRAY); bb_u32(&b, 99); bb_u64(&b, 1); bb_u64(&b, 0);
    expect_reject(&b, ELM_ERR_FORMAT, "element type");
    bb_free(&b);
}

/* An array nested `depth` levels deep: [[[...[7]...]]] of INT32. */
static void nested(bb *b, int depth) {
    header(b, 3, 0, 1);
    bb_str(b, "deep");
    bb_u32(b, ELM_GGUF_ARRAY);
    for (int d = 1; d < depth; d++) { bb_u32(b, ELM_GGUF_ARRAY); bb_u64(b, 1); }
    bb_u32(b, ELM_GGUF_INT32); bb_u64(b, 1); bb_u32(b, 7);
}

static void nesting_depth(void **state) {
    (void)state;
    bb b = {0};
    nested(&b, 8);
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open_memory(b.p, b.n, "deep.gguf", &g), ELM_OK);
    elm_gguf_value v;
    assert_int_equal(elm_gguf_key_value(g, 0, &v), ELM_OK);
    for (int d = 1; d < 8; d++) {
        assert_int_equal(v.type, ELM_GGUF_ARRAY);
        assert_int_equal(v.v.arr.elem_type, ELM_GGUF_ARRAY);
        elm_gguf_value in;
        assert_int_equal(elm_gguf_array_elem(g, &v, 0, &in), ELM_OK);
        v = in;
    }
    assert_int_equal(v.v.arr.elem_type, ELM_GGUF_INT32);
    elm_gguf_value leaf;
    assert_int_equal(elm_gguf_array_elem(g, &v, 0, &leaf), ELM_OK);
    assert_int_equal(leaf.v.i, 7);
    assert_int_equal(elm_gguf_array_elem(g, &v, 1, &leaf), ELM_ERR_INVALID_ARG);
    elm_gguf_close(g);
    bb_free(&b);
    nested(&b, 9);
    expect_reject(&b, ELM_ERR_FORMAT, "nested deeper than 8");
    bb_free(&b);
    nested(&b, 100000);   /* a bomb: must not recurse 100000 deep */
    expect_reject(&b, ELM_ERR_FORMAT, "nested deeper than 8");
    bb_free(&b);
}

static void bad_keys(void **state) {
    (void)state;
    bb b = {0};
    header(&b, 3, 0, 3);
    kv_u32(&b, "a", 1); kv_u32(&b, "b", 2); kv_str(&b, "a", "again");
    expect_reject(&b, ELM_ERR_FORMAT, "unique");
    bb_free(&b);
    static const char *const bad[] = {"\xff", "a\xc0\x80", "\xed\xa0\x80", "ab\xe2\x82", "\xf4\x90\x80\x80", "x\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        header(&b, 3, 0, 1);
        kv_u32(&b, bad[i], 1);
        expect_reject(&b, ELM_ERR_FORMAT, "UTF-8");
        bb_free(&b);
    }
    header(&b, 3, 0, 1);
    bb_strn(&b, "a\0b", 3); bb_u32(&b, ELM_GGUF_UINT8); bb_u8(&b, 1);
    expect_reject(&b, ELM_ERR_FORMAT, "UTF-8");
    bb_free(&b);
    /* valid multi-byte keys are fine, and validation can be switched off */
    header(&b, 3, 0, 2);
    kv_u32(&b, "caf\xc3\xa9.\xf0\x9f\x98\x80", 1);
    kv_u32(&b, "\xff", 2);
    char path[4200];
    snprintf(path, sizeof path, "%s/keys.gguf", elmt_tmpdir());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.p, 1, b.n, f), b.n);
    fclose(f);
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open(path, NULL, &g), ELM_ERR_FORMAT);
    elm_gguf_params p = elm_gguf_default_params();
    p.validate_utf8_keys = false;
    assert_int_equal(elm_gguf_open(path, &p, &g), ELM_OK);
    assert_int_equal(elm_gguf_find_key(g, "caf\xc3\xa9.\xf0\x9f\x98\x80"), 0);
    assert_int_equal(elm_gguf_find_key(g, "\xff"), 1);
    elm_gguf_close(g);
    bb_free(&b);
}

static void bad_alignment(void **state) {
    (void)state;
    const uint32_t bad[] = {0, 3, 48, 0x80000000u};
    for (int i = 0; i < 4; i++) {
        bb b = {0};
        header(&b, 3, 0, 1);
        kv_u32(&b, "general.alignment", bad[i]);
        expect_reject(&b, ELM_ERR_FORMAT, "general.alignment");
        bb_free(&b);
    }
    bb b = {0};
    header(&b, 3, 0, 1);
    kv_str(&b, "general.alignment", "32");
    expect_reject(&b, ELM_ERR_FORMAT, "unsigned integer");
    bb_free(&b);
    /* a valid one moves the data section and the tensor offsets */
    header(&b, 3, 2, 1);
    kv_u32(&b, "general.alignment", 256);
    tinfo(&b, "a", 1, (uint64_t[]){4}, ELM_TYPE_F32, 0);
    tinfo(&b, "b", 1, (uint64_t[]){4}, ELM_TYPE_F32, 256);
    data(&b, 256, 256 + 16);
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open_memory(b.p, b.n, "a.gguf", &g), ELM_OK);
    assert_int_equal(elm_gguf_alignment(g), 256);
    assert_int_equal(elm_gguf_data_offset(g), 256);
    assert_ptr_equal(elm_gguf_find_tensor(g, "b")->data, b.p + 512);
    elm_gguf_close(g);
    bb_free(&b);
    /* with 256-byte alignment, an offset of 32 is misaligned */
    header(&b, 3, 1, 1);
    kv_u32(&b, "general.alignment", 256);
    tinfo(&b, "a", 1, (uint64_t[]){4}, ELM_TYPE_F32, 32);
    data(&b, 256, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "multiple of the alignment");
    bb_free(&b);
}

/* One tensor with the given shape/type/offset and `bytes` of data after the header. */
static void one_tensor(bb *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off, size_t bytes) {
    header(b, 3, 1, 0);
    tinfo(b, "w", n_dims, ne, type, off);
    data(b, 32, bytes);
}

static void bad_tensors(void **state) {
    (void)state;
    bb b = {0};
    one_tensor(&b, 0, (uint64_t[]){1}, ELM_TYPE_F32, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "n_dims");
    bb_free(&b);
    one_tensor(&b, 5, (uint64_t[]){1, 1, 1, 1, 1}, ELM_TYPE_F32, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "n_dims");
    bb_free(&b);
    one_tensor(&b, 2, (uint64_t[]){4, 0}, ELM_TYPE_F32, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "dimension 1");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){1ull << 63}, ELM_TYPE_F32, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "dimension 0");
    bb_free(&b);
    one_tensor(&b, 2, (uint64_t[]){1ull << 40, 1ull << 40}, ELM_TYPE_F32, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "overflows");
    bb_free(&b);
    one_tensor(&b, 4, (uint64_t[]){1ull << 21, 1ull << 21, 1ull << 21, 1}, ELM_TYPE_F32, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "overflows");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){1ull << 62}, ELM_TYPE_F32, 0, 64);   /* elements fit in 64 bits, bytes do not */
    expect_reject(&b, ELM_ERR_FORMAT, "overflows");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){1ull << 40}, ELM_TYPE_F32, 0, 64);           /* fits in 64 bits, not in the file */
    expect_reject(&b, ELM_ERR_FORMAT, "past the end of the file");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){32}, 1000, 0, 64);
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "unknown tensor type id 1000");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){32}, 4, 0, 64);
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "unknown tensor type id 4");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){32}, 31, 0, 64);
    expect_reject(&b, ELM_ERR_UNSUPPORTED, "Q4_0_4_4");
    bb_free(&b);
    one_tensor(&b, 2, (uint64_t[]){33, 1}, ELM_TYPE_Q4_0, 0, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "block size 32");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){128}, ELM_TYPE_Q4_K, 0, 256);
    expect_reject(&b, ELM_ERR_FORMAT, "block size 256");
    bb_free(&b);
    /* an IQ type is well-formed (we cannot compute with it, but the file is fine) */
    one_tensor(&b, 1, (uint64_t[]){256}, ELM_TYPE_IQ2_XXS, 0, 66);
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open_memory(b.p, b.n, "iq.gguf", &g), ELM_OK);
    assert_int_equal(elm_gguf_tensor_at(g, 0)->bytes, 66);
    elm_gguf_close(g);
    bb_free(&b);
    /* out of range: one byte too few, and offsets near 2^64 */
    one_tensor(&b, 1, (uint64_t[]){16}, ELM_TYPE_F32, 0, 63);
    expect_reject(&b, ELM_ERR_FORMAT, "past the end of the file");
    bb_free(&b);
    one_tensor(&b, 1, (uint64_t[]){16}, ELM_TYPE_F32, UINT64_MAX - 31, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "past the end of the file");
    bb_free(&b);
    /* overlapping: b starts inside a */
    header(&b, 3, 2, 0);
    tinfo(&b, "a", 1, (uint64_t[]){16}, ELM_TYPE_F32, 0);
    tinfo(&b, "b", 1, (uint64_t[]){16}, ELM_TYPE_F32, 32);
    data(&b, 32, 128);
    expect_reject(&b, ELM_ERR_FORMAT, "overlaps");
    bb_free(&b);
    /* overlapping, listed in the other order, and identical ranges */
    header(&b, 3, 3, 0);
    tinfo(&b, "c", 1, (uint64_t[]){8}, ELM_TYPE_F32, 96);
    tinfo(&b, "b", 1, (uint64_t[]){8}, ELM_TYPE_F32, 0);
    tinfo(&b, "a", 1, (uint64_t[]){8}, ELM_TYPE_F32, 0);
    data(&b, 32, 128);
    expect_reject(&b, ELM_ERR_FORMAT, "overlaps");
    bb_free(&b);
    /* duplicate names; invalid names */
    header(&b, 3, 2, 0);
    tinfo(&b, "w", 1, (uint64_t[]){8}, ELM_TYPE_F32, 0);
    tinfo(&b, "w", 1, (uint64_t[]){8}, ELM_TYPE_F32, 32);
    data(&b, 32, 64);
    expect_reject(&b, ELM_ERR_FORMAT, "unique");
    bb_free(&b);
    header(&b, 3, 1, 0);
    tinfo(&b, "w\xfe", 1, (uint64_t[]){8}, ELM_TYPE_F32, 0);
    data(&b, 32, 32);
    expect_reject(&b, ELM_ERR_FORMAT, "UTF-8");
    bb_free(&b);
    header(&b, 3, 1, 0);
    bb_strn(&b, "w\0x", 3); bb_u32(&b, 1); bb_u64(&b, 8); bb_u32(&b, ELM_TYPE_F32); bb_u64(&b, 0);
    data(&b, 32, 32);
    expect_reject(&b, ELM_ERR_FORMAT, "UTF-8");
    bb_free(&b);
    /* a control character in a name never breaks the one-line message */
    header(&b, 3, 1, 0);
    tinfo(&b, "line\nbreak", 1, (uint64_t[]){8}, ELM_TYPE_F32, 64);
    data(&b, 32, 32);
    expect_reject(&b, ELM_ERR_FORMAT, "line?break");
    bb_free(&b);
}

/* ==== Getters ============================================================================= */

static void typed_getters(void **state) {
    (void)state;
    bb b = {0};
    header(&b, 3, 0, 9);
    kv_str(&b, "s", "text");
    kv_u32(&b, "u", 7);
    bb_str(&b, "neg"); bb_u32(&b, ELM_GGUF_INT8); bb_u8(&b, 0xFE);               /* -2 */
    bb_str(&b, "big"); bb_u32(&b, ELM_GGUF_UINT64); bb_u64(&b, UINT64_MAX);
    bb_str(&b, "f"); bb_u32(&b, ELM_GGUF_FLOAT32); { float x = 0.25f; bb_put(&b, &x, 4); }
    bb_str(&b, "d"); bb_u32(&b, ELM_GGUF_FLOAT64); { double x = -1e300; bb_put(&b, &x, 8); }
    bb_str(&b, "t"); bb_u32(&b, ELM_GGUF_BOOL); bb_u8(&b, 1);
    bb_str(&b, "au"); bb_u32(&b, ELM_GGUF_ARRAY); bb_u32(&b, ELM_GGUF_UINT16); bb_u64(&b, 3);
    for (uint16_t x = 1; x <= 3; x++) bb_put(&b, &x, 2);
    bb_str(&b, "i16"); bb_u32(&b, ELM_GGUF_INT16); { int16_t x = -300; bb_put(&b, &x, 2); }
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open_memory(b.p, b.n, "typed.gguf", &g), ELM_OK);
    assert_int_equal(elm_gguf_n_keys(g), 9);

    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    bool t = false;
    elm_gguf_string s;
    assert_int_equal(elm_gguf_get_int(g, "u", &i), ELM_OK); assert_int_equal(i, 7);
    assert_int_equal(elm_gguf_get_int(g, "neg", &i), ELM_OK); assert_int_equal(i, -2);
    assert_int_equal(elm_gguf_get_int(g, "i16", &i), ELM_OK); assert_int_equal(i, -300);
    assert_int_equal(elm_gguf_get_int(g, "t", &i), ELM_OK); assert_int_equal(i, 1);
    assert_int_equal(elm_gguf_get_uint(g, "big", &u), ELM_OK); assert_true(u == UINT64_MAX);
    assert_int_equal(elm_gguf_get_float(g, "f", &f), ELM_OK); assert_true(f == 0.25);
    assert_int_equal(elm_gguf_get_float(g, "d", &f), ELM_OK); assert_true(f == -1e300);
    assert_int_equal(elm_gguf_get_float(g, "u", &f), ELM_OK); assert_true(f == 7.0);
    assert_int_equal(elm_gguf_get_bool(g, "t", &t), ELM_OK); assert_true(t);
    assert_int_equal(elm_gguf_get_string(g, "s", &s), ELM_OK);
    assert_int_equal(s.len, 4); assert_memory_equal(s.data, "text", 4);

    /* type errors name the key and both types, and leave the output alone */
    i = 12345;
    assert_int_equal(elm_gguf_get_int(g, "s", &i), ELM_ERR_TYPE);
    assert_int_equal(i, 12345);
    assert_non_null(strstr(elm_last_error(), "'s'"));
    assert_non_null(strstr(elm_last_error(), "STRING"));
    assert_non_null(strstr(elm_last_error(), "integer"));
    assert_int_equal(elm_gguf_get_int(g, "big", &i), ELM_ERR_TYPE);         /* does not fit */
    assert_int_equal(elm_gguf_get_uint(g, "neg", &u), ELM_ERR_TYPE);        /* negative */
    assert_int_equal(elm_gguf_get_int(g, "f", &i), ELM_ERR_TYPE);
    assert_int_equal(elm_gguf_get_float(g, "s", &f), ELM_ERR_TYPE);
    assert_int_equal(elm_gguf_get_float(g, "t", &f), ELM_ERR_TYPE);
    assert_int_equal(elm_gguf_get_bool(g, "u", &t), ELM_ERR_TYPE);
    assert_non_null(strstr(elm_last_error(), "UINT32"));
    assert_non_null(strstr(elm_last_error(), "BOOL"));
    assert_int_equal(elm_gguf_get_string(g, "u", &s), ELM_ERR_TYPE);
    assert_int_equal(elm_gguf_get_array(g, "s", NULL, NULL, NULL), ELM_ERR_TYPE);
    assert_int_equal(elm_gguf_get_array_string(g, "au", 0, &s), ELM_ERR_TYPE);
    assert_non_null(strstr(elm_last_error(), "ARRAY of UINT16"));
    assert_int_equal(elm_gguf_get_int(g, "missing", &i), ELM_ERR_NOT_FOUND);
    assert_non_null(strstr(elm_last_error(), "missing"));
    assert_int_equal(elm_gguf_find_key(g, "missing"), -1);
    assert_int_equal(elm_gguf_find_key(g, "au"), 7);

    /* arrays of numbers: packed little-endian in the file */
    elm_gguf_type et;
    uint64_t n;
    const void *data;
    assert_int_equal(elm_gguf_get_array(g, "au", &et, &n, &data), ELM_OK);
    assert_int_equal(et, ELM_GGUF_UINT16);
    assert_int_equal(n, 3);
    uint16_t vals[3];
    memcpy(vals, data, sizeof vals);
    assert_int_equal(vals[2], 3);
    elm_gguf_value v, e;
    assert_int_equal(elm_gguf_key_value(g, 7, &v), ELM_OK);
    assert_int_equal(elm_gguf_array_elem(g, &v, 1, &e), ELM_OK);
    assert_int_equal(e.type, ELM_GGUF_UINT16);
    assert_int_equal(e.v.u, 2);
    assert_int_equal(elm_gguf_array_elem(g, &v, 3, &e), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_key_value(g, 9, &v), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_key_type(g, 0), ELM_GGUF_STRING);
    assert_int_equal(elm_gguf_key_type(g, 99), ELM_GGUF_TYPE_COUNT);
    assert_null(elm_gguf_key_name(g, -1).data);
    assert_null(elm_gguf_tensor_at(g, 0));
    assert_null(elm_gguf_find_tensor(g, "x"));
    elm_gguf_close(g);
    bb_free(&b);
}

static void type_traits(void **state) {
    (void)state;
    /* ggml's block sizes and bytes per block (ggml-common.h) */
    static const struct { uint32_t id; const char *name; uint32_t bs, bb; bool compute; } want[] = {
        {0, "F32", 1, 4, true}, {1, "F16", 1, 2, true}, {2, "Q4_0", 32, 18, true}, {3, "Q4_1", 32, 20, true},
        {6, "Q5_0", 32, 22, true}, {7, "Q5_1", 32, 24, true}, {8, "Q8_0", 32, 34, true}, {9, "Q8_1", 32, 36, false},
        {10, "Q2_K", 256, 84, true}, {11, "Q3_K", 256, 110, true}, {12, "Q4_K", 256, 144, true},
        {13, "Q5_K", 256, 176, true}, {14, "Q6_K", 256, 210, true}, {15, "Q8_K", 256, 292, false},
        {16, "IQ2_XXS", 256, 66, false}, {17, "IQ2_XS", 256, 74, false}, {18, "IQ3_XXS", 256, 98, false},
        {19, "IQ1_S", 256, 50, false}, {20, "IQ4_NL", 32, 18, false}, {21, "IQ3_S", 256, 110, false},
        {22, "IQ2_S", 256, 82, false}, {23, "IQ4_XS", 256, 136, false}, {24, "I8", 1, 1, false},
        {25, "I16", 1, 2, false}, {26, "I32", 1, 4, false}, {27, "I64", 1, 8, false}, {28, "F64", 1, 8, false},
        {29, "IQ1_M", 256, 56, false}, {30, "BF16", 1, 2, true}, {34, "TQ1_0", 256, 54, false},
        {35, "TQ2_0", 256, 66, false}, {39, "MXFP4", 32, 17, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const elm_type_info *ti = elm_type_get_info(want[i].id);
        assert_non_null(ti);
        assert_string_equal(ti->name, want[i].name);
        assert_int_equal(ti->block_size, want[i].bs);
        assert_int_equal(ti->block_bytes, want[i].bb);
        assert_int_equal(ti->can_compute, want[i].compute);
        assert_int_equal(elm_type_row_bytes(want[i].id, 512), 512 / want[i].bs * want[i].bb);
        if (want[i].bs > 1) assert_int_equal(elm_type_row_bytes(want[i].id, want[i].bs + 1), 0);
    }
    assert_null(elm_type_get_info(4));
    assert_null(elm_type_get_info(5));
    assert_null(elm_type_get_info(ELM_TYPE_COUNT));
    assert_null(elm_type_get_info(1000));
    assert_string_equal(elm_type_get_info(31)->name, "Q4_0_4_4");
    assert_string_equal(elm_type_get_info(38)->name, "IQ4_NL_8_8");
    assert_int_equal(elm_type_row_bytes(4, 32), 0);
    assert_int_equal(elm_type_row_bytes(ELM_TYPE_F32, -1), 0);
}

/* ==== Writer ============================================================================== */

static char *tmp_path(const char *name) {
    static char dir[4096];
    if (!dir[0]) snprintf(dir, sizeof dir, "%s", elmt_tmpdir());
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(p);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

/* A hand-made file with nested arrays, for copy_key: [[1,2],[3]] and [["a"],["b","c"]]. */
static void nested_source(bb *b) {
    header(b, 3, 0, 2);
    bb_str(b, "nest.int");
    bb_u32(b, ELM_GGUF_ARRAY); bb_u32(b, ELM_GGUF_ARRAY); bb_u64(b, 2);
    bb_u32(b, ELM_GGUF_INT32); bb_u64(b, 2); bb_u32(b, 1); bb_u32(b, 2);
    bb_u32(b, ELM_GGUF_INT32); bb_u64(b, 1); bb_u32(b, 3);
    bb_str(b, "nest.str");
    bb_u32(b, ELM_GGUF_ARRAY); bb_u32(b, ELM_GGUF_ARRAY); bb_u64(b, 2);
    bb_u32(b, ELM_GGUF_STRING); bb_u64(b, 1); bb_str(b, "a");
    bb_u32(b, ELM_GGUF_STRING); bb_u64(b, 2); bb_str(b, "b"); bb_str(b, "c");
}

static void writer_matches_the_byte_builder(void **state) {
    (void)state;
    /* the same file two ways: the library's writer and the builder above */
    bb b = {0};
    header(&b, 3, 2, 2);
    kv_str(&b, "general.architecture", "llama");
    kv_u32(&b, "llama.block_count", 2);
    tinfo(&b, "a", 2, (uint64_t[]){8, 2}, ELM_TYPE_F32, 0);
    tinfo(&b, "b", 1, (uint64_t[]){32}, ELM_TYPE_Q8_0, 64);
    bb_pad(&b, 32);
    size_t data_at = b.n;
    data(&b, 32, 64 + 34);
    bb_pad(&b, 32);

    elm_gguf_writer *w = NULL;
    assert_int_equal(elm_gguf_writer_create(&w), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_string(w, "general.architecture", "llama", 5), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u32(w, "llama.block_count", 2), ELM_OK);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "a", ELM_TYPE_F32, 2, (int64_t[]){8, 2}, b.p + data_at), ELM_OK);
    assert_int_equal(elm_gguf_writer_add_tensor_ref(w, "b", ELM_TYPE_Q8_0, 1, (int64_t[]){32}, b.p + data_at + 64), ELM_OK);
    char *path = tmp_path("same.gguf");
    assert_int_equal(elm_gguf_writer_write(w, path), ELM_OK);
    elm_gguf_writer_free(w);
    size_t n;
    uint8_t *got = elmt_read_file(path, &n);
    assert_non_null(got);
    assert_int_equal(n, b.n);
    assert_memory_equal(got, b.p, n);
    /* written through path.tmp, which is gone */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1);
    free(got);
    free(path);
    bb_free(&b);
}

static void writer_round_trip_every_type(void **state) {
    (void)state;
    bb src = {0};
    nested_source(&src);
    elm_gguf *from = NULL;
    assert_int_equal(elm_gguf_open_memory(src.p, src.n, "nested.gguf", &from), ELM_OK);

    elm_gguf_writer *w = NULL;
    assert_int_equal(elm_gguf_writer_create(&w), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_alignment(w, 64), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u8(w, "u8", 200), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_i8(w, "i8", -100), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u16(w, "u16", 60000), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_i16(w, "i16", -30000), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u32(w, "u32", 4000000000u), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_i32(w, "i32", -2000000000), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u64(w, "u64", (1ull << 63) + 5), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_i64(w, "i64", INT64_MIN), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_f32(w, "f32", 3.5f), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_f64(w, "f64", -1e300), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_bool(w, "bool", true), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_u32(w, "str", 1), ELM_OK);             /* replaced below */
    assert_int_equal(elm_gguf_writer_set_string(w, "str", "h\xc3\xa9llo\0x", 8), ELM_OK);
    const int32_t ai32[] = {-1, 0, 1, INT32_MAX};
    const double af64[] = {0.5, -2.25};
    const uint8_t abool[] = {1, 0, 1};
    assert_int_equal(elm_gguf_writer_set_array(w, "a.i32", ELM_GGUF_INT32, ai32, 4), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_array(w, "a.f64", ELM_GGUF_FLOAT64, af64, 2), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_array(w, "a.bool", ELM_GGUF_BOOL, abool, 3), ELM_OK);
    assert_int_equal(elm_gguf_writer_set_array(w, "a.empty", ELM_GGUF_UINT8, NULL, 0), ELM_OK);
    const elm_gguf_string strs[] = {{"one", 3}, {"", 0}, {"three", 5}};
    assert_int_equal(elm_gguf_writer_set_array_string(w, "a.str", strs, 3), ELM_OK);
    assert_int_equal(elm_gguf_writer_copy_key(w, from, 0), ELM_OK);
    assert_int_equal(elm_gguf_writer_copy_key(w, from, 1), ELM_OK);

    /* tensors: copied and referenced, 1-D to 4-D, plain and block types */
    float f32[12];
    for (int i = 0; i < 12; i++) f32[i] = (float)i * 0.5f;
    uint8_t q4_0[2 * 2 * 18], q4k[2 * 144], f16[64 * 2];
    for (size_t i = 0; i < sizeof q4_0; i++) q4_0[i] = (uint8_t)(i * 3);
    for (size_t i = 0; i < sizeof q4k; i++) q4k[i] = (uint8_t)(i * 5 + 1);
    for (size_t i = 0; i < sizeof f16; i++) f16[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "t.f32", ELM_TYPE_F32, 2, (int64_t[]){4, 3}, f32), ELM_OK);
    assert_int_equal(elm_gguf_writer_add_tensor_ref(w, "t.f16", ELM_TYPE_F16, 1, (int64_t[]){64}, f16), ELM_OK);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "t.q4_0", ELM_TYPE_Q4_0, 2, (int64_t[]){64, 2}, q4_0), ELM_OK);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "t.q4k", ELM_TYPE_Q4_K, 4, (int64_t[]){256, 1, 1, 2}, q4k), ELM_OK);
    f32[0] = 99.0f;   /* _add copied: this change must not show */

    /* writer errors */
    assert_int_equal(elm_gguf_writer_add_tensor(w, "t.f32", ELM_TYPE_F32, 1, (int64_t[]){4}, f32), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "bad", ELM_TYPE_Q4_0, 1, (int64_t[]){33}, q4_0), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "bad", ELM_TYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, f32), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "bad", ELM_TYPE_F32, 1, (int64_t[]){0}, f32), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "bad", 1000, 1, (int64_t[]){4}, f32), ELM_ERR_UNSUPPORTED);
    assert_int_equal(elm_gguf_writer_add_tensor(w, "bad\xff", ELM_TYPE_F32, 1, (int64_t[]){4}, f32), ELM_ERR_INVALID_TEXT);
    assert_int_equal(elm_gguf_writer_set_u8(w, "bad\xff", 1), ELM_ERR_INVALID_TEXT);
    assert_int_equal(elm_gguf_writer_set_alignment(w, 48), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_writer_set_array(w, "x", ELM_GGUF_STRING, strs, 1), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_gguf_writer_copy_key(w, from, 2), ELM_ERR_INVALID_ARG);

    char *path = tmp_path("round.gguf");
    assert_int_equal(elm_gguf_writer_write(w, path), ELM_OK);
    assert_int_equal(elm_gguf_writer_write(w, "/nonexistent/dir/x.gguf"), ELM_ERR_IO);
    elm_gguf_writer_free(w);
    elm_gguf_close(from);
    bb_free(&src);

    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open(path, NULL, &g), ELM_OK);
    assert_int_equal(elm_gguf_version(g), 3);
    assert_int_equal(elm_gguf_alignment(g), 64);
    assert_int_equal(elm_gguf_data_offset(g) % 64, 0);
    assert_int_equal(elm_gguf_n_keys(g), 20);   /* general.alignment + 12 scalars + 5 arrays + 2 nested */
    int64_t i;
    uint64_t u;
    double f;
    bool bo;
    elm_gguf_string s;
    elm_gguf_value v;
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "u8")), ELM_GGUF_UINT8);
    assert_int_equal(elm_gguf_get_uint(g, "u8", &u), ELM_OK); assert_int_equal(u, 200);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "i8")), ELM_GGUF_INT8);
    assert_int_equal(elm_gguf_get_int(g, "i8", &i), ELM_OK); assert_int_equal(i, -100);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "u16")), ELM_GGUF_UINT16);
    assert_int_equal(elm_gguf_get_uint(g, "u16", &u), ELM_OK); assert_int_equal(u, 60000);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "i16")), ELM_GGUF_INT16);
    assert_int_equal(elm_gguf_get_int(g, "i16", &i), ELM_OK); assert_int_equal(i, -30000);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "u32")), ELM_GGUF_UINT32);
    assert_int_equal(elm_gguf_get_uint(g, "u32", &u), ELM_OK); assert_int_equal(u, 4000000000u);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "i32")), ELM_GGUF_INT32);
    assert_int_equal(elm_gguf_get_int(g, "i32", &i), ELM_OK); assert_int_equal(i, -2000000000);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "u64")), ELM_GGUF_UINT64);
    assert_int_equal(elm_gguf_get_uint(g, "u64", &u), ELM_OK); assert_true(u == (1ull << 63) + 5);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "i64")), ELM_GGUF_INT64);
    assert_int_equal(elm_gguf_get_int(g, "i64", &i), ELM_OK); assert_true(i == INT64_MIN);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "f32")), ELM_GGUF_FLOAT32);
    assert_int_equal(elm_gguf_get_float(g, "f32", &f), ELM_OK); assert_true(f == 3.5);
    assert_int_equal(elm_gguf_key_type(g, elm_gguf_find_key(g, "f64")), ELM_GGUF_FLOAT64);
    assert_int_equal(elm_gguf_get_float(g, "f64", &f), ELM_OK); assert_true(f == -1e300);
    assert_int_equal(elm_gguf_get_bool(g, "bool", &bo), ELM_OK); assert_true(bo);
    assert_int_equal(elm_gguf_get_string(g, "str", &s), ELM_OK);
    assert_int_equal(s.len, 8);
    assert_memory_equal(s.data, "h\xc3\xa9llo\0x", 8);
    assert_int_equal(elm_gguf_get_uint(g, "general.alignment", &u), ELM_OK); assert_int_equal(u, 64);

    elm_gguf_type et;
    uint64_t n;
    const void *data;
    assert_int_equal(elm_gguf_get_array(g, "a.i32", &et, &n, &data), ELM_OK);
    assert_int_equal(et, ELM_GGUF_INT32); assert_int_equal(n, 4); assert_memory_equal(data, ai32, sizeof ai32);
    assert_int_equal(elm_gguf_get_array(g, "a.f64", &et, &n, &data), ELM_OK);
    assert_int_equal(et, ELM_GGUF_FLOAT64); assert_int_equal(n, 2); assert_memory_equal(data, af64, sizeof af64);
    assert_int_equal(elm_gguf_get_array(g, "a.bool", &et, &n, &data), ELM_OK);
    assert_int_equal(et, ELM_GGUF_BOOL); assert_int_equal(n, 3); assert_memory_equal(data, abool, sizeof abool);
    assert_int_equal(elm_gguf_get_array(g, "a.empty", &et, &n, &data), ELM_OK);
    assert_int_equal(et, ELM_GGUF_UINT8); assert_int_equal(n, 0);
    for (uint64_t k = 0; k < 3; k++) {
        assert_int_equal(elm_gguf_get_array_string(g, "a.str", k, &s), ELM_OK);
        assert_int_equal(s.len, strs[k].len);
        assert_memory_equal(s.data, strs[k].data, s.len);
    }
    /* nested: [[1,2],[3]] */
    assert_int_equal(elm_gguf_key_value(g, elm_gguf_find_key(g, "nest.int"), &v), ELM_OK);
    assert_int_equal(v.v.arr.elem_type, ELM_GGUF_ARRAY);
    assert_int_equal(v.v.arr.n, 2);
    elm_gguf_value in, leaf;
    assert_int_equal(elm_gguf_array_elem(g, &v, 1, &in), ELM_OK);
    assert_int_equal(in.v.arr.elem_type, ELM_GGUF_INT32);
    assert_int_equal(in.v.arr.n, 1);
    assert_int_equal(elm_gguf_array_elem(g, &in, 0, &leaf), ELM_OK);
    assert_int_equal(leaf.v.i, 3);
    assert_int_equal(elm_gguf_array_elem(g, &v, 0, &in), ELM_OK);
    assert_int_equal(elm_gguf_array_elem(g, &in, 1, &leaf), ELM_OK);
    assert_int_equal(leaf.v.i, 2);
    /* nested: [["a"],["b","c"]] */
    assert_int_equal(elm_gguf_key_value(g, elm_gguf_find_key(g, "nest.str"), &v), ELM_OK);
    assert_int_equal(elm_gguf_array_elem(g, &v, 1, &in), ELM_OK);
    assert_int_equal(in.v.arr.elem_type, ELM_GGUF_STRING);
    assert_int_equal(elm_gguf_array_elem(g, &in, 1, &leaf), ELM_OK);
    assert_int_equal(leaf.type, ELM_GGUF_STRING);
    assert_int_equal(leaf.v.s.len, 1);
    assert_memory_equal(leaf.v.s.data, "c", 1);

    assert_int_equal(elm_gguf_n_tensors(g), 4);
    const elm_gguf_tensor *t = elm_gguf_find_tensor(g, "t.f32");
    assert_int_equal(t->type, ELM_TYPE_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 4);
    assert_int_equal(t->ne[1], 3);
    assert_int_equal(t->bytes, 48);
    float expect[12];
    for (int k = 0; k < 12; k++) expect[k] = (float)k * 0.5f;
    assert_memory_equal(t->data, expect, 48);
    t = elm_gguf_find_tensor(g, "t.f16");
    assert_int_equal(t->bytes, sizeof f16);
    assert_memory_equal(t->data, f16, sizeof f16);
    t = elm_gguf_find_tensor(g, "t.q4_0");
    assert_int_equal(t->type, ELM_TYPE_Q4_0);
    assert_int_equal(t->bytes, sizeof q4_0);
    assert_memory_equal(t->data, q4_0, sizeof q4_0);
    t = elm_gguf_find_tensor(g, "t.q4k");
    assert_int_equal(t->n_dims, 4);
    assert_int_equal(t->ne[3], 2);
    assert_int_equal(t->bytes, sizeof q4k);
    assert_memory_equal(t->data, q4k, sizeof q4k);
    for (int64_t k = 0; k < 4; k++) assert_int_equal(elm_gguf_tensor_at(g, k)->offset % 64, 0);
    elm_gguf_close(g);
    free(path);
}

/* Copy a whole model with copy_key and add_tensor_ref: the result is the same file. */
static void writer_copies_a_model(void **state) {
    (void)state;
    const char *in = elmt_shared("models/stories260K-f16.gguf");
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open(in, NULL, &g), ELM_OK);
    elm_gguf_writer *w = NULL;
    assert_int_equal(elm_gguf_writer_create(&w), ELM_OK);
    for (int64_t i = 0; i < elm_gguf_n_keys(g); i++) assert_int_equal(elm_gguf_writer_copy_key(w, g, i), ELM_OK);
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        assert_int_equal(elm_gguf_writer_add_tensor_ref(w, t->name, t->type, t->n_dims, t->ne, t->data), ELM_OK);
    }
    char *out = tmp_path("copy.gguf");
    assert_int_equal(elm_gguf_writer_write(w, out), ELM_OK);
    elm_gguf_writer_free(w);
    elm_gguf_close(g);
    size_t na, nb;
    uint8_t *a = elmt_read_file(in, &na), *b = elmt_read_file(out, &nb);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    free(out);
}

/* ==== The tool ============================================================================ */

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void tool_lists_and_rejects(void **state) {
    (void)state;
    const char *tool = elmt_bin("edgelm-gguf");
    assert_int_equal(access(tool, X_OK), 0);
    char *json = tmp_path("stories.json"), *human = tmp_path("stories.txt"), *err = tmp_path("err.txt");
    char *py = tmp_path("check.py"), cmd[16384];
    const char *model = elmt_shared("models/stories260K.gguf");

    snprintf(cmd, sizeof cmd, "'%s' '%s' > '%s'", tool, model, human);
    assert_int_equal(run(cmd), 0);
    size_t n;
    char *text = elmt_read_file(human, &n);
    assert_non_null(text);
    assert_non_null(strstr(text, "general.architecture"));
    assert_non_null(strstr(text, "blk.4.ffn_down.weight"));
    assert_non_null(strstr(text, "parameters: 292800"));   /* 2*64*512 + 5*(2*64*64 + 2*64*32 + 3*64*172 + 2*64) + 64 */
    free(text);

    snprintf(cmd, sizeof cmd, "'%s' '%s' --json > '%s'", tool, model, json);
    assert_int_equal(run(cmd), 0);
    static const char check_model[] =
        "import json, sys\n"
        "d = json.load(open(sys.argv[1]))\n"
        "assert d['version'] == 3 and d['alignment'] == 32, d\n"
        "m = d['metadata']\n"
        "assert m['general.architecture'] == 'llama'\n"
        "assert m['llama.block_count'] == 5 and m['llama.embedding_length'] == 64\n"
        "assert m['tokenizer.ggml.tokens'] == {'array_of': 'STRING', 'length': 512}, m['tokenizer.ggml.tokens']\n"
        "assert m['tokenizer.ggml.scores'] == {'array_of': 'FLOAT32', 'length': 512}\n"
        "assert abs(m['llama.attention.layer_norm_rms_epsilon'] - 1e-5) < 1e-12\n"
        "t = d['tensors']\n"
        "assert len(t) == 48\n"
        "e = [x for x in t if x['name'] == 'token_embd.weight'][0]\n"
        "assert e == {'name': 'token_embd.weight', 'type': 'F32', 'shape': [64, 512], 'offset': 0, 'bytes': 131072}, e\n"
        "f = [x for x in t if x['name'] == 'blk.0.ffn_down.weight'][0]\n"
        "assert f['shape'] == [172, 64] and f['bytes'] == 172 * 64 * 4\n";
    write_file(py, check_model, sizeof check_model - 1);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", py, json);
    assert_int_equal(run(cmd), 0);

    /* strings that need escaping, invalid UTF-8, non-finite floats, short/long/nested arrays */
    bb b = {0};
    header(&b, 3, 1, 8);
    kv_str(&b, "esc", "q\"b\\s\n\t\x01\x1f\x7f \xff\xc0\x80 caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    bb_str(&b, "nan"); bb_u32(&b, ELM_GGUF_FLOAT32); { float x = NAN; bb_put(&b, &x, 4); }
    bb_str(&b, "tenth"); bb_u32(&b, ELM_GGUF_FLOAT32); { float x = 0.1f; bb_put(&b, &x, 4); }
    bb_str(&b, "a16"); bb_u32(&b, ELM_GGUF_ARRAY); bb_u32(&b, ELM_GGUF_UINT8); bb_u64(&b, 16);
    for (int k = 0; k < 16; k++) bb_u8(&b, (uint8_t)k);
    bb_str(&b, "a17"); bb_u32(&b, ELM_GGUF_ARRAY); bb_u32(&b, ELM_GGUF_INT16); bb_u64(&b, 17);
    for (int k = 0; k < 17; k++) { int16_t x = (int16_t)-k; bb_put(&b, &x, 2); }
    bb_str(&b, "nest"); bb_u32(&b, ELM_GGUF_ARRAY); bb_u32(&b, ELM_GGUF_ARRAY); bb_u64(&b, 2);
    bb_u32(&b, ELM_GGUF_STRING); bb_u64(&b, 1); bb_str(&b, "x");
    bb_u32(&b, ELM_GGUF_BOOL); bb_u64(&b, 2); bb_u8(&b, 1); bb_u8(&b, 0);
    bb_str(&b, "k\"\n"); bb_u32(&b, ELM_GGUF_INT64); bb_u64(&b, (uint64_t)-5);
    bb_str(&b, "big"); bb_u32(&b, ELM_GGUF_UINT64); bb_u64(&b, UINT64_MAX);
    tinfo(&b, "w\"x", 3, (uint64_t[]){32, 2, 3}, ELM_TYPE_Q4_0, 0);
    data(&b, 32, 6 * 18);
    char *odd = tmp_path("odd.gguf");
    write_file(odd, b.p, b.n);
    snprintf(cmd, sizeof cmd, "'%s' '%s' --json > '%s'", tool, odd, json);
    assert_int_equal(run(cmd), 0);
    static const char check_odd[] =
        "import json, sys\n"
        "d = json.load(open(sys.argv[1]))\n"
        "m = d['metadata']\n"
        "want = 'q\"b\\\\s\\n\\t\\x01\\x1f\\x7f \\ufffd\\ufffd\\ufffd caf\\u00e9 \\u20ac \\U0001f600'\n"
        "assert m['esc'] == want, (m['esc'], want)\n"
        "assert m['nan'] is None\n"
        "import struct\n"
        "assert m['tenth'] == 0.1, m['tenth']   # the shortest decimal that reads back as the same float32\n"
        "assert m['a16'] == list(range(16))\n"
        "assert m['a17'] == {'array_of': 'INT16', 'length': 17}\n"
        "assert m['nest'] == [['x'], [True, False]], m['nest']\n"
        "assert m['k\"\\n'] == -5\n"
        "assert m['big'] == 2**64 - 1\n"
        "assert d['tensors'] == [{'name': 'w\"x', 'type': 'Q4_0', 'shape': [32, 2, 3], 'offset': 0, 'bytes': 108}], d['tensors']\n";
    write_file(py, check_odd, sizeof check_odd - 1);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s'", py, json);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' '%s' > /dev/null", tool, odd);
    assert_int_equal(run(cmd), 0);
    bb_free(&b);

    /* a bad file: exit 1, nothing on stdout, one line on stderr naming the problem */
    small_valid(&b);
    char *cut = tmp_path("cut.gguf");
    write_file(cut, b.p, 60);
    snprintf(cmd, sizeof cmd, "'%s' '%s' --json > '%s' 2> '%s'", tool, cut, json, err);
    assert_int_equal(run(cmd), 1);
    text = elmt_read_file(err, &n);
    assert_non_null(text);
    assert_true(n > 10);
    assert_int_equal(text[n - 1], '\n');
    assert_null(memchr(text, '\n', n - 1));
    assert_non_null(strstr(text, cut));
    assert_non_null(strstr(text, "offset"));
    free(text);
    text = elmt_read_file(json, &n);
    assert_int_equal(n, 0);
    free(text);
    snprintf(cmd, sizeof cmd, "'%s' /nonexistent.gguf 2> /dev/null", tool);
    assert_int_equal(run(cmd), 1);
    bb_free(&b);
    free(json); free(human); free(err); free(py); free(odd); free(cut);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(models_open_with_documented_shapes),
        cmocka_unit_test(stories_values_are_the_trained_model),
        cmocka_unit_test(vocabs_open_with_documented_contents),
        cmocka_unit_test(open_options),
        cmocka_unit_test(truncated_at_every_byte),
        cmocka_unit_test(bad_headers),
        cmocka_unit_test(huge_counts_and_lengths),
        cmocka_unit_test(nesting_depth),
        cmocka_unit_test(bad_keys),
        cmocka_unit_test(bad_alignment),
        cmocka_unit_test(bad_tensors),
        cmocka_unit_test(typed_getters),
        cmocka_unit_test(type_traits),
        cmocka_unit_test(writer_matches_the_byte_builder),
        cmocka_unit_test(writer_round_trip_every_type),
        cmocka_unit_test(writer_copies_a_model),
        cmocka_unit_test(tool_lists_and_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
