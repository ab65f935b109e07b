/* quantize.c: convert a GGUF model to another tensor type, as llama.cpp's llama-quantize
 * does, so that our files match its files.
 *
 * Three things must agree with llama.cpp for that:
 *   - which tensors are converted and to which type (the "mix" of the _S/_M variants,
 *     chosen per tensor from its name, its layer and the model's shape: choose_type());
 *   - the order in which tensors are visited (their layer first, then their name), because
 *     the mix counts attn_v / ffn_down tensors as it goes, and it is also the file order;
 *   - the quantizers themselves: the scalar reference from_float of kernels/ (ggml's
 *     quantize_row_*_ref, which llama-quantize uses when there is no importance matrix).
 * Tensors are produced while the file is written (elm_gguf_writer_add_tensor_fill), one
 * at a time, rows split across a thread pool, so memory stays at one tensor.
 * Must not: know any architecture beyond the tensor-name conventions the mix uses.
 */
#include "edgelm.h"
#include "error.h"
#include "kernels.h"
#include "threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* llama.cpp's LLAMA_FTYPE values (llama.h), stored as general.file_type. */
enum {
    FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9,
    FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16,
    FT_Q5_K_M = 17, FT_Q6_K = 18, FT_BF16 = 32,
};

typedef struct ftype_name {
    const char *name;
    uint32_t ftype;       /* LLAMA_FTYPE */
    uint32_t base;        /* the type most tensors get */
} ftype_name;

static const ftype_name ftypes[] = {
    {"F32", FT_ALL_F32, ELM_TYPE_F32},   {"F16", FT_F16, ELM_TYPE_F16},       {"BF16", FT_BF16, ELM_TYPE_BF16},
    {"Q8_0", FT_Q8_0, ELM_TYPE_Q8_0},    {"Q4_0", FT_Q4_0, ELM_TYPE_Q4_0},    {"Q4_1", FT_Q4_1, ELM_TYPE_Q4_1},
    {"Q5_0", FT_Q5_0, ELM_TYPE_Q5_0},    {"Q5_1", FT_Q5_1, ELM_TYPE_Q5_1},    {"Q2_K", FT_Q2_K, ELM_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, ELM_TYPE_Q3_K}, {"Q3_K_M", FT_Q3_K_M, ELM_TYPE_Q3_K}, {"Q3_K", FT_Q3_K_M, ELM_TYPE_Q3_K},
    {"Q4_K_S", FT_Q4_K_S, ELM_TYPE_Q4_K}, {"Q4_K_M", FT_Q4_K_M, ELM_TYPE_Q4_K}, {"Q4_K", FT_Q4_K_M, ELM_TYPE_Q4_K},
    {"Q5_K_S", FT_Q5_K_S, ELM_TYPE_Q5_K}, {"Q5_K_M", FT_Q5_K_M, ELM_TYPE_Q5_K}, {"Q5_K", FT_Q5_K_M, ELM_TYPE_Q5_K},
    {"Q6_K", FT_Q6_K, ELM_TYPE_Q6_K},
};

#define QUANTIZATION_VERSION 2   /* ggml's GGML_QNT_VERSION */

elm_quantize_params elm_quantize_default_params(void) {
    elm_quantize_params p = {.n_threads = 0, .pure = false, .allow_requantize = false};
    return p;
}

static const char *tname(uint32_t t) {
    const elm_type_info *ti = elm_type_get_info(t);
    return ti ? ti->name : "?";
}

static bool is_quantized(uint32_t t) {
    const elm_type_info *ti = elm_type_get_info(t);
    return ti && ti->block_size > 1;
}

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

/* ==== Which tensors are converted ======================================================== */

/* ggml_n_dims: trailing dimensions of 1 do not count, so a [n, 1] tensor is 1-D. */
static int n_dims_of(const elm_gguf_tensor *t) {
    for (int d = 3; d >= 1; d--)
        if (t->ne[d] > 1) return d + 1;
    return 1;
}

/* llama-quantize converts 2-D+ tensors named *weight, except norms and a list of small or
 * special tensors that it keeps as they are. */
static bool is_converted(const elm_gguf_tensor *t) {
    static const char *const keep[] = {
        "_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
        "position_embd.weight", "token_types.weight", "ssm_conv1d.weight", "shortconv.conv.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight", ".position_embd.",
    };
    size_t n = strlen(t->name);
    if (n < 6 || strcmp(t->name + n - 6, "weight") != 0) return false;
    if (n_dims_of(t) < 2) return false;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (has(t->name, keep[i])) return false;
    return true;
}

/* ==== The mix ============================================================================ */

typedef struct mix_state {
    uint32_t ftype;
    bool falcon;                  /* general.architecture == "falcon" */
    bool has_output;              /* a separate output.weight (else token_embd is tied to it) */
    int64_t n_gqa;                /* attention heads per KV head (0 when unknown) */
    int64_t n_expert;             /* experts per MoE layer (0: dense) */
    int n_layer;
    int n_attention_wv;           /* attn_v-like tensors in the model */
    int i_attention_wv, i_ffn_down, i_ffn_gate, i_ffn_up;   /* seen so far, in visiting order */
} mix_state;

/* Layers that get more bits in the _M mixes: the first and last eighth, and every third
 * one in between. */
static bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

/* The layer of an ffn tensor: the running count, except in MoE models, whose expert
 * tensors are not in layer order (then the name says). */
static int layer_of(const mix_state *ms, int counter, const char *name) {
    int l = counter;
    if (ms->n_expert > 1 && sscanf(name, "blk.%d.", &l) != 1) l = counter;
    return l;
}

/* llama.cpp's llama_tensor_get_type for the ftypes we offer: the type of one converted
 * tensor given the base type, before the row-length fallback. Advances the counters. */
static uint32_t mix_type(mix_state *ms, const elm_gguf_tensor *t, uint32_t type) {
    const char *name = t->name;
    const uint32_t ft = ms->ftype;
    if (strcmp(name, "output.weight") == 0 || (!ms->has_output && strcmp(name, "token_embd.weight") == 0)) {
        const elm_type_info *ti = elm_type_get_info(type);
        if (ms->falcon || t->ne[0] % ti->block_size != 0) type = ELM_TYPE_Q8_0;
        else if (type != ELM_TYPE_Q8_0) type = ELM_TYPE_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0) {
        /* only the IQ/TQ mixes change it */
    } else if (has(name, "attn_v.weight")) {
        if (ft == FT_Q2_K) type = ms->n_gqa >= 4 ? ELM_TYPE_Q4_K : ELM_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M) type = ms->i_attention_wv < 2 ? ELM_TYPE_Q5_K : ELM_TYPE_Q4_K;
        else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(ms->i_attention_wv, ms->n_attention_wv))
            type = ELM_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && ms->i_attention_wv < 4) type = ELM_TYPE_Q5_K;
        /* (llama.cpp also raises Q3_K/Q4_K to Q5_K for 70B models: a size class we do not model) */
        if (ms->n_expert == 8) type = ELM_TYPE_Q8_0;
        ms->i_attention_wv++;
    } else if (has(name, "attn_k.weight")) {
        if (ms->n_expert == 8) type = ELM_TYPE_Q8_0;
    } else if (has(name, "attn_q.weight")) {
        /* only the IQ3 mixes change it */
    } else if (has(name, "ffn_down")) {
        int il = layer_of(ms, ms->i_ffn_down, name), nl = ms->n_layer;
        if (ft == FT_Q2_K) type = ELM_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M)
            type = il < nl / 16 ? ELM_TYPE_Q5_K : !ms->falcon || use_more_bits(il, nl) ? ELM_TYPE_Q4_K : ELM_TYPE_Q3_K;
        else if (ft == FT_Q4_K_M) {
            if (ms->falcon) type = il < nl / 16 ? ELM_TYPE_Q6_K : use_more_bits(il, nl) ? ELM_TYPE_Q5_K : ELM_TYPE_Q4_K;
            else if (use_more_bits(il, nl)) type = ELM_TYPE_Q6_K;
        } else if (ft == FT_Q5_K_M && use_more_bits(il, nl)) type = ELM_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && !ms->falcon && il < nl / 8) type = ELM_TYPE_Q5_K;
        ms->i_ffn_down++;
    } else if (has(name, "attn_output.weight")) {
        if (!ms->falcon) {
            if (ms->n_expert == 8) {
                if (ft == FT_Q2_K || ft == FT_Q3_K_S || ft == FT_Q3_K_M || ft == FT_Q4_K_S || ft == FT_Q4_K_M)
                    type = ELM_TYPE_Q5_K;
            } else if (ft == FT_Q2_K) type = ELM_TYPE_Q3_K;
            else if (ft == FT_Q3_K_M) type = ELM_TYPE_Q4_K;
        }
    } else if (has(name, "attn_qkv.weight")) {
        if (ft == FT_Q3_K_M) type = ELM_TYPE_Q4_K;
        else if (ft == FT_Q4_K_M) type = ELM_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M) type = ELM_TYPE_Q6_K;
    } else if (has(name, "ffn_gate")) {
        ms->i_ffn_gate++;
    } else if (has(name, "ffn_up")) {
        ms->i_ffn_up++;
    }
    return type;
}

/* A row length that is not a multiple of the type's block: fall back to a type that fits
 * (llama.cpp's choices; for Q2_K/Q3_K its newer Q4_0, which we can compute with, rather
 * than IQ4_NL), and to F16 when even that does not fit. */
static uint32_t fallback_type(const elm_gguf_tensor *t, uint32_t type) {
    const elm_type_info *ti = elm_type_get_info(type);
    if (t->ne[0] % ti->block_size == 0) return type;
    uint32_t fb;
    switch (type) {
    case ELM_TYPE_Q2_K: case ELM_TYPE_Q3_K: fb = ELM_TYPE_Q4_0; break;
    case ELM_TYPE_Q4_K: fb = ELM_TYPE_Q5_0; break;
    case ELM_TYPE_Q5_K: fb = ELM_TYPE_Q5_1; break;
    case ELM_TYPE_Q6_K: fb = ELM_TYPE_Q8_0; break;
    default: fb = ELM_TYPE_F16; break;
    }
    if (t->ne[0] % elm_type_get_info(fb)->block_size != 0) fb = ELM_TYPE_F16;
    elmi_log(ELM_LOG_WARN, "%s: row length %lld is not a multiple of %s's block size %u; using %s instead",
             t->name, (long long)t->ne[0], ti->name, ti->block_size, tname(fb));
    return fb;
}

/* ==== Model facts the mix needs ========================================================== */

/* An unsigned hyperparameter "<arch>.<suffix>"; per-layer arrays give their first element. */
static int64_t hparam(const elm_gguf *g, const char *arch, const char *suffix, int64_t dflt) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint64_t v;
    if (elm_gguf_get_uint(g, key, &v) == ELM_OK && v <= INT32_MAX) return (int64_t)v;
    elm_gguf_type et;
    uint64_t n;
    const void *data;
    if (elm_gguf_get_array(g, key, &et, &n, &data) == ELM_OK && n > 0 && (et == ELM_GGUF_UINT32 || et == ELM_GGUF_INT32)) {
        int32_t x;
        memcpy(&x, data, 4);
        if (x >= 0) return x;
    }
    return dflt;
}

/* ==== Visiting order ===================================================================== */

static int layer_number(const char *name) {
    int l = -1;
    if (sscanf(name, "blk.%d.", &l) != 1) l = -1;
    return l;
}

/* llama.cpp keeps weights in a map ordered by layer (tensors outside blk.N. first), then
 * by name: its quantizer visits and writes them in that order. */
typedef struct visit { int layer; const char *name; int64_t index; } visit;
static int by_layer_then_name(const void *a, const void *b) {
    const visit *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* ==== Converting one tensor ============================================================== */

typedef struct qctx {
    elmi_pool *pool;
    int n_threads;
    float **scratch;              /* per thread, scratch_floats each */
    int64_t scratch_floats;
} qctx;

typedef struct qjob {
    qctx *ctx;
    const elm_gguf_tensor *in;
    uint32_t out_type;
    uint8_t *dst;                 /* set by fill() for the pool run */
} qjob;

/* Thread ith converts its share of the rows, a few rows at a time through its scratch. */
static void convert_rows(void *arg, int ith, int nth) {
    const qjob *j = arg;
    const elm_gguf_tensor *t = j->in;
    const int64_t ne0 = t->ne[0];
    const int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    const size_t in_row = elm_type_row_bytes(t->type, ne0), out_row = elm_type_row_bytes(j->out_type, ne0);
    const elmk_type_ops *src = elmk_get_ops(t->type);
    /* the scalar row: ggml's reference quantizers, which llama-quantize uses */
    const elmk_type_ops *dst = elmk_get_ops_isa(j->out_type, ELMK_ISA_SCALAR);
    const int64_t r0 = rows * ith / nth, r1 = rows * (ith + 1) / nth;
    int64_t step = j->ctx->scratch_floats / ne0;
    if (step < 1) step = 1;
    float *buf = j->ctx->scratch[ith];
    for (int64_t r = r0; r < r1; r += step) {
        int64_t k = r1 - r < step ? r1 - r : step;
        const uint8_t *in = (const uint8_t *)t->data + (size_t)r * in_row;
        const float *x;
        if (t->type == ELM_TYPE_F32) {
            x = (const float *)in;
        } else {
            src->to_float(in, buf, k * ne0);
            x = buf;
        }
        dst->from_float(x, j->dst + (size_t)r * out_row, k * ne0);
    }
}

static elm_status fill_tensor(void *dst, uint64_t bytes, void *user) {
    qjob *j = user;
    const elm_gguf_tensor *t = j->in;
    uint64_t want = (uint64_t)elm_type_row_bytes(j->out_type, t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    if (bytes != want)
        return elmi_error(ELM_ERR_INTERNAL, "quantize: tensor '%s' needs %llu bytes, the writer has %llu", t->name,
                          (unsigned long long)want, (unsigned long long)bytes);
    j->dst = dst;
    elmi_pool_run(j->ctx->pool, convert_rows, j);
    return ELM_OK;
}

/* ==== The whole file ===================================================================== */

static const ftype_name *find_ftype(const char *type_name) {
    for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (strcasecmp(type_name, ftypes[i].name) == 0) return &ftypes[i];
    return NULL;
}

static bool skipped_key(elm_gguf_string k) {
    static const char *const skip[] = {"general.quantization_version", "general.file_type", "split.no", "split.count",
                                       "split.tensors.count"};
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (k.len == strlen(skip[i]) && memcmp(k.data, skip[i], k.len) == 0) return true;
    return false;
}

elm_status elm_quantize_file(const char *in_path, const char *out_path, const char *type_name,
                             const elm_quantize_params *params) {
    if (!in_path || !out_path || !type_name)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_quantize_file: NULL argument");
    elm_quantize_params p = params ? *params : elm_quantize_default_params();
    const ftype_name *ft = find_ftype(type_name);
    if (!ft) {
        char list[512] = "";
        for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, ftypes[i].name, sizeof list - strlen(list) - 1);
        }
        return elmi_error(ELM_ERR_INVALID_ARG, "unknown quantization type '%s' (expected one of %s)", type_name, list);
    }

    elm_gguf *g = NULL;
    elm_status st = elm_gguf_open(in_path, NULL, &g);
    if (st) return st;

    /* the model facts the mix needs */
    mix_state ms = {.ftype = ft->ftype};
    char arch[64] = "";
    elm_gguf_string s;
    if (elm_gguf_get_string(g, "general.architecture", &s) == ELM_OK && s.len < sizeof arch) {
        memcpy(arch, s.data, s.len);
        arch[s.len] = '\0';
    }
    ms.falcon = strcmp(arch, "falcon") == 0;
    int64_t n_head = hparam(g, arch, "attention.head_count", 0);
    int64_t n_head_kv = hparam(g, arch, "attention.head_count_kv", n_head);
    ms.n_gqa = n_head_kv > 0 ? n_head / n_head_kv : 0;
    ms.n_expert = hparam(g, arch, "expert_count", 0);
    int64_t n_t = elm_gguf_n_tensors(g);
    int max_layer = -1;
    for (int64_t i = 0; i < n_t; i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        if (has(t->name, "attn_v.weight") || has(t->name, "attn_qkv.weight") || has(t->name, "attn_kv_b.weight"))
            ms.n_attention_wv++;
        else if (strcmp(t->name, "output.weight") == 0)
            ms.has_output = true;
        int l = layer_number(t->name);
        if (l > max_layer) max_layer = l;
    }
    ms.n_layer = (int)hparam(g, arch, "block_count", max_layer + 1);

    /* visiting order, and each tensor's output type */
    visit *order = malloc((size_t)(n_t ? n_t : 1) * sizeof *order);
    uint32_t *out_type = malloc((size_t)(n_t ? n_t : 1) * sizeof *out_type);
    qjob *jobs = calloc((size_t)(n_t ? n_t : 1), sizeof *jobs);
    qctx ctx = {0};
    elm_gguf_writer *w = NULL;
    if (!order || !out_type || !jobs) { st = elmi_error(ELM_ERR_NOMEM, "quantize: out of memory"); goto done; }
    for (int64_t i = 0; i < n_t; i++) {
        const char *name = elm_gguf_tensor_at(g, i)->name;
        order[i] = (visit){layer_number(name), name, i};
    }
    qsort(order, (size_t)n_t, sizeof *order, by_layer_then_name);

    int64_t max_ne0 = 0;
    for (int64_t k = 0; k < n_t; k++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, order[k].index);
        uint32_t type = t->type;
        if (is_converted(t)) {
            type = ft->base;
            if (!p.pure && is_quantized(ft->base)) type = mix_type(&ms, t, type);
            type = fallback_type(t, type);
        }
        out_type[k] = type;
        if (type == t->type) continue;
        const elmk_type_ops *src = elmk_get_ops(t->type);
        if (is_quantized(t->type) && !p.allow_requantize) {
            st = elmi_error(ELM_ERR_UNSUPPORTED, "%s: tensor '%s' is already %s; requantizing loses precision and is "
                            "off (allow_requantize)", in_path, t->name, tname(t->type));
            goto done;
        }
        if (!src || !src->to_float) {
            st = elmi_error(ELM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which cannot be converted", in_path,
                            t->name, tname(t->type));
            goto done;
        }
        const elmk_type_ops *dst = elmk_get_ops_isa(type, ELMK_ISA_SCALAR);
        if (!dst || !dst->from_float) {
            st = elmi_error(ELM_ERR_UNSUPPORTED, "quantize: no quantizer for %s", tname(type));
            goto done;
        }
        if (t->ne[0] > max_ne0) max_ne0 = t->ne[0];
    }

    /* threads and their scratch rows */
    ctx.n_threads = p.n_threads > 0 ? p.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ctx.n_threads < 1) ctx.n_threads = 1;
    if (ctx.n_threads > 256) ctx.n_threads = 256;
    ctx.scratch_floats = max_ne0 > 16384 ? max_ne0 : 16384;
    ctx.scratch = calloc((size_t)ctx.n_threads, sizeof *ctx.scratch);
    if (!ctx.scratch) { st = elmi_error(ELM_ERR_NOMEM, "quantize: out of memory"); goto done; }
    for (int i = 0; i < ctx.n_threads; i++) {
        ctx.scratch[i] = malloc((size_t)ctx.scratch_floats * sizeof(float));
        if (!ctx.scratch[i]) { st = elmi_error(ELM_ERR_NOMEM, "quantize: out of memory"); goto done; }
    }
    ctx.pool = elmi_pool_create(ctx.n_threads);
    if (!ctx.pool) { st = ELM_ERR_NOMEM; goto done; }

    /* metadata: everything, then the two keys llama.cpp sets last */
    if ((st = elm_gguf_writer_create(&w))) goto done;
    for (int64_t i = 0; i < elm_gguf_n_keys(g); i++) {
        if (skipped_key(elm_gguf_key_name(g, i))) continue;
        if ((st = elm_gguf_writer_copy_key(w, g, i))) goto done;
    }
    if ((st = elm_gguf_writer_set_u32(w, "general.quantization_version", QUANTIZATION_VERSION))) goto done;
    if ((st = elm_gguf_writer_set_u32(w, "general.file_type", ft->ftype))) goto done;

    for (int64_t k = 0; k < n_t; k++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, order[k].index);
        if (out_type[k] == t->type) {
            elmi_log(ELM_LOG_INFO, "[%4lld/%4lld] %-32s %-6s keep", (long long)k + 1, (long long)n_t, t->name,
                     tname(t->type));
            st = elm_gguf_writer_add_tensor_ref(w, t->name, t->type, t->n_dims, t->ne, t->data);
        } else {
            elmi_log(ELM_LOG_INFO, "[%4lld/%4lld] %-32s %-6s -> %s", (long long)k + 1, (long long)n_t, t->name,
                     tname(t->type), tname(out_type[k]));
            jobs[k] = (qjob){.ctx = &ctx, .in = t, .out_type = out_type[k]};
            st = elm_gguf_writer_add_tensor_fill(w, t->name, out_type[k], t->n_dims, t->ne, fill_tensor, &jobs[k]);
        }
        if (st) goto done;
    }
    st = elm_gguf_writer_write(w, out_path);

done:
    elm_gguf_writer_free(w);
    if (ctx.pool) elmi_pool_free(ctx.pool);
    if (ctx.scratch)
        for (int i = 0; i < ctx.n_threads; i++) free(ctx.scratch[i]);
    free(ctx.scratch);
    free(jobs);
    free(out_type);
    free(order);
    elm_gguf_close(g);
    return st;
}
