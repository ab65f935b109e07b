/* textbuf.c: formatted appends into a fixed or growing buffer; see textbuf.h.
 * Must not: print, or fail silently: a failed allocation sets t->failed. */
#include "textbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void elmi_textbuf_fixed(elmi_textbuf *t, char *buf, size_t cap) {
    memset(t, 0, sizeof *t);
    t->buf = buf;
    t->cap = buf ? cap : 0;
    if (t->cap) t->buf[0] = '\0';
}

void elmi_textbuf_growing(elmi_textbuf *t) {
    memset(t, 0, sizeof *t);
    t->growable = true;
}

void elmi_textbuf_free(elmi_textbuf *t) {
    if (t->growable) free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Make room for n more bytes plus the NUL in a growing buffer. */
static bool reserve(elmi_textbuf *t, size_t n) {
    if (!t->growable || t->failed) return false;
    if (t->len + n + 1 <= t->cap) return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->len + n + 1) {
        if (cap > ((size_t)-1) / 2) { t->failed = true; return false; }
        cap *= 2;
    }
    char *nb = realloc(t->buf, cap);
    if (!nb) { t->failed = true; return false; }
    t->buf = nb;
    t->cap = cap;
    return true;
}

static void append(elmi_textbuf *t, const char *s, size_t n) {
    t->need += n;
    if (t->growable) reserve(t, n);
    if (t->cap == 0 || t->failed) return;
    size_t room = t->cap - 1 - t->len;
    size_t k = n < room ? n : room;
    memcpy(t->buf + t->len, s, k);
    t->len += k;
    t->buf[t->len] = '\0';
}

void elmi_textbuf_printf(elmi_textbuf *t, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) { append(t, small, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { t->failed = true; t->need += (size_t)n; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    append(t, big, (size_t)n);
    free(big);
}

void elmi_textbuf_puts(elmi_textbuf *t, const char *s) { append(t, s, strlen(s)); }

void elmi_textbuf_xml(elmi_textbuf *t, const char *s) {
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': append(t, "&amp;", 5); break;
        case '<': append(t, "&lt;", 4); break;
        case '>': append(t, "&gt;", 4); break;
        case '"': append(t, "&quot;", 6); break;
        case '\'': append(t, "&apos;", 6); break;
        default:
            /* XML 1.0 forbids most control characters even as references: drop them. */
            if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') break;
            append(t, p, 1);
        }
    }
}

void elmi_textbuf_json_string(elmi_textbuf *t, const char *s) {
    append(t, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': append(t, "\\\"", 2); break;
        case '\\': append(t, "\\\\", 2); break;
        case '\n': append(t, "\\n", 2); break;
        case '\r': append(t, "\\r", 2); break;
        case '\t': append(t, "\\t", 2); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                append(t, esc, 6);
            } else if (*p >= 0x80) {
                /* Keep valid UTF-8 sequences; replace stray bytes so the JSON stays valid. */
                int n = *p >= 0xf0 && *p < 0xf5 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 && *p < 0xe0 ? 2 : 0;
                bool ok = n > 0;
                for (int i = 1; ok && i < n; i++) ok = (p[i] & 0xc0) == 0x80;
                if (ok) { append(t, (const char *)p, (size_t)n); p += n - 1; }
                else append(t, "\\ufffd", 6);
            } else {
                append(t, (const char *)p, 1);
            }
        }
    }
    append(t, "\"", 1);
}

void elmi_textbuf_json_number(elmi_textbuf *t, double v, int digits) {
    if (!isfinite(v)) { append(t, "null", 4); return; }
    elmi_textbuf_printf(t, "%.*g", digits, v);
}
