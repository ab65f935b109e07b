/* model.c: bind a GGUF file to a transformer: the architecture table, hyperparameters
 * from metadata, weight views into the mapping, the model's tokenizer.
 *
 * Everything the forward pass relies on is checked here, once: every key it needs exists
 * and is in range, every tensor has the shape the metadata implies and a type we can
 * compute with. Errors name the file, the key or tensor, and what was expected.
 * Must not: run the model, hold per-conversation state, know about SIMD.
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"
#include "kernels.h"

/* ==== The architecture table ============================================================= */

static const elmi_arch arch_table[] = {
    {"llama", ELMI_ROPE_ADJACENT, false},
    {"qwen2", ELMI_ROPE_HALVES, true},
};
#define N_ARCH (int)(sizeof arch_table / sizeof arch_table[0])

static const char *supported_list(void) { return "llama, qwen2"; }

/* ==== Loading state ====================================================================== */

typedef struct loader {
    elm_model *m;
    const elm_gguf *g;
    const char *file;            /* base name of the path, for messages */
    char key[192];               /* "<arch>.<suffix>" being read */
} loader;

static const char *arch_key(loader *L, const char *suffix) {
    snprintf(L->key, sizeof L->key, "%s.%s", L->m->arch->name, suffix);
    return L->key;
}

static elm_status own(elm_model *m, void *p) {
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        void **n = realloc(m->owned, (size_t)cap * sizeof *n);
        if (!n) { free(p); return elmi_error(ELM_ERR_NOMEM, "out of memory keeping a weight copy"); }
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return ELM_OK;
}

/* ==== Metadata =========================================================================== */

/* An integer key, or a per-layer array of integers whose values are all equal (files
 * that vary a width per layer are not something we run). */
static elm_status read_int_key(loader *L, const char *key, int64_t *out) {
    elm_status st = elm_gguf_get_int(L->g, key, out);
    if (st != ELM_ERR_TYPE) return st;
    int64_t idx = elm_gguf_find_key(L->g, key);
    elm_gguf_value v;
    if (idx < 0 || elm_gguf_key_value(L->g, idx, &v) != ELM_OK || v.type != ELM_GGUF_ARRAY) return st;
    if (v.v.arr.n == 0) return elmi_error(ELM_ERR_FORMAT, "%s: metadata key '%s' is an empty array", L->file, key);
    int64_t first = 0;
    for (uint64_t i = 0; i < v.v.arr.n; i++) {
        elm_gguf_value e;
        st = elm_gguf_array_elem(L->g, &v, i, &e);
        if (st != ELM_OK) return st;
        int64_t x;
        switch (e.type) {
        case ELM_GGUF_UINT8: case ELM_GGUF_UINT16: case ELM_GGUF_UINT32: case ELM_GGUF_UINT64:
            if (e.v.u > (uint64_t)INT64_MAX)
                return elmi_error(ELM_ERR_FORMAT, "%s: metadata key '%s' element %llu is too large", L->file, key,
                                  (unsigned long long)i);
            x = (int64_t)e.v.u;
            break;
        case ELM_GGUF_INT8: case ELM_GGUF_INT16: case ELM_GGUF_INT32: case ELM_GGUF_INT64:
            x = e.v.i;
            break;
        default:
            return elmi_error(ELM_ERR_TYPE, "%s: metadata key '%s' is an array of non-integers", L->file, key);
        }
        if (i == 0) first = x;
        else if (x != first)
            return elmi_error(ELM_ERR_UNSUPPORTED,
                              "%s: metadata key '%s' differs between layers (%lld and %lld); per-layer "
                              "shapes are not supported", L->file, key, (long long)first, (long long)x);
    }
    *out = first;
    return ELM_OK;
}

/* A count "<arch>.<suffix>" in [lo, hi]; def when absent and not required. */
static elm_status get_count(loader *L, const char *suffix, const char *what, bool required, int64_t def,
                            int64_t lo, int64_t hi, int32_t *out) {
    const char *key = arch_key(L, suffix);
    int64_t v;
    elm_status st = read_int_key(L, key, &v);
    if (st == ELM_ERR_NOT_FOUND) {
        if (required)
            return elmi_error(ELM_ERR_FORMAT, "%s: missing metadata key '%s' (%s)", L->file, key, what);
        v = def;
    } else if (st != ELM_OK) {
        return st;
    }
    if (v < lo || v > hi)
        return elmi_error(ELM_ERR_FORMAT, "%s: metadata key '%s' (%s) = %lld is out of range [%lld, %lld]", L->file,
                          key, what, (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return ELM_OK;
}

/* A positive finite float "<arch>.<suffix>"; def when absent and not required. */
static elm_status get_positive(loader *L, const char *suffix, const char *what, bool required, double def,
                               float *out) {
    const char *key = arch_key(L, suffix);
    double v;
    elm_status st = elm_gguf_get_float(L->g, key, &v);
    if (st == ELM_ERR_NOT_FOUND) {
        if (required)
            return elmi_error(ELM_ERR_FORMAT, "%s: missing metadata key '%s' (%s)", L->file, key, what);
        v = def;
    } else if (st != ELM_OK) {
        return st;
    }
    if (!(v > 0.0) || !isfinite((float)v))
        return elmi_error(ELM_ERR_FORMAT, "%s: metadata key '%s' (%s) = %g must be a positive finite number",
                          L->file, key, what, v);
    *out = (float)v;
    return ELM_OK;
}

#define MAX_WIDTH (1 << 20)      /* elements: far above any model we could run */
#define MAX_COUNT (1 << 16)      /* layers, heads */

static elm_status read_hparams(loader *L) {
    elmi_hparams *hp = &L->m->hp;
    elm_status st;
    int32_t expert_count = 0;
    if ((st = get_count(L, "expert_count", "experts", false, 0, 0, MAX_COUNT, &expert_count))) return st;
    if (expert_count > 0)
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: mixture-of-experts models (%s = %d) are not supported",
                          L->file, L->key, expert_count);

    if ((st = get_count(L, "context_length", "training context, tokens", true, 0, 1, INT32_MAX, &hp->n_ctx_train)) ||
        (st = get_count(L, "embedding_length", "model width", true, 0, 1, MAX_WIDTH, &hp->n_embd)) ||
        (st = get_count(L, "block_count", "number of layers", true, 0, 1, MAX_COUNT, &hp->n_layer)) ||
        (st = get_count(L, "feed_forward_length", "feed-forward width", true, 0, 1, MAX_WIDTH, &hp->n_ff)) ||
        (st = get_count(L, "attention.head_count", "query heads", true, 0, 1, MAX_COUNT, &hp->n_head)) ||
        (st = get_count(L, "attention.head_count_kv", "key/value heads", false, hp->n_head, 1, MAX_COUNT,
                        &hp->n_head_kv)))
        return st;
    if (hp->n_head % hp->n_head_kv != 0)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s.attention.head_count (%d) is not a multiple of "
                          "%s.attention.head_count_kv (%d)", L->file, L->m->arch->name, hp->n_head,
                          L->m->arch->name, hp->n_head_kv);

    const bool have_k = elm_gguf_find_key(L->g, arch_key(L, "attention.key_length")) >= 0;
    const bool have_v = elm_gguf_find_key(L->g, arch_key(L, "attention.value_length")) >= 0;
    if ((!have_k || !have_v) && hp->n_embd % hp->n_head != 0)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s.embedding_length (%d) is not a multiple of "
                          "%s.attention.head_count (%d), and attention.key_length/value_length are absent",
                          L->file, L->m->arch->name, hp->n_embd, L->m->arch->name, hp->n_head);
    const int32_t def_head = hp->n_embd / hp->n_head;
    if ((st = get_count(L, "attention.key_length", "key elements per head", false, def_head, 1, MAX_WIDTH,
                        &hp->head_dim_k)) ||
        (st = get_count(L, "attention.value_length", "value elements per head", false, def_head, 1, MAX_WIDTH,
                        &hp->head_dim_v)))
        return st;
    if ((int64_t)hp->n_head * hp->head_dim_k > MAX_WIDTH || (int64_t)hp->n_head * hp->head_dim_v > MAX_WIDTH)
        return elmi_error(ELM_ERR_FORMAT, "%s: %d heads of %d/%d elements are too wide", L->file, hp->n_head,
                          hp->head_dim_k, hp->head_dim_v);
    if ((st = get_count(L, "rope.dimension_count", "rotated elements per head", false, hp->head_dim_k, 2,
                        hp->head_dim_k, &hp->n_rot)))
        return st;
    if (hp->n_rot % 2 != 0)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s = %d must be even", L->file, arch_key(L, "rope.dimension_count"),
                          hp->n_rot);

    if ((st = get_positive(L, "attention.layer_norm_rms_epsilon", "RMSNorm epsilon", true, 0, &hp->rms_eps)) ||
        (st = get_positive(L, "rope.freq_base", "RoPE base frequency", false, 10000.0, &hp->rope_base)))
        return st;

    /* RoPE scaling: none or linear (positions divided by the factor) */
    elm_gguf_string stype;
    st = elm_gguf_get_string(L->g, arch_key(L, "rope.scaling.type"), &stype);
    if (st == ELM_OK) {
        const bool none = stype.len == 4 && memcmp(stype.data, "none", 4) == 0;
        const bool linear = stype.len == 6 && memcmp(stype.data, "linear", 6) == 0;
        if (!none && !linear)
            return elmi_error(ELM_ERR_UNSUPPORTED, "%s: %s = '%.*s' is not supported (supported: none, linear)",
                              L->file, L->key, (int)(stype.len > 64 ? 64 : stype.len), stype.data);
    } else if (st != ELM_ERR_NOT_FOUND) {
        return st;
    }
    float factor = 1.0f;
    const char *fkey = elm_gguf_find_key(L->g, arch_key(L, "rope.scaling.factor")) >= 0 ? "rope.scaling.factor"
                                                                                          : "rope.scale_linear";
    if ((st = get_positive(L, fkey, "RoPE linear scaling factor", false, 1.0, &factor))) return st;
    hp->rope_freq_scale = 1.0f / factor;
    hp->rope_pairing = L->m->arch->rope;
    return ELM_OK;
}

/* ==== Tensors ============================================================================ */

static const elm_gguf_tensor *find(loader *L, const char *name, bool required, elm_status *st) {
    const elm_gguf_tensor *t = elm_gguf_find_tensor(L->g, name);
    *st = ELM_OK;
    if (!t && required) *st = elmi_error(ELM_ERR_FORMAT, "%s: missing tensor '%s'", L->file, name);
    return t;
}

static const char *type_name(uint32_t type) {
    const elm_type_info *ti = elm_type_get_info(type);
    return ti ? ti->name : "unknown";
}

/* A weight matrix of n_out rows of n_in elements (GGUF shape [n_in, n_out]). */
static elm_status get_matrix(loader *L, const char *name, int64_t n_in, int64_t n_out, const char *shape_desc,
                             bool required, elmi_matrix *out) {
    elm_status st;
    const elm_gguf_tensor *t = find(L, name, required, &st);
    memset(out, 0, sizeof *out);
    if (!t) return st;
    if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
        return elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld] (%s)",
                          L->file, t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                          (long long)t->ne[3], (long long)n_in, (long long)n_out, shape_desc);
    const elm_type_info *ti = elm_type_get_info(t->type);
    const elmk_type_ops *ops = elmk_get_ops(t->type);
    if (!ti || !ti->can_compute || !ops || !ops->vec_dot || !ops->to_float)
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which edgelm cannot compute with",
                          L->file, t->name, type_name(t->type));
    const size_t row_bytes = elm_type_row_bytes(t->type, n_in);
    if (row_bytes == 0)
        return elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s': rows of %lld elements are not a whole number of %s blocks",
                          L->file, t->name, (long long)n_in, ti->name);
    if (t->bytes < row_bytes * (uint64_t)n_out)
        return elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' holds %llu bytes, expected %llu", L->file, t->name,
                          (unsigned long long)t->bytes, (unsigned long long)(row_bytes * (uint64_t)n_out));
    out->name = t->name;
    out->type = t->type;
    out->data = t->data;
    out->row_bytes = row_bytes;
    out->n_out = n_out;
    out->n_in = n_in;
    return ELM_OK;
}

/* A vector of n floats (norm weights, biases, frequency factors). F32 data is used in
 * place when aligned; other types are converted once into a copy the model owns. */
static elm_status get_vector(loader *L, const char *name, int64_t n, bool required, const float **out) {
    elm_status st;
    const elm_gguf_tensor *t = find(L, name, required, &st);
    *out = NULL;
    if (!t) return st;
    if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
        return elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld]",
                          L->file, t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                          (long long)t->ne[3], (long long)n);
    if (t->type == ELM_TYPE_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        *out = t->data;
        return ELM_OK;
    }
    const elmk_type_ops *ops = elmk_get_ops(t->type);
    if (!ops || !ops->to_float || elm_type_row_bytes(t->type, n) == 0)
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which edgelm cannot read as floats",
                          L->file, t->name, type_name(t->type));
    float *copy = malloc((size_t)n * sizeof *copy);
    if (!copy) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory converting tensor '%s'", L->file, t->name);
    ops->to_float(t->data, copy, n);
    if ((st = own(L->m, copy))) return st;
    *out = copy;
    return ELM_OK;
}

static elm_status read_weights(loader *L) {
    elm_model *m = L->m;
    elmi_hparams *hp = &m->hp;
    elm_status st;

    const elm_gguf_tensor *te = find(L, "token_embd.weight", true, &st);
    if (!te) return st;
    if (te->ne[0] != hp->n_embd || te->ne[1] < 1 || te->ne[1] > INT32_MAX)
        return elmi_error(ELM_ERR_FORMAT, "%s: tensor 'token_embd.weight' has shape [%lld, %lld], expected [%d, n_vocab] "
                          "(n_embd = %s.embedding_length)", L->file, (long long)te->ne[0], (long long)te->ne[1],
                          hp->n_embd, m->arch->name);
    hp->n_vocab = (int32_t)te->ne[1];
    int32_t key_vocab = 0;
    if ((st = get_count(L, "vocab_size", "vocabulary size", false, hp->n_vocab, 1, INT32_MAX, &key_vocab))) return st;
    if (key_vocab != hp->n_vocab)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s.vocab_size (%d) disagrees with token_embd.weight's %d rows", L->file,
                          m->arch->name, key_vocab, hp->n_vocab);

    const int64_t E = hp->n_embd, F = hp->n_ff, V = hp->n_vocab;
    const int64_t QD = (int64_t)hp->n_head * hp->head_dim_k, KD = (int64_t)hp->n_head_kv * hp->head_dim_k;
    const int64_t VD = (int64_t)hp->n_head_kv * hp->head_dim_v, OD = (int64_t)hp->n_head * hp->head_dim_v;

    if ((st = get_matrix(L, "token_embd.weight", E, V, "n_embd x n_vocab", true, &m->tok_embd))) return st;
    if ((st = get_vector(L, "output_norm.weight", E, true, &m->output_norm))) return st;
    if ((st = get_matrix(L, "output.weight", E, V, "n_embd x n_vocab", false, &m->output))) return st;
    if (!m->output.data) m->output = m->tok_embd;         /* tied embeddings */
    if ((st = get_vector(L, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs))) return st;

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory for %d layers", L->file, hp->n_layer);
    for (int32_t l = 0; l < hp->n_layer; l++) {
        elmi_layer *ly = &m->layers[l];
        char n[96];
#define NAME(suffix) (snprintf(n, sizeof n, "blk.%d." suffix, (int)l), n)
        if ((st = get_vector(L, NAME("attn_norm.weight"), E, true, &ly->attn_norm)) ||
            (st = get_matrix(L, NAME("attn_q.weight"), E, QD, "n_embd x n_head*head_dim_k", true, &ly->wq)) ||
            (st = get_matrix(L, NAME("attn_k.weight"), E, KD, "n_embd x n_head_kv*head_dim_k", true, &ly->wk)) ||
            (st = get_matrix(L, NAME("attn_v.weight"), E, VD, "n_embd x n_head_kv*head_dim_v", true, &ly->wv)) ||
            (st = get_matrix(L, NAME("attn_output.weight"), OD, E, "n_head*head_dim_v x n_embd", true, &ly->wo)) ||
            (st = get_vector(L, NAME("attn_q.bias"), QD, m->arch->qkv_bias, &ly->bq)) ||
            (st = get_vector(L, NAME("attn_k.bias"), KD, m->arch->qkv_bias, &ly->bk)) ||
            (st = get_vector(L, NAME("attn_v.bias"), VD, m->arch->qkv_bias, &ly->bv)) ||
            (st = get_vector(L, NAME("ffn_norm.weight"), E, true, &ly->ffn_norm)) ||
            (st = get_matrix(L, NAME("ffn_gate.weight"), E, F, "n_embd x n_ff", true, &ly->ffn_gate)) ||
            (st = get_matrix(L, NAME("ffn_up.weight"), E, F, "n_embd x n_ff", true, &ly->ffn_up)) ||
            (st = get_matrix(L, NAME("ffn_down.weight"), F, E, "n_ff x n_embd", true, &ly->ffn_down)))
            return st;
#undef NAME
    }
    return ELM_OK;
}

/* Once a matrix has its packed copy, the kernels never read the file's bytes of it again,
 * so its mapped pages are handed back to the kernel: resident memory is the packed copy
 * alone, not both. The pages stay mapped (file-backed and clean), so a later read (the
 * embedding rows of a tied output matrix, or a forced scalar path) faults them back in.
 * Not done for locked or copied weights, which cannot be dropped page by page. */
static void release_pages(const elm_model *m, const elmi_matrix *w) {
    if (!elm_gguf_is_mapped(m->gguf)) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t begin = ((uintptr_t)w->data + page - 1) & ~(page - 1);
    const uintptr_t end = ((uintptr_t)w->data + (uintptr_t)w->row_bytes * (uintptr_t)w->n_out) & ~(page - 1);
    if (end > begin) madvise((void *)begin, end - begin, MADV_DONTNEED);
}

/* Repacking reads every weight once and writes a copy: a second core halves the load time,
 * so the matrices are shared out to a few short-lived threads (the context's pool does not
 * exist yet). Each job is one matrix; results are kept by the loading thread afterwards. */
typedef struct repack_job {
    elmi_matrix *w;
    void *packed;            /* NULL: no packed layout for this type or ISA */
    size_t bytes;
} repack_job;

typedef struct repack_work {
    repack_job *jobs;
    int n_jobs;
    bool release;
    const elm_model *m;
    atomic_int next;         /* the next job to take */
} repack_work;

static void *repack_worker(void *arg) {
    repack_work *work = arg;
    for (int i; (i = atomic_fetch_add(&work->next, 1)) < work->n_jobs;) {
        repack_job *j = &work->jobs[i];
        const elmi_matrix *w = j->w;
        j->packed = elmk_repack(w->type, w->data, w->row_bytes, w->n_out, w->n_in, &j->bytes);
        if (j->packed && work->release) release_pages(work->m, w);
    }
    return NULL;
}

/* Build the kernels' packed layouts once (when they have one for a type). */
static elm_status repack_weights(elm_model *m, bool release) {
    const int n_jobs = 7 * m->hp.n_layer + 1;
    repack_work work = {.jobs = calloc((size_t)n_jobs, sizeof(repack_job)), .n_jobs = n_jobs,
                        .release = release, .m = m};
    if (!work.jobs) return elmi_error(ELM_ERR_NOMEM, "out of memory planning the weight repacking");
    atomic_init(&work.next, 0);
    int n = 0;
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        elmi_layer *ly = &m->layers[l];
        elmi_matrix *all[7] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->ffn_gate, &ly->ffn_up, &ly->ffn_down};
        for (int i = 0; i < 7; i++) work.jobs[n++].w = all[i];
    }
    work.jobs[n++].w = &m->output;

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n_helpers = (int)(cpus > 8 ? 7 : cpus > 1 ? cpus - 1 : 0);
    pthread_t helpers[7];
    int started = 0;
    while (started < n_helpers && pthread_create(&helpers[started], NULL, repack_worker, &work) == 0) started++;
    repack_worker(&work);   /* this thread works too; fewer helpers only means slower */
    for (int i = 0; i < started; i++) pthread_join(helpers[i], NULL);

    elm_status st = ELM_OK;
    for (int i = 0; i < n_jobs; i++) {
        repack_job *j = &work.jobs[i];
        if (!j->packed) continue;
        if (st != ELM_OK) {             /* an earlier own() failed: drop the rest */
            free(j->packed);
            continue;
        }
        if ((st = own(m, j->packed)) != ELM_OK) continue;   /* own() freed it */
        j->w->packed = j->packed;
        m->info.repacked_bytes += j->bytes;
    }
    free(work.jobs);
    return st;
}

static elm_status read_tokenizer(loader *L) {
    if (elm_gguf_find_key(L->g, "tokenizer.ggml.model") < 0) return ELM_OK;   /* weights only */
    elm_status st = elm_tokenizer_create(L->g, &L->m->tokenizer);
    if (st == ELM_ERR_UNSUPPORTED) {
        /* the weights still run from token ids; say why there is no tokenizer */
        elmi_log(ELM_LOG_WARN, "%s: no tokenizer: %s", L->file, elm_last_error());
        L->m->tokenizer = NULL;
        return ELM_OK;
    }
    return st;
}

/* Totals for elm_model_info: parameters, bytes, and the dominant type of the layers'
 * matrices (the embedding is left out: quantizers give it its own type, and in small
 * models it would outweigh everything else). */
static void summarize(elm_model *m) {
    uint64_t per_type[ELM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < elm_gguf_n_tensors(m->gguf); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(m->gguf, i);
        const uint64_t n = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
        m->info.n_params += n;
        m->info.weight_bytes += t->bytes;
        if (t->n_dims >= 2 && t->type < ELM_TYPE_COUNT && strncmp(t->name, "blk.", 4) == 0) per_type[t->type] += n;
    }
    uint32_t best = ELM_TYPE_F32;
    for (uint32_t ty = 0; ty < ELM_TYPE_COUNT; ty++)
        if (per_type[ty] > per_type[best]) best = ty;
    m->info.type_name = type_name(best);
}

/* ==== Public API ========================================================================= */

elm_model_params elm_model_default_params(void) {
    elm_model_params p = {.use_mmap = true, .prefault = false, .mlock = false, .repack = true};
    return p;
}

void elm_model_free(elm_model *m) {
    if (!m) return;
    elm_tokenizer_free(m->tokenizer);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    elm_gguf_close(m->gguf);
    pthread_mutex_destroy(&m->error_lock);
    free(m);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

elm_status elm_model_load(const char *path, const elm_model_params *params, elm_model **out) {
    if (!path || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_model_load: path and out must not be NULL");
    const uint64_t t0 = elmi_now_ns();
    const elm_model_params p = params ? *params : elm_model_default_params();

    elm_model *m = calloc(1, sizeof *m);
    if (!m) return elmi_error(ELM_ERR_NOMEM, "%s: out of memory", path);
    pthread_mutex_init(&m->error_lock, NULL);

    elm_gguf_params gp = elm_gguf_default_params();
    gp.use_mmap = p.use_mmap;
    gp.prefault = p.prefault;
    gp.mlock = p.mlock;
    elm_status st = elm_gguf_open(path, &gp, &m->gguf);
    if (st) goto fail;

    loader L = {.m = m, .g = m->gguf, .file = base_name(path)};
    elm_gguf_string arch;
    st = elm_gguf_get_string(m->gguf, "general.architecture", &arch);
    if (st == ELM_ERR_NOT_FOUND) {
        st = elmi_error(ELM_ERR_FORMAT, "%s: missing metadata key 'general.architecture' (supported: %s)", L.file,
                        supported_list());
        goto fail;
    }
    if (st) goto fail;
    for (int i = 0; i < N_ARCH; i++)
        if (arch.len == strlen(arch_table[i].name) && memcmp(arch.data, arch_table[i].name, arch.len) == 0)
            m->arch = &arch_table[i];
    if (!m->arch) {
        st = elmi_error(ELM_ERR_UNSUPPORTED, "%s: architecture '%.*s' is not supported (supported: %s)", L.file,
                        (int)(arch.len > 64 ? 64 : arch.len), arch.data, supported_list());
        goto fail;
    }
    if ((st = read_hparams(&L)) || (st = read_weights(&L))) goto fail;
    if (p.repack && (st = repack_weights(m, !p.mlock))) goto fail;
    if ((st = read_tokenizer(&L))) goto fail;

    elm_gguf_string name;
    if (elm_gguf_get_string(m->gguf, "general.name", &name) == ELM_OK) {
        size_t n = name.len < sizeof m->name - 1 ? (size_t)name.len : sizeof m->name - 1;
        memcpy(m->name, name.data, n);
        m->name[n] = '\0';
    }
    elm_model_info *info = &m->info;
    const elmi_hparams *hp = &m->hp;
    info->arch = m->arch->name;
    info->name = m->name;
    info->n_vocab = hp->n_vocab;
    info->n_ctx_train = hp->n_ctx_train;
    info->n_embd = hp->n_embd;
    info->n_layer = hp->n_layer;
    info->n_head = hp->n_head;
    info->n_head_kv = hp->n_head_kv;
    info->head_dim_k = hp->head_dim_k;
    info->head_dim_v = hp->head_dim_v;
    info->n_ff = hp->n_ff;
    info->rms_eps = hp->rms_eps;
    info->rope_freq_base = hp->rope_base;
    info->rope_freq_scale = hp->rope_freq_scale;
    info->file_bytes = elm_gguf_file_size(m->gguf);
    summarize(m);
    info->load_seconds = elmi_seconds_since(t0);
    *out = m;
    return ELM_OK;

fail:
    elm_model_free(m);   /* keeps the thread's error message: freeing sets none */
    return st;
}

void elmi_model_keep_error(elm_model *m) {
    pthread_mutex_lock(&m->error_lock);
    elmi_error_copy(m->last_error);
    pthread_mutex_unlock(&m->error_lock);
}

const char *elm_model_last_error(const elm_model *m) { return m ? m->last_error : ""; }

elm_status elm_model_get_info(const elm_model *m, elm_model_info *out) {
    if (!m || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_model_get_info: model and out must not be NULL");
    *out = m->info;
    return ELM_OK;
}

const elm_gguf *elm_model_gguf(const elm_model *m) { return m ? m->gguf : NULL; }

const elm_tokenizer *elm_model_tokenizer(const elm_model *m) { return m ? m->tokenizer : NULL; }
