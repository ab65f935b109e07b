/* unicode.c: code point classes, UTF-8 decoding/encoding, and GPT-2's byte mapping.
 * Must not: allocate, or know about tokens (that is tokenizer*.c). */
#include "unicode.h"

/* ASCII is answered by elmi_unicode_flags() from its own table; everything else is a
 * binary search over the generated ranges (about 11 steps). */
uint16_t elmi_unicode_flags_search(uint32_t cp) {
    if (cp >= ELMI_UNICODE_MAX) return ELMI_UF_UNDEFINED;
    uint32_t lo = 0, hi = elmi_unicode_n_ranges;   /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((elmi_unicode_ranges[mid] >> 9) <= cp) lo = mid; else hi = mid;
    }
    return (uint16_t)(elmi_unicode_ranges[lo] & 0x1FFu);
}

uint32_t elmi_utf8_decode(const unsigned char *s, size_t n, size_t *len) {
    unsigned c = s[0];
    *len = 1;
    if (c < 0x80) return c;
    if (!(c & 0x40)) return ELMI_REPLACEMENT;             /* stray continuation byte */
    size_t need = !(c & 0x20) ? 2 : !(c & 0x10) ? 3 : !(c & 0x08) ? 4 : 0;
    if (need == 0 || need > n) return ELMI_REPLACEMENT;   /* 0xF8-0xFF, or truncated */
    uint32_t cp = c & (0x7Fu >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return ELMI_REPLACEMENT;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp >= ELMI_UNICODE_MAX) return ELMI_REPLACEMENT;  /* F4 90.. and F5-F7 leads */
    *len = need;
    return cp;
}

size_t elmi_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= ELMI_UNICODE_MAX) cp = ELMI_REPLACEMENT;
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int elmi_utf8_check(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF;      /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;        /* no overlongs */
        if (c == 0xED) hi = 0x9F;        /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;        /* nothing above U+10FFFF */
    } else return 0;
    for (int i = 1; i < need; i++) {
        if ((size_t)i >= n) return -(need - i);
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return 0;
    }
    return need;
}

/* Bytes GPT-2 keeps as themselves: '!'..'~', 0xA1..0xAC, 0xAE..0xFF. The 68 others, in
 * byte order (0x00-0x20, 0x7F-0xA0, 0xAD), take U+0100, U+0101, ... */
uint32_t elmi_gpt2_byte_to_cp(uint8_t b) {
    if (b <= 0x20) return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0) return 0x100u + 33 + (b - 0x7Fu);
    if (b == 0xAD) return 0x100u + 67;
    return b;
}

int elmi_gpt2_cp_to_byte(uint32_t cp) {
    if (cp < 0x100) {
        bool kept = (cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || cp >= 0xAE;
        return kept ? (int)cp : -1;
    }
    if (cp >= 0x100 + 68) return -1;
    uint32_t n = cp - 0x100;
    if (n < 33) return (int)n;
    if (n < 67) return (int)(0x7F + (n - 33));
    return 0xAD;
}
