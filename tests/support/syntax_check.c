/* syntax_check.c: strict JSON and XML well-formedness checkers; see syntax_check.h. */
#include "syntax_check.h"

#include <string.h>

/* ==== JSON =============================================================================== */

typedef struct cur { const char *s; size_t n, i; int depth; } cur;

static void ws(cur *c) {
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r')) c->i++;
}

static bool lit(cur *c, const char *w) {
    size_t k = strlen(w);
    if (c->n - c->i < k || memcmp(c->s + c->i, w, k) != 0) return false;
    c->i += k;
    return true;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_hex(char ch) { return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'); }

static bool jstring(cur *c) {
    if (c->i >= c->n || c->s[c->i] != '"') return false;
    c->i++;
    while (c->i < c->n) {
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch == '"') { c->i++; return true; }
        if (ch < 0x20) return false;
        if (ch == '\\') {
            c->i++;
            if (c->i >= c->n) return false;
            char e = c->s[c->i];
            if (e == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (c->i + k >= c->n || !is_hex(c->s[c->i + k])) return false;
                c->i += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e)) return false;
        }
        c->i++;
    }
    return false;
}

static bool jnumber(cur *c) {
    size_t st = c->i;
    if (c->i < c->n && c->s[c->i] == '-') c->i++;
    if (c->i >= c->n) return false;
    if (c->s[c->i] == '0') c->i++;
    else if (is_digit(c->s[c->i])) while (c->i < c->n && is_digit(c->s[c->i])) c->i++;
    else return false;
    if (c->i < c->n && c->s[c->i] == '.') {
        c->i++;
        if (c->i >= c->n || !is_digit(c->s[c->i])) return false;
        while (c->i < c->n && is_digit(c->s[c->i])) c->i++;
    }
    if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
        c->i++;
        if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) c->i++;
        if (c->i >= c->n || !is_digit(c->s[c->i])) return false;
        while (c->i < c->n && is_digit(c->s[c->i])) c->i++;
    }
    return c->i > st;
}

static bool jvalue(cur *c) {
    if (++c->depth > 256) return false;
    ws(c);
    if (c->i >= c->n) return false;
    char ch = c->s[c->i];
    bool ok;
    if (ch == '{') {
        c->i++;
        ws(c);
        if (c->i < c->n && c->s[c->i] == '}') { c->i++; c->depth--; return true; }
        for (;;) {
            ws(c);
            if (!jstring(c)) return false;
            ws(c);
            if (c->i >= c->n || c->s[c->i] != ':') return false;
            c->i++;
            if (!jvalue(c)) return false;
            ws(c);
            if (c->i < c->n && c->s[c->i] == ',') { c->i++; continue; }
            if (c->i < c->n && c->s[c->i] == '}') { c->i++; break; }
            return false;
        }
        ok = true;
    } else if (ch == '[') {
        c->i++;
        ws(c);
        if (c->i < c->n && c->s[c->i] == ']') { c->i++; c->depth--; return true; }
        for (;;) {
            if (!jvalue(c)) return false;
            ws(c);
            if (c->i < c->n && c->s[c->i] == ',') { c->i++; continue; }
            if (c->i < c->n && c->s[c->i] == ']') { c->i++; break; }
            return false;
        }
        ok = true;
    } else if (ch == '"') {
        ok = jstring(c);
    } else if (ch == 't') {
        ok = lit(c, "true");
    } else if (ch == 'f') {
        ok = lit(c, "false");
    } else if (ch == 'n') {
        ok = lit(c, "null");
    } else {
        ok = jnumber(c);
    }
    c->depth--;
    return ok;
}

bool elmt_json_valid(const char *text, size_t len, size_t *where) {
    cur c = { text, len, 0, 0 };
    bool ok = jvalue(&c);
    ws(&c);
    ok = ok && c.i == len;
    if (!ok && where) *where = c.i;
    return ok;
}

/* ==== XML ================================================================================ */

static bool name_start(unsigned char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == ':' || ch >= 0x80;
}
static bool name_char(unsigned char ch) { return name_start(ch) || is_digit((char)ch) || ch == '-' || ch == '.'; }

/* An entity or character reference at text[i] == '&'; advances past ';'. */
static bool reference(const char *s, size_t n, size_t *i) {
    static const char *const ents[] = { "amp;", "lt;", "gt;", "quot;", "apos;" };
    size_t j = *i + 1;
    for (int k = 0; k < 5; k++) {
        size_t l = strlen(ents[k]);
        if (n - j >= l && memcmp(s + j, ents[k], l) == 0) { *i = j + l; return true; }
    }
    if (j < n && s[j] == '#') {
        j++;
        bool hex = j < n && s[j] == 'x';
        if (hex) j++;
        size_t d = j;
        while (j < n && (hex ? is_hex(s[j]) : is_digit(s[j]))) j++;
        if (j == d || j >= n || s[j] != ';') return false;
        *i = j + 1;
        return true;
    }
    return false;
}

static size_t read_name(const char *s, size_t n, size_t i) {
    if (i >= n || !name_start((unsigned char)s[i])) return 0;
    size_t j = i + 1;
    while (j < n && name_char((unsigned char)s[j])) j++;
    return j - i;
}

static bool skip_ws(const char *s, size_t n, size_t *i) {
    size_t st = *i;
    while (*i < n && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r')) (*i)++;
    return *i > st;
}

bool elmt_xml_well_formed(const char *s, size_t n, size_t *where) {
    enum { MAXD = 128 };
    const char *stack[MAXD];
    size_t slen[MAXD];
    int depth = 0, roots = 0;
    size_t i = 0;
    bool ok = true;
    /* Optional declaration. */
    if (n >= 5 && memcmp(s, "<?xml", 5) == 0) {
        const char *e = NULL;
        for (size_t k = 5; k + 1 < n; k++) if (s[k] == '?' && s[k + 1] == '>') { e = s + k; break; }
        if (!e) { ok = false; goto out; }
        i = (size_t)(e - s) + 2;
    }
    while (i < n) {
        if (s[i] == '<') {
            if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                const char *e = NULL;
                for (size_t k = i + 4; k + 2 < n; k++) if (memcmp(s + k, "-->", 3) == 0) { e = s + k; break; }
                if (!e) { ok = false; goto out; }
                i = (size_t)(e - s) + 3;
                continue;
            }
            if (i + 1 < n && s[i + 1] == '/') {
                size_t l = read_name(s, n, i + 2);
                if (!l || depth == 0 || l != slen[depth - 1] || memcmp(s + i + 2, stack[depth - 1], l) != 0) { ok = false; goto out; }
                i += 2 + l;
                skip_ws(s, n, &i);
                if (i >= n || s[i] != '>') { ok = false; goto out; }
                i++;
                depth--;
                continue;
            }
            size_t l = read_name(s, n, i + 1);
            if (!l) { ok = false; goto out; }
            if (depth == 0 && ++roots > 1) { ok = false; goto out; }
            const char *name = s + i + 1;
            i += 1 + l;
            /* attributes */
            const char *an[64];
            size_t al[64];
            int na = 0;
            for (;;) {
                bool sp = skip_ws(s, n, &i);
                if (i >= n) { ok = false; goto out; }
                if (s[i] == '>' || (s[i] == '/' && i + 1 < n && s[i + 1] == '>')) break;
                size_t k = read_name(s, n, i);
                if (!sp || !k || na == 64) { ok = false; goto out; }
                for (int a = 0; a < na; a++)
                    if (al[a] == k && memcmp(an[a], s + i, k) == 0) { ok = false; goto out; }
                an[na] = s + i;
                al[na++] = k;
                i += k;
                skip_ws(s, n, &i);
                if (i >= n || s[i] != '=') { ok = false; goto out; }
                i++;
                skip_ws(s, n, &i);
                if (i >= n || (s[i] != '"' && s[i] != '\'')) { ok = false; goto out; }
                char q = s[i++];
                while (i < n && s[i] != q) {
                    if (s[i] == '<') { ok = false; goto out; }
                    if (s[i] == '&') { if (!reference(s, n, &i)) { ok = false; goto out; } continue; }
                    i++;
                }
                if (i >= n) { ok = false; goto out; }
                i++;
            }
            if (s[i] == '/') { i += 2; continue; }   /* an empty element */
            i++;
            if (depth == MAXD) { ok = false; goto out; }
            stack[depth] = name;
            slen[depth++] = l;
            continue;
        }
        if (depth == 0) {
            /* Outside the root only whitespace. */
            if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) { ok = false; goto out; }
            i++;
            continue;
        }
        if (s[i] == '&') { if (!reference(s, n, &i)) { ok = false; goto out; } continue; }
        if (s[i] == '>' && i >= 2 && s[i - 1] == ']' && s[i - 2] == ']') { ok = false; goto out; }
        i++;
    }
    ok = depth == 0 && roots == 1;
out:
    if (!ok && where) *where = i;
    return ok;
}
