/* edgelm-gguf: show what is in a GGUF file.
 *
 *   edgelm-gguf FILE          header, metadata (long arrays abbreviated), tensors, totals
 *   edgelm-gguf FILE --json   the same as one JSON object:
 *     {"version":3,"alignment":32,"metadata":{"key":value,...},
 *      "tensors":[{"name":..,"type":"Q4_K","shape":[ne0,..],"offset":..,"bytes":..},...]}
 *     where offset is relative to the data section and arrays longer than 16 elements
 *     are {"array_of":"TYPE","length":N}.
 *
 * A file that fails validation: exit status 1 and one line on stderr.
 * Must not: use anything but the public API (edgelm.h).
 */
#include "edgelm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_ARRAY 16     /* longer arrays are summarised */
#define HUMAN_MAX_ARRAY 8     /* elements shown before "..." in the human listing */
#define HUMAN_MAX_STRING 60   /* bytes of a string shown in the human listing */

static const char *const value_type_names[] = {
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
    "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};

static const char *vtype_name(elm_gguf_type t) {
    return (unsigned)t < ELM_GGUF_TYPE_COUNT ? value_type_names[t] : "UNKNOWN";
}

static const char *ttype_name(uint32_t t) {
    const elm_type_info *ti = elm_type_get_info(t);
    return ti ? ti->name : "UNKNOWN";
}

/* ==== Strings ============================================================================ */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static int utf8_seq(const unsigned char *s, uint64_t n) {
    unsigned char b = s[0];
    int len;
    uint32_t cp;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; cp = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) { len = 3; cp = b & 0x0F; }
    else if (b >= 0xF0 && b <= 0xF4) { len = 4; cp = b & 0x07; }
    else return 0;
    if (n < (uint64_t)len) return 0;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return len;
}

/* A JSON string literal; bytes that are not valid UTF-8 become U+FFFD. */
static void json_string(const char *data, uint64_t n) {
    const unsigned char *s = (const unsigned char *)data;
    putchar('"');
    for (uint64_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') { putchar('\\'); putchar(c); i++; continue; }
        if (c < 0x20) {
            switch (c) {
            case '\n': fputs("\\n", stdout); break;
            case '\r': fputs("\\r", stdout); break;
            case '\t': fputs("\\t", stdout); break;
            case '\b': fputs("\\b", stdout); break;
            case '\f': fputs("\\f", stdout); break;
            default: printf("\\u%04x", c); break;
            }
            i++;
            continue;
        }
        int len = utf8_seq(s + i, n - i);
        if (len == 0) { fputs("\\ufffd", stdout); i++; continue; }
        fwrite(s + i, 1, (size_t)len, stdout);
        i += (uint64_t)len;
    }
    putchar('"');
}

/* A string for the human listing: escaped, on one line, shortened. */
static void human_string(const char *data, uint64_t n) {
    const unsigned char *s = (const unsigned char *)data;
    uint64_t shown = n > HUMAN_MAX_STRING ? HUMAN_MAX_STRING : n;
    putchar('"');
    for (uint64_t i = 0; i < shown;) {
        unsigned char c = s[i];
        if (c == '\n') { fputs("\\n", stdout); i++; continue; }
        if (c == '"' || c == '\\') { putchar('\\'); putchar(c); i++; continue; }
        if (c < 0x20 || c == 0x7f) { printf("\\x%02x", c); i++; continue; }
        int len = utf8_seq(s + i, n - i);
        if (len == 0) { printf("\\x%02x", c); i++; continue; }
        fwrite(s + i, 1, (size_t)len, stdout);
        i += (uint64_t)len;
    }
    putchar('"');
    if (shown < n) printf("...(%llu bytes)", (unsigned long long)n);
}

/* ==== Values ============================================================================= */

/* The shortest decimal that reads back as the same value (float32 or float64), so 0.1f
 * prints as 0.1 and not 0.100000001. */
static void json_number(double f, bool is_f32) {
    if (!isfinite(f)) { fputs("null", stdout); return; }   /* JSON has no NaN or infinity */
    char buf[40];
    for (int prec = is_f32 ? 6 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, f);
        double back = strtod(buf, NULL);
        if (is_f32 ? (float)back == (float)f : back == f) break;
    }
    fputs(buf, stdout);
}

static void print_value(const elm_gguf *g, const elm_gguf_value *v, bool json) {
    switch (v->type) {
    case ELM_GGUF_UINT8: case ELM_GGUF_UINT16: case ELM_GGUF_UINT32: case ELM_GGUF_UINT64:
        printf("%llu", (unsigned long long)v->v.u);
        break;
    case ELM_GGUF_INT8: case ELM_GGUF_INT16: case ELM_GGUF_INT32: case ELM_GGUF_INT64:
        printf("%lld", (long long)v->v.i);
        break;
    case ELM_GGUF_FLOAT32: case ELM_GGUF_FLOAT64:
        if (json) json_number(v->v.f, v->type == ELM_GGUF_FLOAT32);
        else printf("%g", v->v.f);
        break;
    case ELM_GGUF_BOOL:
        fputs(v->v.b ? "true" : "false", stdout);
        break;
    case ELM_GGUF_STRING:
        if (json) json_string(v->v.s.data, v->v.s.len);
        else human_string(v->v.s.data, v->v.s.len);
        break;
    case ELM_GGUF_ARRAY: {
        uint64_t n = v->v.arr.n;
        if (json && n > JSON_MAX_ARRAY) {
            printf("{\"array_of\":\"%s\",\"length\":%llu}", vtype_name(v->v.arr.elem_type), (unsigned long long)n);
            break;
        }
        uint64_t shown = json || n <= HUMAN_MAX_ARRAY ? n : HUMAN_MAX_ARRAY;
        if (!json) printf("%s[%llu] ", vtype_name(v->v.arr.elem_type), (unsigned long long)n);
        putchar('[');
        for (uint64_t i = 0; i < shown; i++) {
            elm_gguf_value e;
            if (elm_gguf_array_elem(g, v, i, &e) != ELM_OK) break;
            if (i) fputs(json ? "," : ", ", stdout);
            print_value(g, &e, json);
        }
        if (shown < n) fputs(", ...", stdout);
        putchar(']');
        break;
    }
    default:
        fputs(json ? "null" : "?", stdout);
        break;
    }
}

/* ==== Listings =========================================================================== */

static void print_json(const elm_gguf *g) {
    printf("{\"version\":%u,\"alignment\":%llu,\"metadata\":{", elm_gguf_version(g),
           (unsigned long long)elm_gguf_alignment(g));
    for (int64_t i = 0; i < elm_gguf_n_keys(g); i++) {
        elm_gguf_string k = elm_gguf_key_name(g, i);
        elm_gguf_value v;
        if (elm_gguf_key_value(g, i, &v) != ELM_OK) continue;
        if (i) putchar(',');
        json_string(k.data, k.len);
        putchar(':');
        print_value(g, &v, true);
    }
    fputs("},\"tensors\":[", stdout);
    for (int64_t i = 0; i < elm_gguf_n_tensors(g); i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        if (i) putchar(',');
        fputs("{\"name\":", stdout);
        json_string(t->name, strlen(t->name));
        printf(",\"type\":\"%s\",\"shape\":[", ttype_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++) printf("%s%lld", d ? "," : "", (long long)t->ne[d]);
        printf("],\"offset\":%llu,\"bytes\":%llu}", (unsigned long long)t->offset, (unsigned long long)t->bytes);
    }
    fputs("]}\n", stdout);
}

static void print_human(const elm_gguf *g) {
    printf("file:      %s\n", elm_gguf_path(g));
    printf("version:   GGUF v%u\n", elm_gguf_version(g));
    printf("size:      %llu bytes\n", (unsigned long long)elm_gguf_file_size(g));
    printf("alignment: %llu bytes\n", (unsigned long long)elm_gguf_alignment(g));
    printf("data at:   offset %llu\n", (unsigned long long)elm_gguf_data_offset(g));

    printf("\nmetadata (%lld keys):\n", (long long)elm_gguf_n_keys(g));
    for (int64_t i = 0; i < elm_gguf_n_keys(g); i++) {
        elm_gguf_string k = elm_gguf_key_name(g, i);
        elm_gguf_value v;
        if (elm_gguf_key_value(g, i, &v) != ELM_OK) continue;
        /* names are valid UTF-8 but may hold control characters: keep one key per line */
        int shown = 0;
        fputs("  ", stdout);
        for (uint64_t c = 0; c < k.len; c++) {
            unsigned char ch = (unsigned char)k.data[c];
            shown += ch < 0x20 || ch == 0x7f ? printf("\\x%02x", ch) : (putchar(ch), 1);
        }
        printf("%*s %-8s = ", shown < 40 ? 40 - shown : 0, "", vtype_name(v.type));
        print_value(g, &v, false);
        putchar('\n');
    }

    int64_t nt = elm_gguf_n_tensors(g);
    printf("\ntensors (%lld):\n", (long long)nt);
    if (nt > 0) printf("  %-40s %-8s %-24s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
    uint64_t params = 0, bytes = 0;
    uint64_t per_type_bytes[ELM_TYPE_COUNT] = {0}, per_type_count[ELM_TYPE_COUNT] = {0};
    for (int64_t i = 0; i < nt; i++) {
        const elm_gguf_tensor *t = elm_gguf_tensor_at(g, i);
        char shape[96];
        int len = 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%lld", d ? " x " : "", (long long)t->ne[d]);
        printf("  %-40s %-8s %-24s %12llu %12llu\n", t->name, ttype_name(t->type), shape,
               (unsigned long long)t->offset, (unsigned long long)t->bytes);
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);   /* validated: fits int64 */
        bytes += t->bytes;
        if (t->type < ELM_TYPE_COUNT) { per_type_bytes[t->type] += t->bytes; per_type_count[t->type]++; }
    }
    printf("\ntotals:\n");
    printf("  parameters: %llu\n", (unsigned long long)params);
    printf("  bytes:      %llu\n", (unsigned long long)bytes);
    for (uint32_t ty = 0; ty < ELM_TYPE_COUNT; ty++)
        if (per_type_count[ty])
            printf("  %-8s %4llu tensors %14llu bytes\n", ttype_name(ty), (unsigned long long)per_type_count[ty],
                   (unsigned long long)per_type_bytes[ty]);
}

int main(int argc, char **argv) {
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { path = NULL; break; }
        else if (!path) path = argv[i];
        else { path = NULL; break; }
    }
    if (!path) {
        fprintf(stderr, "usage: edgelm-gguf FILE [--json]\n");
        return 2;
    }
    elm_gguf *g = NULL;
    elm_status st = elm_gguf_open(path, NULL, &g);
    if (st != ELM_OK) {
        fprintf(stderr, "edgelm-gguf: %s\n", elm_last_error());
        return 1;
    }
    if (json) print_json(g);
    else print_human(g);
    elm_gguf_close(g);
    return fflush(stdout) == 0 ? 0 : 1;
}
