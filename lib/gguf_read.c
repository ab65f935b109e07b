/* gguf_read.c: open a GGUF v2/v3 file, validate all of it, and answer questions about its
 * metadata and tensors.
 *
 * Everything is checked once, at open: every count and length against the bytes that
 * remain BEFORE anything is allocated for it, every size product for overflow, every
 * tensor's shape, type and data range. After a successful open, the getters below only
 * index into memory that is known to be inside the file.
 * Must not: print, touch tensor data (opening a 2 GB model reads only its header pages),
 * or know what any key means beyond general.alignment.
 */
#include "gguf_internal.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "edgelm reads GGUF fields with memcpy and assumes a little-endian host"
#endif

enum { STORAGE_CALLER = 0, STORAGE_MMAP = 1, STORAGE_HEAP = 2 };

/* ==== Value types ======================================================================== */

static const char *const value_type_names[ELM_GGUF_TYPE_COUNT] = {
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
    "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};
static const uint8_t value_type_sizes[ELM_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

uint64_t elmi_gguf_type_size(uint32_t type) {
    return type < ELM_GGUF_TYPE_COUNT ? value_type_sizes[type] : 0;
}

const char *elmi_gguf_type_name(uint32_t type) {
    return type < ELM_GGUF_TYPE_COUNT ? value_type_names[type] : "UNKNOWN";
}

static uint64_t load_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t load_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ==== Parsing with bounds ================================================================ */

/* A read cursor over the file. `ctx` names what is being parsed ("key 'x'") for errors. */
typedef struct cursor {
    const uint8_t *base;
    uint64_t size;        /* bytes */
    uint64_t pos;         /* bytes from file start */
    const char *path;
    char ctx[160];
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

static elm_status truncated(const cursor *c, const char *what, uint64_t need) {
    return elmi_error(ELM_ERR_FORMAT, "%s: %s%s%s at offset %llu: expected %llu bytes, but the file ends at %llu",
                      c->path, c->ctx, c->ctx[0] ? ": " : "", what, (unsigned long long)c->pos,
                      (unsigned long long)need, (unsigned long long)c->size);
}

static elm_status read_u32(cursor *c, const char *what, uint32_t *v) {
    if (remaining(c) < 4) return truncated(c, what, 4);
    *v = load_u32(c->base + c->pos);
    c->pos += 4;
    return ELM_OK;
}

static elm_status read_u64(cursor *c, const char *what, uint64_t *v) {
    if (remaining(c) < 8) return truncated(c, what, 8);
    *v = load_u64(c->base + c->pos);
    c->pos += 8;
    return ELM_OK;
}

static elm_status read_string(cursor *c, const char *what, elm_gguf_string *s) {
    uint64_t at = c->pos, len = 0;
    elm_status st = read_u64(c, what, &len);
    if (st) return st;
    if (len > remaining(c)) {
        c->pos = at;
        return elmi_error(ELM_ERR_FORMAT, "%s: %s%s%s at offset %llu: length %llu runs past the end of the file (%llu bytes)",
                          c->path, c->ctx, c->ctx[0] ? ": " : "", what, (unsigned long long)at,
                          (unsigned long long)len, (unsigned long long)c->size);
    }
    s->data = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return ELM_OK;
}

/* A count of elements, each at least min_bytes long, must fit in what remains. This is the
 * check that keeps a hostile count (2^60) from ever reaching an allocation. */
static elm_status check_count(const cursor *c, uint64_t at, const char *what, uint64_t n, uint64_t min_bytes) {
    if (n > remaining(c) / min_bytes)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s%s%s at offset %llu: %llu elements of at least %llu bytes "
                          "cannot fit in the %llu bytes that remain",
                          c->path, c->ctx, c->ctx[0] ? ": " : "", what, (unsigned long long)at,
                          (unsigned long long)n, (unsigned long long)min_bytes, (unsigned long long)remaining(c));
    return ELM_OK;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF, and (for names,
 * which we hand out as C strings) no NUL. */
bool elmi_gguf_valid_name(const void *str, uint64_t n) {
    const uint8_t *s = str;
    uint64_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b == 0) return false;
        if (b < 0x80) { i++; continue; }
        uint32_t cp;
        int len;
        if (b >= 0xC2 && b <= 0xDF) { len = 2; cp = b & 0x1F; }
        else if (b >= 0xE0 && b <= 0xEF) { len = 3; cp = b & 0x0F; }
        else if (b >= 0xF0 && b <= 0xF4) { len = 4; cp = b & 0x07; }
        else return false;
        if (n - i < (uint64_t)len) return false;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;
        i += (uint64_t)len;
    }
    return true;
}

/* A name as it may appear in a one-line error message: at most 100 bytes, control
 * characters replaced by '?'. */
typedef struct shown_name { char s[104]; } shown_name;
static shown_name shown(const char *s, uint64_t n) {
    shown_name r;
    uint64_t k = n > 100 ? 100 : n;
    for (uint64_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)s[i];
        r.s[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    r.s[k] = '\0';
    if (n > 100) memcpy(r.s + 100, "...", 4);
    return r;
}

/* Validate and skip one value of type `type` at the cursor; depth counts enclosing arrays. */
static elm_status skip_value(cursor *c, uint32_t type, int depth) {
    uint64_t at = c->pos;
    if (type >= ELM_GGUF_TYPE_COUNT)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s: value type at offset %llu: expected 0..12, found %u",
                          c->path, c->ctx, (unsigned long long)at, type);
    if (type == ELM_GGUF_STRING) {
        elm_gguf_string s;
        return read_string(c, "string", &s);
    }
    if (type != ELM_GGUF_ARRAY) {
        uint64_t sz = value_type_sizes[type];
        if (remaining(c) < sz) return truncated(c, value_type_names[type], sz);
        c->pos += sz;
        return ELM_OK;
    }
    if (depth + 1 > ELMI_GGUF_MAX_DEPTH)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s: array at offset %llu: arrays nested deeper than %d levels",
                          c->path, c->ctx, (unsigned long long)at, ELMI_GGUF_MAX_DEPTH);
    uint32_t et = 0;
    uint64_t n = 0;
    elm_status st = read_u32(c, "array element type", &et);
    if (!st) st = read_u64(c, "array length", &n);
    if (st) return st;
    if (et >= ELM_GGUF_TYPE_COUNT)
        return elmi_error(ELM_ERR_FORMAT, "%s: %s: array element type at offset %llu: expected 0..12, found %u",
                          c->path, c->ctx, (unsigned long long)at, et);
    if (et != ELM_GGUF_STRING && et != ELM_GGUF_ARRAY) {
        uint64_t sz = value_type_sizes[et];
        if ((st = check_count(c, at, "array", n, sz))) return st;
        c->pos += n * sz;
        return ELM_OK;
    }
    /* a string is at least its 8-byte length; an array at least its 12-byte header */
    if ((st = check_count(c, at, "array", n, et == ELM_GGUF_STRING ? 8 : 12))) return st;
    for (uint64_t i = 0; i < n; i++)
        if ((st = skip_value(c, et, depth + 1))) return st;
    return ELM_OK;
}

/* Bytes of a value inside an already validated file (used at run time for nested arrays
 * and by the writer's copy_key). */
uint64_t elmi_gguf_value_bytes(const elm_gguf *g, elm_gguf_type type, const uint8_t *p) {
    cursor c = {.base = g->base, .size = g->size, .pos = (uint64_t)(p - g->base), .path = g->path};
    elm_status st = skip_value(&c, type, 0);
    return st ? 0 : c.pos - (uint64_t)(p - g->base);
}

/* ==== Hash tables ======================================================================== */

static uint64_t hash_bytes(const void *p, uint64_t n) {
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull;              /* FNV-1a */
    for (uint64_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t *hash_alloc(int64_t n, uint64_t *mask) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap *= 2;
    *mask = cap - 1;
    return calloc(cap, sizeof(uint32_t));
}

static elm_gguf_string kv_name(const elm_gguf *g, uint32_t i) { return g->kv[i].name; }

static int64_t kv_lookup(const elm_gguf *g, const char *s, uint64_t n) {
    if (!g->kv_hash) return -1;
    for (uint64_t h = hash_bytes(s, n) & g->kv_hash_mask;; h = (h + 1) & g->kv_hash_mask) {
        uint32_t slot = g->kv_hash[h];
        if (slot == 0) return -1;
        elm_gguf_string k = kv_name(g, slot - 1);
        if (k.len == n && memcmp(k.data, s, n) == 0) return slot - 1;
    }
}

static int64_t tensor_lookup(const elm_gguf *g, const char *s, uint64_t n) {
    if (!g->t_hash) return -1;
    for (uint64_t h = hash_bytes(s, n) & g->t_hash_mask;; h = (h + 1) & g->t_hash_mask) {
        uint32_t slot = g->t_hash[h];
        if (slot == 0) return -1;
        const char *name = g->tensors[slot - 1].name;
        if (strncmp(name, s, n) == 0 && name[n] == '\0') return slot - 1;
    }
}

/* ==== Opening ============================================================================ */

elm_gguf_params elm_gguf_default_params(void) {
    elm_gguf_params p = {.use_mmap = true, .prefault = false, .mlock = false, .validate_utf8_keys = true};
    return p;
}

static void release(elm_gguf *g) {
    if (!g) return;
    if (g->locked) munlock((void *)g->base, g->size);
    if (g->storage == STORAGE_MMAP) munmap((void *)g->base, g->size);
    else if (g->storage == STORAGE_HEAP) free((void *)g->base);
    free(g->kv);
    free(g->kv_hash);
    free(g->str_off_all);
    free(g->tensors);
    free(g->names);
    free(g->t_hash);
    free(g->path);
    free(g);
}

void elm_gguf_close(elm_gguf *g) { release(g); }

static elm_status nomem(const char *path, const char *what) {
    return elmi_error(ELM_ERR_NOMEM, "%s: out of memory allocating %s", path, what);
}

static elm_status parse_header(elm_gguf *g, cursor *c, uint64_t *n_tensors, uint64_t *n_kv) {
    if (c->size < 4 || memcmp(c->base, ELMI_GGUF_MAGIC, 4) != 0) {
        if (c->size < 4) return truncated(c, "magic", 4);
        return elmi_error(ELM_ERR_FORMAT, "%s: magic at offset 0: expected \"GGUF\", found %02x %02x %02x %02x",
                          c->path, c->base[0], c->base[1], c->base[2], c->base[3]);
    }
    c->pos = 4;
    uint32_t version = 0;
    elm_status st = read_u32(c, "version", &version);
    if (st) return st;
    if (version == 1)
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: version at offset 4: GGUF v1 is not supported (expected 2 or 3); "
                          "convert the file with a current llama.cpp", c->path);
    if ((version & 0xFFFF) == 0 && (version >> 16) != 0)
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: version at offset 4: this is a big-endian GGUF file "
                          "(version bytes 0x%08x); only little-endian files are supported", c->path, version);
    if (version != 2 && version != 3)
        return elmi_error(ELM_ERR_UNSUPPORTED, "%s: version at offset 4: expected 2 or 3, found %u",
                          c->path, version);
    g->version = version;
    if ((st = read_u64(c, "tensor count", n_tensors))) return st;
    if ((st = read_u64(c, "key count", n_kv))) return st;
    /* Every key/value takes at least 8 (name length) + 4 (type) + 1 bytes; every tensor
     * info at least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset). */
    if ((st = check_count(c, 16, "key count", *n_kv, 13))) return st;
    if ((st = check_count(c, 8, "tensor count", *n_tensors, 32))) return st;
    if (*n_kv > UINT32_MAX - 1 || *n_tensors > UINT32_MAX - 1)
        return elmi_error(ELM_ERR_FORMAT, "%s: header at offset 8: more than 2^32 keys or tensors", c->path);
    return ELM_OK;
}

static elm_status parse_kv(elm_gguf *g, cursor *c, const elm_gguf_params *p, uint64_t n_kv) {
    g->kv = calloc(n_kv ? n_kv : 1, sizeof *g->kv);
    if (!g->kv) return nomem(c->path, "keys");
    g->kv_hash = hash_alloc((int64_t)n_kv, &g->kv_hash_mask);
    if (!g->kv_hash) return nomem(c->path, "the key index");
    uint64_t n_strings = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        elmi_gguf_kv *kv = &g->kv[i];
        uint64_t at = c->pos;
        snprintf(c->ctx, sizeof c->ctx, "key %llu", (unsigned long long)i);
        elm_status st = read_string(c, "name", &kv->name);
        if (st) return st;
        if (p->validate_utf8_keys && !elmi_gguf_valid_name(kv->name.data, kv->name.len))
            return elmi_error(ELM_ERR_FORMAT, "%s: key %llu name at offset %llu: expected valid UTF-8 without NUL bytes",
                              c->path, (unsigned long long)i, (unsigned long long)at);
        snprintf(c->ctx, sizeof c->ctx, "key '%s'", shown(kv->name.data, kv->name.len).s);
        uint32_t type = 0;
        if ((st = read_u32(c, "value type", &type))) return st;
        kv->type = (elm_gguf_type)type;
        kv->val = c->base + c->pos;
        if ((st = skip_value(c, type, 0))) return st;
        kv->val_bytes = (uint64_t)(c->base + c->pos - kv->val);
        if (type == ELM_GGUF_ARRAY) {
            kv->elem_type = (elm_gguf_type)load_u32(kv->val);
            kv->n = load_u64(kv->val + 4);
            kv->first = kv->val + 12;
            if (kv->elem_type == ELM_GGUF_STRING) n_strings += kv->n;
        }
        /* unique names */
        uint64_t h = hash_bytes(kv->name.data, kv->name.len) & g->kv_hash_mask;
        for (;; h = (h + 1) & g->kv_hash_mask) {
            uint32_t slot = g->kv_hash[h];
            if (slot == 0) { g->kv_hash[h] = (uint32_t)i + 1; break; }
            elm_gguf_string o = g->kv[slot - 1].name;
            if (o.len == kv->name.len && memcmp(o.data, kv->name.data, o.len) == 0)
                return elmi_error(ELM_ERR_FORMAT, "%s: %s at offset %llu: key names must be unique (key %u has the same name)",
                                  c->path, c->ctx, (unsigned long long)at, slot - 1);
        }
        g->n_kv = (int64_t)i + 1;
    }
    c->ctx[0] = '\0';

    /* The string index: each element's offset, so element i is O(1). n_strings is bounded
     * by the file size / 8 (each string was walked above). */
    if (n_strings) {
        g->str_off_all = malloc(n_strings * sizeof(uint64_t));
        if (!g->str_off_all) return nomem(c->path, "the string index");
        uint64_t *o = g->str_off_all;
        for (int64_t i = 0; i < g->n_kv; i++) {
            elmi_gguf_kv *kv = &g->kv[i];
            if (kv->type != ELM_GGUF_ARRAY || kv->elem_type != ELM_GGUF_STRING) continue;
            kv->str_off = o;
            uint64_t pos = (uint64_t)(kv->first - g->base);
            for (uint64_t k = 0; k < kv->n; k++) {
                *o++ = pos;
                pos += 8 + load_u64(g->base + pos);
            }
        }
    }
    return ELM_OK;
}

static elm_status read_alignment(elm_gguf *g, const char *path) {
    g->alignment = ELMI_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = kv_lookup(g, "general.alignment", strlen("general.alignment"));
    if (i < 0) return ELM_OK;
    const elmi_gguf_kv *kv = &g->kv[i];
    uint64_t a;
    switch (kv->type) {
    case ELM_GGUF_UINT8: a = kv->val[0]; break;
    case ELM_GGUF_UINT16: { uint16_t v; memcpy(&v, kv->val, 2); a = v; break; }
    case ELM_GGUF_UINT32: a = load_u32(kv->val); break;
    case ELM_GGUF_UINT64: a = load_u64(kv->val); break;
    default:
        return elmi_error(ELM_ERR_FORMAT, "%s: key 'general.alignment' at offset %llu: expected an unsigned integer, found %s",
                          path, (unsigned long long)(kv->val - g->base), elmi_gguf_type_name(kv->type));
    }
    if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 30))
        return elmi_error(ELM_ERR_FORMAT, "%s: key 'general.alignment' at offset %llu: expected a power of two "
                          "between 1 and 2^30, found %llu", path, (unsigned long long)(kv->val - g->base),
                          (unsigned long long)a);
    g->alignment = a;
    return ELM_OK;
}

typedef struct tinfo_name { uint64_t at; elm_gguf_string s; } tinfo_name;

static elm_status parse_tensor_infos(elm_gguf *g, cursor *c, uint64_t n, tinfo_name *nm) {
    for (uint64_t i = 0; i < n; i++) {
        elm_gguf_tensor *t = &g->tensors[i];
        uint64_t at = c->pos;
        snprintf(c->ctx, sizeof c->ctx, "tensor %llu", (unsigned long long)i);
        elm_status st = read_string(c, "name", &nm[i].s);
        if (st) return st;
        nm[i].at = at;
        if (!elmi_gguf_valid_name(nm[i].s.data, nm[i].s.len))
            return elmi_error(ELM_ERR_FORMAT, "%s: tensor %llu name at offset %llu: expected valid UTF-8 without NUL bytes",
                              c->path, (unsigned long long)i, (unsigned long long)at);
        snprintf(c->ctx, sizeof c->ctx, "tensor '%s'", shown(nm[i].s.data, nm[i].s.len).s);
        uint64_t dims_at = c->pos;
        uint32_t n_dims = 0;
        if ((st = read_u32(c, "n_dims", &n_dims))) return st;
        if (n_dims < 1 || n_dims > 4)
            return elmi_error(ELM_ERR_FORMAT, "%s: %s: n_dims at offset %llu: expected 1..4, found %u",
                              c->path, c->ctx, (unsigned long long)dims_at, n_dims);
        t->n_dims = n_dims;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < n_dims; d++) {
            uint64_t ne_at = c->pos, v = 0;
            if ((st = read_u64(c, "dimension", &v))) return st;
            if (v == 0 || v > (uint64_t)INT64_MAX)
                return elmi_error(ELM_ERR_FORMAT, "%s: %s: dimension %u at offset %llu: expected 1..2^63-1, found %llu",
                                  c->path, c->ctx, d, (unsigned long long)ne_at, (unsigned long long)v);
            t->ne[d] = (int64_t)v;
        }
        uint64_t type_at = c->pos;
        uint32_t type = 0;
        if ((st = read_u32(c, "type", &type))) return st;
        const elm_type_info *ti = elm_type_get_info(type);
        if (!ti)
            return elmi_error(ELM_ERR_UNSUPPORTED, "%s: %s: type at offset %llu: unknown tensor type id %u",
                              c->path, c->ctx, (unsigned long long)type_at, type);
        if ((type >= 31 && type <= 33) || (type >= 36 && type <= 38))
            return elmi_error(ELM_ERR_UNSUPPORTED, "%s: %s: type at offset %llu: type %s (%u) was removed from ggml; "
                              "requantize the model", c->path, c->ctx, (unsigned long long)type_at, ti->name, type);
        t->type = type;
        if (t->ne[0] % ti->block_size != 0)
            return elmi_error(ELM_ERR_FORMAT, "%s: %s: row length %lld at offset %llu: expected a multiple of %s's "
                              "block size %u", c->path, c->ctx, (long long)t->ne[0], (unsigned long long)dims_at + 4,
                              ti->name, ti->block_size);
        /* bytes = row bytes * ne1 * ne2 * ne3, every product checked */
        uint64_t elems = (uint64_t)t->ne[0], rows = 1;
        for (int d = 1; d < 4; d++) {
            if ((uint64_t)t->ne[d] > (uint64_t)INT64_MAX / elems)
                return elmi_error(ELM_ERR_FORMAT, "%s: %s: shape at offset %llu: element count overflows 64 bits",
                                  c->path, c->ctx, (unsigned long long)dims_at);
            elems *= (uint64_t)t->ne[d];
            rows *= (uint64_t)t->ne[d];
        }
        uint64_t row_bytes = (uint64_t)t->ne[0] / ti->block_size * ti->block_bytes;   /* <= 2^63 / 1 * 292 ... */
        if ((uint64_t)t->ne[0] / ti->block_size > UINT64_MAX / ti->block_bytes || (rows && row_bytes > UINT64_MAX / rows))
            return elmi_error(ELM_ERR_FORMAT, "%s: %s: shape at offset %llu: byte size overflows 64 bits",
                              c->path, c->ctx, (unsigned long long)dims_at);
        t->bytes = row_bytes * rows;
        uint64_t off_at = c->pos;
        if ((st = read_u64(c, "data offset", &t->offset))) return st;
        if (t->offset % g->alignment != 0)
            return elmi_error(ELM_ERR_FORMAT, "%s: %s: data offset at offset %llu: expected a multiple of the alignment "
                              "%llu, found %llu", c->path, c->ctx, (unsigned long long)off_at,
                              (unsigned long long)g->alignment, (unsigned long long)t->offset);
    }
    c->ctx[0] = '\0';
    return ELM_OK;
}

typedef struct extent { uint64_t offset, bytes; uint32_t index; } extent;
static int by_offset(const void *a, const void *b) {
    uint64_t x = ((const extent *)a)->offset, y = ((const extent *)b)->offset;
    return x < y ? -1 : x > y;
}

static elm_status check_tensor_data(elm_gguf *g, const char *path) {
    uint64_t avail = g->data_offset <= g->size ? g->size - g->data_offset : 0;
    if (g->n_tensors > 0 && g->data_offset > g->size)
        return elmi_error(ELM_ERR_FORMAT, "%s: data section at offset %llu: starts past the end of the file (%llu bytes)",
                          path, (unsigned long long)g->data_offset, (unsigned long long)g->size);
    for (int64_t i = 0; i < g->n_tensors; i++) {
        elm_gguf_tensor *t = &g->tensors[i];
        if (t->offset > avail || t->bytes > avail - t->offset)
            return elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' data at offset %llu: its %llu bytes run past the end of "
                              "the file (%llu bytes)", path, shown(t->name, strlen(t->name)).s, (unsigned long long)(g->data_offset + t->offset),
                              (unsigned long long)t->bytes, (unsigned long long)g->size);
        t->data = g->base + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return ELM_OK;
    extent *order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return nomem(path, "the tensor order");
    for (int64_t i = 0; i < g->n_tensors; i++)
        order[i] = (extent){g->tensors[i].offset, g->tensors[i].bytes, (uint32_t)i};
    qsort(order, (size_t)g->n_tensors, sizeof *order, by_offset);
    elm_status st = ELM_OK;
    for (int64_t k = 1; k < g->n_tensors; k++) {
        const elm_gguf_tensor *a = &g->tensors[order[k - 1].index], *b = &g->tensors[order[k].index];
        if (a->offset + a->bytes > b->offset) {
            st = elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' data at offset %llu: overlaps tensor '%s' "
                            "(bytes %llu..%llu); tensor data must not overlap", path, shown(b->name, strlen(b->name)).s,
                            (unsigned long long)(g->data_offset + b->offset), shown(a->name, strlen(a->name)).s,
                            (unsigned long long)(g->data_offset + a->offset),
                            (unsigned long long)(g->data_offset + a->offset + a->bytes));
            break;
        }
    }
    free(order);
    return st;
}

/* Parse and validate the file held in g->base/g->size. */
static elm_status parse(elm_gguf *g, const elm_gguf_params *p) {
    cursor c = {.base = g->base, .size = g->size, .pos = 0, .path = g->path};
    uint64_t n_tensors = 0, n_kv = 0;
    elm_status st = parse_header(g, &c, &n_tensors, &n_kv);
    if (!st) st = parse_kv(g, &c, p, n_kv);
    if (!st) st = read_alignment(g, g->path);
    if (st) return st;

    if ((st = check_count(&c, c.pos, "tensor count", n_tensors, 32))) return st;
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    tinfo_name *nm = calloc(n_tensors ? n_tensors : 1, sizeof *nm);
    if (!g->tensors || !nm) { free(nm); return nomem(g->path, "tensor infos"); }
    st = parse_tensor_infos(g, &c, n_tensors, nm);
    if (!st) {
        g->n_tensors = (int64_t)n_tensors;
        uint64_t name_bytes = 0;
        for (uint64_t i = 0; i < n_tensors; i++) name_bytes += nm[i].s.len + 1;   /* <= file size + n */
        g->names = malloc(name_bytes ? name_bytes : 1);
        g->t_hash = hash_alloc(g->n_tensors, &g->t_hash_mask);
        if (!g->names || !g->t_hash) st = nomem(g->path, "tensor names");
    }
    if (!st) {
        char *o = g->names;
        for (uint64_t i = 0; i < n_tensors && !st; i++) {
            memcpy(o, nm[i].s.data, nm[i].s.len);
            o[nm[i].s.len] = '\0';
            g->tensors[i].name = o;
            o += nm[i].s.len + 1;
            uint64_t h = hash_bytes(nm[i].s.data, nm[i].s.len) & g->t_hash_mask;
            for (;; h = (h + 1) & g->t_hash_mask) {
                uint32_t slot = g->t_hash[h];
                if (slot == 0) { g->t_hash[h] = (uint32_t)i + 1; break; }
                if (strcmp(g->tensors[slot - 1].name, g->tensors[i].name) == 0) {
                    st = elmi_error(ELM_ERR_FORMAT, "%s: tensor '%s' at offset %llu: tensor names must be unique "
                                    "(tensor %u has the same name)", g->path, shown(g->tensors[i].name, strlen(g->tensors[i].name)).s,
                                    (unsigned long long)nm[i].at, slot - 1);
                    break;
                }
            }
        }
    }
    free(nm);
    if (st) return st;

    /* The data section starts at the next multiple of the alignment. */
    uint64_t a = g->alignment;
    if (c.pos > UINT64_MAX - (a - 1))
        return elmi_error(ELM_ERR_FORMAT, "%s: data section at offset %llu: alignment overflows", g->path,
                          (unsigned long long)c.pos);
    g->data_offset = (c.pos + a - 1) / a * a;
    return check_tensor_data(g, g->path);
}

static elm_status new_handle(const char *path, elm_gguf **out) {
    elm_gguf *g = calloc(1, sizeof *g);
    if (!g) return nomem(path, "the file handle");
    g->path = strdup(path);
    if (!g->path) { free(g); return nomem(path, "the file handle"); }
    *out = g;
    return ELM_OK;
}

elm_status elm_gguf_open_memory(const void *data, size_t size, const char *name, elm_gguf **out) {
    if (!out || (!data && size))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_gguf_open_memory: data and out must not be NULL");
    if (!name) name = "<memory>";
    elm_gguf *g = NULL;
    elm_status st = new_handle(name, &g);
    if (st) return st;
    static const uint8_t empty[1];
    g->base = data ? data : empty;
    g->size = size;
    g->storage = STORAGE_CALLER;
    elm_gguf_params p = elm_gguf_default_params();
    if ((st = parse(g, &p))) { release(g); return st; }
    *out = g;
    return ELM_OK;
}

static elm_status read_whole(int fd, elm_gguf *g) {
    void *buf = NULL;
    size_t align = 4096;    /* page-aligned like a mapping, so tensor data alignment holds */
    if (posix_memalign(&buf, align, g->size ? g->size : 1) != 0) return nomem(g->path, "a copy of the file");
    uint64_t got = 0;
    while (got < g->size) {
        ssize_t r = pread(fd, (char *)buf + got, g->size - got > (1u << 30) ? (1u << 30) : g->size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            return elmi_error(ELM_ERR_IO, "%s: read failed at offset %llu: %s", g->path, (unsigned long long)got,
                              r < 0 ? strerror(e) : "unexpected end of file");
        }
        got += (uint64_t)r;
    }
    g->base = buf;
    g->storage = STORAGE_HEAP;
    return ELM_OK;
}

elm_status elm_gguf_open(const char *path, const elm_gguf_params *params, elm_gguf **out) {
    if (!path || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_gguf_open: path and out must not be NULL");
    elm_gguf_params p = params ? *params : elm_gguf_default_params();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return elmi_error(ELM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return elmi_error(ELM_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return elmi_error(ELM_ERR_IO, "%s: not a regular file", path);
    }
    elm_gguf *g = NULL;
    elm_status st = new_handle(path, &g);
    if (st) { close(fd); return st; }
    g->size = (uint64_t)sb.st_size;
    if (g->size == 0) {
        /* Nothing to map: let the parser name what is missing. */
        static const uint8_t none[1];
        close(fd);
        g->base = none;
        g->storage = STORAGE_CALLER;
        st = parse(g, &p);
        release(g);
        return st ? st : elmi_error(ELM_ERR_INTERNAL, "%s: empty file accepted", path);
    }
    if (p.use_mmap) {
        void *m = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE | (p.prefault ? MAP_POPULATE : 0), fd, 0);
        if (m != MAP_FAILED) {
            g->base = m;
            g->storage = STORAGE_MMAP;
        } else {
            elmi_log(ELM_LOG_WARN, "%s: mmap failed (%s); reading the file into memory", path, strerror(errno));
        }
    }
    if (!g->base && (st = read_whole(fd, g))) {
        close(fd);
        release(g);
        return st;
    }
    close(fd);
    if (p.mlock) {
        if (mlock(g->base, g->size) != 0) {
            int e = errno;
            release(g);
            return elmi_error(ELM_ERR_IO, "%s: mlock of %llu bytes failed: %s (raise RLIMIT_MEMLOCK, or do not ask for mlock)",
                              path, (unsigned long long)sb.st_size, strerror(e));
        }
        g->locked = true;
    }
    if ((st = parse(g, &p))) { release(g); return st; }
    *out = g;
    return ELM_OK;
}

/* ==== File-level getters ================================================================= */

uint32_t elm_gguf_version(const elm_gguf *g) { return g ? g->version : 0; }
uint64_t elm_gguf_alignment(const elm_gguf *g) { return g ? g->alignment : 0; }
uint64_t elm_gguf_data_offset(const elm_gguf *g) { return g ? g->data_offset : 0; }
uint64_t elm_gguf_file_size(const elm_gguf *g) { return g ? g->size : 0; }
const char *elm_gguf_path(const elm_gguf *g) { return g ? g->path : NULL; }
const void *elm_gguf_mapping(const elm_gguf *g) { return g ? g->base : NULL; }
bool elm_gguf_is_mapped(const elm_gguf *g) { return g && g->storage == STORAGE_MMAP; }

/* ==== Metadata =========================================================================== */

int64_t elm_gguf_n_keys(const elm_gguf *g) { return g ? g->n_kv : 0; }

int64_t elm_gguf_find_key(const elm_gguf *g, const char *key) {
    if (!g || !key) return -1;
    return kv_lookup(g, key, strlen(key));
}

elm_gguf_string elm_gguf_key_name(const elm_gguf *g, int64_t i) {
    elm_gguf_string s = {NULL, 0};
    if (g && i >= 0 && i < g->n_kv) s = g->kv[i].name;
    return s;
}

elm_gguf_type elm_gguf_key_type(const elm_gguf *g, int64_t i) {
    if (!g || i < 0 || i >= g->n_kv) return ELM_GGUF_TYPE_COUNT;
    return g->kv[i].type;
}

/* Decode a scalar of type t at p into a value (t is never ARRAY here). */
static void decode_scalar(elm_gguf_type t, const uint8_t *p, elm_gguf_value *v) {
    v->type = t;
    switch (t) {
    case ELM_GGUF_UINT8: v->v.u = p[0]; break;
    case ELM_GGUF_INT8: v->v.i = (int8_t)p[0]; break;
    case ELM_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); v->v.u = x; break; }
    case ELM_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); v->v.i = x; break; }
    case ELM_GGUF_UINT32: v->v.u = load_u32(p); break;
    case ELM_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); v->v.i = x; break; }
    case ELM_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); v->v.f = x; break; }
    case ELM_GGUF_BOOL: v->v.b = p[0] != 0; break;
    case ELM_GGUF_STRING: v->v.s.len = load_u64(p); v->v.s.data = (const char *)p + 8; break;
    case ELM_GGUF_UINT64: v->v.u = load_u64(p); break;
    case ELM_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); v->v.i = x; break; }
    case ELM_GGUF_FLOAT64: memcpy(&v->v.f, p, 8); break;
    default: break;
    }
}

static void decode_at(elm_gguf_type t, const uint8_t *p, elm_gguf_value *v) {
    if (t == ELM_GGUF_ARRAY) {
        v->type = t;
        v->v.arr.elem_type = (elm_gguf_type)load_u32(p);
        v->v.arr.n = load_u64(p + 4);
        v->v.arr.first = p + 12;
    } else {
        decode_scalar(t, p, v);
    }
}

elm_status elm_gguf_key_value(const elm_gguf *g, int64_t i, elm_gguf_value *out) {
    if (!g || !out || i < 0 || i >= g->n_kv)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_gguf_key_value: key index %lld out of range", (long long)i);
    decode_at(g->kv[i].type, g->kv[i].val, out);
    return ELM_OK;
}

/* The key whose array starts at `first`, if any (keys are in file order, so their
 * array starts increase with the index: binary search). */
static const elmi_gguf_kv *kv_by_first(const elm_gguf *g, const uint8_t *first) {
    int64_t lo = 0, hi = g->n_kv - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const uint8_t *v = g->kv[mid].val;
        if (v + 12 == first && g->kv[mid].type == ELM_GGUF_ARRAY) return &g->kv[mid];
        if (v < first) lo = mid + 1; else hi = mid - 1;
    }
    return NULL;
}

elm_status elm_gguf_array_elem(const elm_gguf *g, const elm_gguf_value *array, uint64_t i, elm_gguf_value *out) {
    if (!g || !array || !out || array->type != ELM_GGUF_ARRAY)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_gguf_array_elem: not an array value");
    if (i >= array->v.arr.n)
        return elmi_error(ELM_ERR_INVALID_ARG, "%s: array element %llu out of range (length %llu)", g->path,
                          (unsigned long long)i, (unsigned long long)array->v.arr.n);
    const uint8_t *first = array->v.arr.first;
    if (first < g->base || first > g->base + g->size)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_gguf_array_elem: the array does not belong to %s", g->path);
    elm_gguf_type et = array->v.arr.elem_type;
    uint64_t sz = elmi_gguf_type_size(et);
    if (sz) {
        decode_scalar(et, first + i * sz, out);
        return ELM_OK;
    }
    if (et == ELM_GGUF_STRING) {
        const elmi_gguf_kv *kv = kv_by_first(g, first);
        if (kv && kv->str_off) {
            decode_scalar(et, g->base + kv->str_off[i], out);
            return ELM_OK;
        }
    }
    const uint8_t *p = first;    /* nested: walk (validated at open, so sizes are sane) */
    for (uint64_t k = 0; k < i; k++) p += elmi_gguf_value_bytes(g, et, p);
    decode_at(et, p, out);
    return ELM_OK;
}

static elm_status get_kv(const elm_gguf *g, const char *key, const elmi_gguf_kv **kv) {
    if (!g || !key) return elmi_error(ELM_ERR_INVALID_ARG, "gguf getter: NULL file or key");
    int64_t i = kv_lookup(g, key, strlen(key));
    if (i < 0) return elmi_error(ELM_ERR_NOT_FOUND, "%s: no key '%s'", g->path, key);
    *kv = &g->kv[i];
    return ELM_OK;
}

static elm_status type_error(const elm_gguf *g, const char *key, elm_gguf_type have, const char *want) {
    return elmi_error(ELM_ERR_TYPE, "%s: key '%s' is %s, expected %s", g->path, key, elmi_gguf_type_name(have), want);
}

static bool is_unsigned(elm_gguf_type t) {
    return t == ELM_GGUF_UINT8 || t == ELM_GGUF_UINT16 || t == ELM_GGUF_UINT32 || t == ELM_GGUF_UINT64 || t == ELM_GGUF_BOOL;
}
static bool is_signed(elm_gguf_type t) {
    return t == ELM_GGUF_INT8 || t == ELM_GGUF_INT16 || t == ELM_GGUF_INT32 || t == ELM_GGUF_INT64;
}

elm_status elm_gguf_get_int(const elm_gguf *g, const char *key, int64_t *out) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    elm_gguf_value v;
    decode_at(kv->type, kv->val, &v);
    if (kv->type == ELM_GGUF_BOOL) { if (out) *out = v.v.b; return ELM_OK; }
    if (is_signed(kv->type)) { if (out) *out = v.v.i; return ELM_OK; }
    if (is_unsigned(kv->type)) {
        if (v.v.u > (uint64_t)INT64_MAX)
            return elmi_error(ELM_ERR_TYPE, "%s: key '%s' = %llu does not fit in int64", g->path, key,
                              (unsigned long long)v.v.u);
        if (out) *out = (int64_t)v.v.u;
        return ELM_OK;
    }
    return type_error(g, key, kv->type, "an integer");
}

elm_status elm_gguf_get_uint(const elm_gguf *g, const char *key, uint64_t *out) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    elm_gguf_value v;
    decode_at(kv->type, kv->val, &v);
    if (kv->type == ELM_GGUF_BOOL) { if (out) *out = v.v.b; return ELM_OK; }
    if (is_unsigned(kv->type)) { if (out) *out = v.v.u; return ELM_OK; }
    if (is_signed(kv->type)) {
        if (v.v.i < 0)
            return elmi_error(ELM_ERR_TYPE, "%s: key '%s' = %lld is negative, expected an unsigned integer", g->path,
                              key, (long long)v.v.i);
        if (out) *out = (uint64_t)v.v.i;
        return ELM_OK;
    }
    return type_error(g, key, kv->type, "an unsigned integer");
}

elm_status elm_gguf_get_float(const elm_gguf *g, const char *key, double *out) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    elm_gguf_value v;
    decode_at(kv->type, kv->val, &v);
    double d;
    if (kv->type == ELM_GGUF_FLOAT32 || kv->type == ELM_GGUF_FLOAT64) d = v.v.f;
    else if (is_signed(kv->type)) d = (double)v.v.i;
    else if (is_unsigned(kv->type) && kv->type != ELM_GGUF_BOOL) d = (double)v.v.u;
    else return type_error(g, key, kv->type, "a number");
    if (out) *out = d;
    return ELM_OK;
}

elm_status elm_gguf_get_bool(const elm_gguf *g, const char *key, bool *out) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    if (kv->type != ELM_GGUF_BOOL) return type_error(g, key, kv->type, "BOOL");
    if (out) *out = kv->val[0] != 0;
    return ELM_OK;
}

elm_status elm_gguf_get_string(const elm_gguf *g, const char *key, elm_gguf_string *out) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    if (kv->type != ELM_GGUF_STRING) return type_error(g, key, kv->type, "STRING");
    if (out) { out->len = load_u64(kv->val); out->data = (const char *)kv->val + 8; }
    return ELM_OK;
}

elm_status elm_gguf_get_array(const elm_gguf *g, const char *key, elm_gguf_type *elem_type, uint64_t *n,
                              const void **data) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    if (kv->type != ELM_GGUF_ARRAY) return type_error(g, key, kv->type, "ARRAY");
    if (elem_type) *elem_type = kv->elem_type;
    if (n) *n = kv->n;
    if (data) *data = kv->first;
    return ELM_OK;
}

elm_status elm_gguf_get_array_string(const elm_gguf *g, const char *key, uint64_t i, elm_gguf_string *out) {
    const elmi_gguf_kv *kv;
    elm_status st = get_kv(g, key, &kv);
    if (st) return st;
    if (kv->type != ELM_GGUF_ARRAY || kv->elem_type != ELM_GGUF_STRING)
        return elmi_error(ELM_ERR_TYPE, "%s: key '%s' is %s%s%s, expected ARRAY of STRING", g->path, key,
                          elmi_gguf_type_name(kv->type), kv->type == ELM_GGUF_ARRAY ? " of " : "",
                          kv->type == ELM_GGUF_ARRAY ? elmi_gguf_type_name(kv->elem_type) : "");
    if (i >= kv->n)
        return elmi_error(ELM_ERR_INVALID_ARG, "%s: key '%s': element %llu out of range (length %llu)", g->path, key,
                          (unsigned long long)i, (unsigned long long)kv->n);
    const uint8_t *p = g->base + kv->str_off[i];
    if (out) { out->len = load_u64(p); out->data = (const char *)p + 8; }
    return ELM_OK;
}

/* ==== Tensors ============================================================================ */

int64_t elm_gguf_n_tensors(const elm_gguf *g) { return g ? g->n_tensors : 0; }

const elm_gguf_tensor *elm_gguf_tensor_at(const elm_gguf *g, int64_t i) {
    if (!g || i < 0 || i >= g->n_tensors) return NULL;
    return &g->tensors[i];
}

const elm_gguf_tensor *elm_gguf_find_tensor(const elm_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    int64_t i = tensor_lookup(g, name, strlen(name));
    return i < 0 ? NULL : &g->tensors[i];
}
