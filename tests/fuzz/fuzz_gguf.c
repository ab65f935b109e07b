/* fuzz_gguf.c: libFuzzer target for the GGUF reader. Feeds arbitrary bytes to
 * elm_gguf_open_memory and, when they are accepted, walks everything the reader hands
 * out: every key through every typed getter, every array element (nested ones too, to a
 * bounded count), every tensor's first and last data byte, and a writer round trip of the
 * metadata. AddressSanitizer turns any read outside the input into a crash.
 * Must not: write files (it runs for minutes, millions of times). */
#include "edgelm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ELEMS 256   /* array elements walked per array, so one input stays fast */

static volatile uint64_t sink;

static void walk(const elm_gguf *g, const elm_gguf_value *v, int depth) {
    switch (v->type) {
    case ELM_GGUF_STRING:
        if (v->v.s.len) sink += (uint8_t)v->v.s.data[0] + (uint8_t)v->v.s.data[v->v.s.len - 1];
        break;
    case ELM_GGUF_ARRAY: {
        if (depth > 16) abort();   /* the reader limits nesting to 8 */
        uint64_t n = v->v.arr.n < MAX_ELEMS ? v->v.arr.n : MAX_ELEMS;
        for (uint64_t i = 0; i < n; i++) {
            elm_gguf_value e;
            if (elm_gguf_array_elem(g, v, i, &e) != ELM_OK) abort();
            walk(g, &e, depth + 1);
        }
        if (v->v.arr.n) {
            elm_gguf_value last;
            if (elm_gguf_array_elem(g, v, v->v.arr.n - 1, &last) != ELM_OK) abort();
        }
        break;
    }
    default:
        sink += v->v.u;
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    elm_gguf *g = NULL;
    if (elm_gguf_open_memory(data, size, "fuzz.gguf", &g) != ELM_OK) return 0;
    elm_gguf_writer *w = NULL;
    if (elm_gguf_writer_create(&w) != ELM_OK) abort();
    for (int64_t i = 0; i < elm_gguf_n_keys(g); i++) {
        elm_gguf_value v;
        if (elm_gguf_key_value(g, i, &v) != ELM_OK) abort();
        walk(g, &v, 0);
        elm_gguf_string k = elm_gguf_key_name(g, i);
        char name[256];
        if (k.len < sizeof name) {
            memcpy(name, k.data, k.len);
            name[k.len] = '\0';
            if (elm_gguf_find_key(g, name) != i && strlen(name) == k.len) abort();
            int64_t iv; uint64_t uv; double fv; bool bv; elm_gguf_string sv;
            elm_gguf_type et; uint64_t n; const void *p;
            (void)elm_gguf_get_int(g, name, &iv);
            (void)elm_gguf_get_uint(g, name, &uv);
            (void)elm_gguf_get_float(g, name, &fv);
            (void)elm_gguf_get_bool(g, name, &bv);
            (void)elm_gguf_get_string(g, name, &sv);
            if (elm_gguf_get_array(g, name, &et, &n, &p) == ELM_OK && et == ELM_GGUF_STRING && n)
                if (elm_gguf_get_array_string(g, name, n - 1, &sv) != ELM_OK) abort();
        }
        (void)elm_gguf_writer_copy_key(w, g, i);
    }
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        if (elm_gguf_find_tensor(g, t->name) != t) abort();
        const uint8_t *d = t->data;
        sink += d[0] + d[t->bytes - 1];
    }
    elm_gguf_writer_free(w);
    elm_gguf_close(g);
    return 0;
}
