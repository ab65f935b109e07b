/* estimate.c: how much memory a model will take at a given context, from its GGUF header
 * alone (elm_estimate_memory), before anything is loaded.
 *
 * The parts, each sized the way the code that allocates it does:
 *   file      the whole mapping: every page is resident once the weights have been read
 *   repack    for each matrix the kernels repack, the size of the packed copy, found by
 *             packing a small zeroed slice of the same width and scaling by the row count;
 *             the file's pages of such a matrix are released after packing (model.c)
 *   KV        layers x KV heads x n_ctx x (key row + value row), rows in the cache type
 *   scratch   the forward pass's one block, by forward.c's own layout function
 *   overhead  tokenizer tables, the GGUF index, model structs, worker thread stacks
 * Not counted: the program's own machine code (the library's and libc's pages, some
 * hundreds of KiB), which depends on the program, not on the model, and is shared.
 * Must not: read tensor data, or allocate more than a small probe for the repack ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edgelm.h"
#include "error.h"
#include "forward.h"
#include "kernels.h"
#include "model.h"

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

static uint64_t pow2_at_least(uint64_t n, uint64_t start) {
    uint64_t s = start;
    while (s < n && s < (UINT64_MAX >> 2)) s *= 2;
    return s;
}

typedef struct shape {
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_k, head_v, n_ff, n_rot, n_ctx_train;
} shape;

static elm_status get_count(const elm_gguf *g, const char *path, const char *arch, const char *suffix, bool required,
                            int64_t def, int64_t *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    elm_status st = elm_gguf_get_int(g, key, &v);
    if (st == ELM_ERR_NOT_FOUND && !required) { *out = def; return ELM_OK; }
    if (st != ELM_OK) return elmi_error(st, "%s: cannot estimate memory: %s", path, elm_last_error());
    if (v < 1 || v > (1 << 24))
        return elmi_error(ELM_ERR_FORMAT, "%s: metadata key '%s' = %lld is out of range", path, key, (long long)v);
    *out = v;
    return ELM_OK;
}

static elm_status read_shape(const elm_gguf *g, const char *path, shape *s) {
    elm_gguf_string a;
    elm_status st = elm_gguf_get_string(g, "general.architecture", &a);
    if (st != ELM_OK) return elmi_error(st, "%s: cannot estimate memory: no general.architecture", path);
    char arch[64];
    snprintf(arch, sizeof arch, "%.*s", (int)(a.len < 63 ? a.len : 63), a.data);
    if ((st = get_count(g, path, arch, "context_length", true, 0, &s->n_ctx_train)) ||
        (st = get_count(g, path, arch, "embedding_length", true, 0, &s->n_embd)) ||
        (st = get_count(g, path, arch, "block_count", true, 0, &s->n_layer)) ||
        (st = get_count(g, path, arch, "feed_forward_length", true, 0, &s->n_ff)) ||
        (st = get_count(g, path, arch, "attention.head_count", true, 0, &s->n_head)) ||
        (st = get_count(g, path, arch, "attention.head_count_kv", false, s->n_head, &s->n_head_kv)) ||
        (st = get_count(g, path, arch, "attention.key_length", false, s->n_embd / s->n_head, &s->head_k)) ||
        (st = get_count(g, path, arch, "attention.value_length", false, s->n_embd / s->n_head, &s->head_v)) ||
        (st = get_count(g, path, arch, "rope.dimension_count", false, s->head_k, &s->n_rot)))
        return st;
    const elm_gguf_tensor *emb = elm_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return elmi_error(ELM_ERR_FORMAT, "%s: cannot estimate memory: no tensor 'token_embd.weight'", path);
    s->n_vocab = emb->ne[1];
    return ELM_OK;
}

/* Is this tensor a weight the forward pass multiplies by (and so may repack)? */
static bool is_matmul_weight(const elm_gguf_tensor *t, bool tied) {
    if (t->n_dims != 2) return false;
    if (strcmp(t->name, "token_embd.weight") == 0) return tied;   /* the output when tied */
    return strncmp(t->name, "blk.", 4) == 0 || strcmp(t->name, "output.weight") == 0;
}

/* Bytes the kernels' packed copy of this matrix takes (0 when they keep the file's
 * layout). Two zeroed probes of 64 and 128 rows give the cost per row and the fixed part,
 * whatever the layout's row grouping (any power of two up to 64): the estimate is then off
 * by less than one group of rows. */
static uint64_t probe_repack(const elm_gguf_tensor *t, size_t row, int64_t rows) {
    void *probe = calloc((size_t)rows, row);
    if (!probe) return 0;
    size_t bytes = 0;
    void *packed = elmk_repack(t->type, probe, row, rows, t->ne[0], &bytes);
    free(packed);
    free(probe);
    return packed ? (uint64_t)bytes : 0;
}

static uint64_t repack_bytes(const elm_gguf_tensor *t) {
    const size_t row = elm_type_row_bytes(t->type, t->ne[0]);
    const int64_t n_out = t->ne[1];
    if (!row || n_out < 1) return 0;
    const uint64_t b64 = probe_repack(t, row, 64);
    if (!b64) return 0;
    const uint64_t b128 = probe_repack(t, row, 128);
    if (b128 < b64) return 0;
    const uint64_t per_row = (b128 - b64) / 64, fixed = b64 > 64 * per_row ? b64 - 64 * per_row : 0;
    return fixed + (uint64_t)n_out * per_row;
}

/* Bytes of the strings of a string array (and how many there are). */
static uint64_t string_bytes(const elm_gguf *g, const char *key, uint64_t *count) {
    elm_gguf_type et;
    uint64_t n = 0;
    const void *data;
    *count = 0;
    if (elm_gguf_get_array(g, key, &et, &n, &data) != ELM_OK || et != ELM_GGUF_STRING) return 0;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        elm_gguf_string s;
        if (elm_gguf_get_array_string(g, key, i, &s) == ELM_OK) total += s.len;
    }
    *count = n;
    return total;
}

/* Heap of the tokenizer and the GGUF index (calibrated against the allocations of
 * lib/tokenizer*.c and lib/gguf_read.c; see tests/test_estimate.c). */
static uint64_t overhead(const elm_gguf *g, int32_t n_threads) {
    uint64_t n_tok, n_merge;
    uint64_t s_tok = string_bytes(g, "tokenizer.ggml.tokens", &n_tok);
    uint64_t s_merge = string_bytes(g, "tokenizer.ggml.merges", &n_merge);
    uint64_t b = 0;
    /* tokenizer: interned text and rendered pieces, offsets, scores, attributes, map */
    b += 2 * (s_tok + n_tok) + 16 * (n_tok + 1) + 6 * n_tok + 8 * pow2_at_least(2 * n_tok, 64);
    /* BPE merges: the pair map and the merge parts that are not tokens */
    if (n_merge) b += 16 * pow2_at_least(2 * n_merge, 64) + s_merge / 4;
    /* GGUF index: string offsets of every string array, keys, tensors and their names */
    b += 8 * (n_tok + n_merge) + 96 * (uint64_t)elm_gguf_n_keys(g) + 160 * (uint64_t)elm_gguf_n_tensors(g);
    /* model and context structs, malloc's own bookkeeping, and the stack pages each
       worker thread touches (measured: a few pages) */
    b += 32 * 1024 + (uint64_t)n_threads * 16 * 1024;
    return b;
}

ELM_API elm_status elm_estimate_memory(const char *path, int32_t n_ctx, elm_kv_type kv_type,
                                       const elm_model_params *mparams, const elm_context_params *cparams,
                                       elm_memory_estimate *out) {
    if (!path || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_estimate_memory: NULL %s", path ? "out" : "path");
    if (n_ctx < 0) return elmi_error(ELM_ERR_INVALID_ARG, "elm_estimate_memory: n_ctx %d is negative", n_ctx);
    if (kv_type != ELM_KV_F16 && kv_type != ELM_KV_F32 && kv_type != ELM_KV_Q8_0)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_estimate_memory: kv_type %d is not F16, F32 or Q8_0", (int)kv_type);
    elm_model_params mp = mparams ? *mparams : elm_model_default_params();
    elm_context_params cp = cparams ? *cparams : elm_context_default_params();

    /* Only the header is read: the mapping is lazy, and no tensor data page is touched. */
    elm_gguf_params gp = elm_gguf_default_params();
    gp.use_mmap = true;
    gp.prefault = false;
    gp.mlock = false;
    elm_gguf *g = NULL;
    elm_status st = elm_gguf_open(path, &gp, &g);
    if (st != ELM_OK) return st;
    shape s;
    if ((st = read_shape(g, path, &s)) != ELM_OK) { elm_gguf_close(g); return st; }

    /* The same resolution of defaults as elm_context_create. */
    int64_t C = n_ctx ? n_ctx : s.n_ctx_train;
    int64_t B = cp.n_batch > 0 ? cp.n_batch : elm_context_default_params().n_batch;
    if (B > C) B = C;
    int64_t T = cp.n_threads;
    if (T <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        T = n < 1 ? 1 : n > 512 ? 512 : n;
    }

    elm_memory_estimate r;
    memset(&r, 0, sizeof r);
    r.file_bytes = elm_gguf_file_size(g);
    const bool tied = elm_gguf_find_tensor(g, "output.weight") == NULL;
    uint64_t xq = 0, xq_plain = 0;
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        r.weights_bytes += t->bytes;
        if (!is_matmul_weight(t, tied)) continue;
        if (mp.repack) {
            const uint64_t packed = repack_bytes(t);
            r.repacked_bytes += packed;
            /* the model hands a repacked matrix's mapped pages back (unless locked) */
            if (packed && mp.use_mmap && !mp.mlock) r.released_bytes += t->bytes;
        }
        size_t need = elmk_matmul_scratch_bytes(t->type, t->ne[0], B);
        if (need == SIZE_MAX) { elm_gguf_close(g); return elmi_error(ELM_ERR_NOMEM, "%s: n_batch %lld is too large", path, (long long)B); }
        xq = max_u64(xq, need);
        /* Without BLAS only the quantized activations are ever written: B rows of one. */
        xq_plain = max_u64(xq_plain, (uint64_t)elmk_matmul_scratch_bytes(t->type, t->ne[0], 1) * (uint64_t)B);
    }

    /* KV cache */
    const uint32_t kvt = kv_type == ELM_KV_F32 ? ELM_TYPE_F32 : kv_type == ELM_KV_Q8_0 ? ELM_TYPE_Q8_0 : ELM_TYPE_F16;
    const uint64_t kb = elm_type_row_bytes(kvt, s.head_k), vb = elm_type_row_bytes(kvt, s.head_v);
    if (!kb || !vb) {
        elm_gguf_close(g);
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: a %s KV cache cannot hold heads of %lld/%lld elements", path,
                          elm_type_get_info(kvt)->name, (long long)s.head_k, (long long)s.head_v);
    }
    const uint64_t rows = (uint64_t)s.n_layer * (uint64_t)s.n_head_kv * (uint64_t)C;
    r.kv_bytes = rows * (kb + vb);

    /* Scratch: the forward pass's own layout for these shapes. */
    elmi_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.n_vocab = (int32_t)s.n_vocab;
    hp.n_embd = (int32_t)s.n_embd;
    hp.n_layer = (int32_t)s.n_layer;
    hp.n_head = (int32_t)s.n_head;
    hp.n_head_kv = (int32_t)s.n_head_kv;
    hp.head_dim_k = (int32_t)s.head_k;
    hp.head_dim_v = (int32_t)s.head_v;
    hp.n_ff = (int32_t)s.n_ff;
    hp.n_rot = (int32_t)s.n_rot;
    hp.n_ctx_train = (int32_t)s.n_ctx_train;
    r.scratch_bytes = elmi_fwd_scratch_layout(&hp, xq, kv_type, (int32_t)C, (int32_t)B, (int32_t)T, cp.all_logits, NULL, NULL);
    if (r.scratch_bytes == 0) {
        elm_gguf_close(g);
        return elmi_error(ELM_ERR_NOMEM, "%s: scratch for n_ctx %lld and n_batch %lld is too large", path, (long long)C,
                          (long long)B);
    }
    /* The BLAS panel inside the scratch is allocated but never touched when BLAS is off. */
    uint64_t scratch_touched = r.scratch_bytes;
    if (!cp.use_blas && xq_plain < xq) {
        uint64_t plain = elmi_fwd_scratch_layout(&hp, xq_plain, kv_type, (int32_t)C, (int32_t)B, (int32_t)T,
                                                 cp.all_logits, NULL, NULL);
        if (plain && plain < scratch_touched) scratch_touched = plain;
    }
    r.overhead_bytes = overhead(g, (int32_t)T);
    elm_gguf_close(g);

    r.total_bytes = r.file_bytes - r.released_bytes + r.repacked_bytes + r.kv_bytes + scratch_touched + r.overhead_bytes;
    *out = r;
    return ELM_OK;
}
