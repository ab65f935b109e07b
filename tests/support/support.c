/* support.c: helpers shared by the test suites; see support.h. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *rotate(const char *a, const char *b) {
    static char bufs[8][4096];
    static int next;
    char *buf = bufs[next++ & 7];
    snprintf(buf, sizeof bufs[0], "%s/%s", a, b);
    return buf;
}

const char *elmt_shared(const char *rel) {
    const char *root = getenv("SHARED");
    return rotate(root && *root ? root : "../shared", rel);
}

const char *elmt_bin(const char *name) {
    const char *root = getenv("BIN");
    return rotate(root && *root ? root : "build/bin", name);
}

void *elmt_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    if (n < 0) { fclose(f); return NULL; }
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf) { fclose(f); return NULL; }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); fclose(f); return NULL; }
    buf[n] = '\0';
    fclose(f);
    if (size) *size = (size_t)n;
    return buf;
}

bool elmt_quick(void) {
    const char *q = getenv("ELM_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

uint64_t elmt_rand_u64(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

float elmt_rand_uniform(uint64_t *s) { return (float)((elmt_rand_u64(s) >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0); }

float elmt_rand_normal(uint64_t *s) {
    double u1 = ((elmt_rand_u64(s) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (elmt_rand_u64(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

const char *elmt_tmpdir(void) {
    static char buf[4096];
    const char *t = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/edgelm-test-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(buf);
}

char *elmt_json_string(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p = strchr(p + strlen(pat), ':');
    if (!p) return NULL;
    while (*++p == ' ') {}
    if (*p != '"') return NULL;
    char *out = malloc(strlen(p) + 1), *o = out;
    if (!out) return NULL;
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            unsigned v = 0;
            sscanf(p + 1, "%4x", &v);
            p += 4;
            if (v < 0x80) *o++ = (char)v;
            else if (v < 0x800) { *o++ = (char)(0xC0 | (v >> 6)); *o++ = (char)(0x80 | (v & 63)); }
            else { *o++ = (char)(0xE0 | (v >> 12)); *o++ = (char)(0x80 | ((v >> 6) & 63)); *o++ = (char)(0x80 | (v & 63)); }
            break;
        }
        default: *o++ = *p; break;   /* \" \\ \/ */
        }
    }
    *o = '\0';
    return out;
}
