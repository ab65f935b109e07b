/* pretokenize.c: the pre-tokenizer splits of byte-level BPE vocabularies, as hand-written
 * matchers for the regular expressions llama.cpp applies (see pretokenize.h).
 *
 * Two expressions get dedicated code, as in llama.cpp: GPT-2's
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * and Llama 3's (Qwen2's is the same with \p{N} instead of \p{N}{1,3})
 *     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Both cut every piece into consecutive matches, so they are written as scanners. The
 * other expressions are "match at this position or not" functions, and split_generic()
 * does what a regex iterator does: leftmost match, the text between matches becomes a
 * piece of its own.
 *
 * Character classes follow llama.cpp: \p{X} is the code point's general category, \s is
 * White_Space; expressions without \p{...} compare code points, with every non-ASCII
 * White_Space code point seen as U+000B (so "[ࠀ-一]" never matches U+3000).
 * Must not: allocate, or know about tokens.
 */
#include "pretokenize.h"
#include "unicode.h"

#include <string.h>

/* ==== Text access ======================================================================== */

typedef struct piece_text {
    const uint32_t *cp;      /* code points of the whole text */
    const uint16_t *fl;      /* their ELMI_UF_* flags */
    size_t end;              /* end of the piece being split: nothing at or after it exists */
} piece_text;

#define OUT_OF_PIECE 0xFFFFFFFFu

static inline uint32_t C(const piece_text *t, size_t i) { return i < t->end ? t->cp[i] : OUT_OF_PIECE; }
/* Flags are never 0 inside the piece (every code point has a category), 0 outside it. */
static inline uint16_t F(const piece_text *t, size_t i) { return i < t->end ? t->fl[i] : 0; }

#define WS  ELMI_UF_WHITESPACE
#define LET ELMI_UF_LETTER
#define NUM ELMI_UF_NUMBER

/* Output of a split: piece lengths appended to out[*n]. */
typedef struct sink {
    uint32_t *out;
    size_t n;
    size_t prev;             /* where the current, not yet emitted, piece starts */
} sink;

static inline void emit_to(sink *s, size_t end) {
    if (end > s->prev) s->out[s->n++] = (uint32_t)(end - s->prev);
    s->prev = end;
}

static inline uint32_t ascii_lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* 's 't 're 've 'm 'll 'd at pos (pos holds '\''): bytes matched, 0 if none. With fold,
 * letters match in either case (Llama 3's (?i:...); ASCII folding is exact here, see
 * tools/gen_unicode_tables.py). */
static size_t contraction(const piece_text *t, size_t pos, bool fold) {
    if (pos + 1 >= t->end) return 0;
    uint32_t a = C(t, pos + 1);
    if (fold) a = ascii_lower(a);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= t->end) return 0;
    uint32_t b = C(t, pos + 2);
    if (fold) b = ascii_lower(b);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* ==== GPT-2 ============================================================================== */

static void split_gpt2(const piece_text *t, size_t start, sink *s) {
    size_t pos = start;
    s->prev = start;
    while (pos < t->end) {
        uint32_t c = C(t, pos);
        uint16_t f = F(t, pos);
        if (c == '\'') {
            size_t k = contraction(t, pos, false);
            if (k) { pos += k; emit_to(s, pos); continue; }
        }
        /* " ?X+" for X = letters, numbers, other non-space: the optional space belongs
         * to the run when the run starts right after it. */
        uint16_t f2 = (c == ' ') ? F(t, pos + 1) : f;
        if (f2 & LET) {
            pos += (c == ' ');
            while (F(t, pos) & LET) pos++;
            emit_to(s, pos);
            continue;
        }
        if (f2 & NUM) {
            pos += (c == ' ');
            while (F(t, pos) & NUM) pos++;
            emit_to(s, pos);
            continue;
        }
        if (!(f2 & (WS | LET | NUM)) && f2) {
            pos += (c == ' ');
            while (!(F(t, pos) & (WS | LET | NUM)) && F(t, pos)) pos++;
            emit_to(s, pos);
            continue;
        }
        size_t nws = 0;
        while (F(t, pos + nws) & WS) nws++;
        if (nws > 1 && pos + nws < t->end) {          /* \s+(?!\S): leave the last one */
            pos += nws - 1;
            emit_to(s, pos);
            continue;
        }
        if (nws > 0) {                                 /* \s+ */
            pos += nws;
            emit_to(s, pos);
            continue;
        }
        emit_to(s, ++pos);                             /* cannot happen: every code point
                                                          is in one class above */
    }
}

/* ==== Llama 3 and Qwen2 ================================================================== */

static void split_llama3(const piece_text *t, size_t start, sink *s, size_t max_digits) {
    size_t pos = start;
    s->prev = start;
    while (pos < t->end) {
        uint32_t c = C(t, pos);
        uint16_t f = F(t, pos);
        if (c == '\'') {
            size_t k = contraction(t, pos, true);
            if (k) { pos += k; emit_to(s, pos); continue; }
        }
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (!(c == '\r' || c == '\n' || (f & NUM))) {
            if ((f & LET) || (F(t, pos + 1) & LET)) {
                pos++;
                while (F(t, pos) & LET) pos++;
                emit_to(s, pos);
                continue;
            }
        }
        /* \p{N}{1,max_digits}, repeated */
        if (f & NUM) {
            size_t ini = pos;
            while (F(t, pos) & NUM) {
                if (++pos - ini >= max_digits) { emit_to(s, pos); ini = pos; }
            }
            emit_to(s, pos);
            continue;
        }
        /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        uint16_t f2 = (c == ' ') ? F(t, pos + 1) : f;
        if (!(f2 & (WS | LET | NUM)) && f) {
            pos += (c == ' ');
            while (!(F(t, pos) & (WS | LET | NUM)) && F(t, pos)) pos++;
            while (C(t, pos) == '\r' || C(t, pos) == '\n') pos++;
            emit_to(s, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (F(t, pos + nws) & WS) {
            uint32_t c2 = C(t, pos + nws);
            if (c2 == '\r' || c2 == '\n') last_rn = pos + nws + 1;
            nws++;
        }
        if (last_rn > 0) {                             /* \s*[\r\n]+ */
            pos = last_rn;
            emit_to(s, pos);
            continue;
        }
        if (nws > 1 && pos + nws < t->end) {          /* \s+(?!\S) */
            pos += nws - 1;
            emit_to(s, pos);
            continue;
        }
        if (nws > 0) {                                 /* \s+ */
            pos += nws;
            emit_to(s, pos);
            continue;
        }
        emit_to(s, ++pos);
    }
}

/* ==== Single expressions: bytes matched at pos, 0 for no match ============================ */

typedef size_t (*match_fn)(const piece_text *t, size_t pos);

/* The code point as an expression without \p{...} sees it (llama.cpp runs those on wide
 * text where non-ASCII White_Space became U+000B). */
static inline uint32_t W(const piece_text *t, size_t i) {
    uint32_t c = C(t, i);
    return (c >= 0x80 && c != OUT_OF_PIECE && (F(t, i) & WS)) ? 0x0B : c;
}

typedef struct cp_range { uint32_t lo, hi; } cp_range;

static bool in_ranges(uint32_t c, const cp_range *r, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < r[mid].lo) hi = mid;
        else if (c > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}
#define IN(c, table) in_ranges((c), (table), sizeof(table) / sizeof((table)[0]))

static bool is_punct_default(const piece_text *t, size_t i) {   /* [\p{P}\$\+<=>\^~\|] */
    uint32_t c = C(t, i);
    return (F(t, i) & ELMI_UF_PUNCT) || (c != 0 && c < 0x80 && strchr("$+<=>^~|", (int)c));
}
static bool is_punct_falcon(const piece_text *t, size_t i) {    /* [\p{P}\$\+<=>\^~\|`] */
    return is_punct_default(t, i) || C(t, i) == '`';
}

static size_t m_punct_default(const piece_text *t, size_t pos) {   /* [\p{P}\$\+<=>\^~\|]+ */
    size_t i = pos;
    while (is_punct_default(t, i)) i++;
    return i - pos;
}
static size_t m_punct_falcon(const piece_text *t, size_t pos) {    /* [\p{P}\$\+<=>\^~\|`]+ */
    size_t i = pos;
    while (is_punct_falcon(t, i)) i++;
    return i - pos;
}
static size_t m_numbers(const piece_text *t, size_t pos) {         /* \p{N}+ */
    size_t i = pos;
    while (F(t, i) & NUM) i++;
    return i - pos;
}
static size_t m_number(const piece_text *t, size_t pos) {          /* \p{N} */
    return (F(t, pos) & NUM) ? 1 : 0;
}
static size_t m_three_digits(const piece_text *t, size_t pos) {    /* [0-9][0-9][0-9] */
    for (size_t i = 0; i < 3; i++) {
        uint32_t c = C(t, pos + i);
        if (c < '0' || c > '9') return 0;
    }
    return 3;
}
static size_t m_newline(const piece_text *t, size_t pos) {         /* [\r\n] */
    uint32_t c = C(t, pos);
    return (c == '\r' || c == '\n') ? 1 : 0;
}

/* \s?X+ for a class X that contains no White_Space: the space belongs to the match only
 * when the run starts right after it. */
typedef bool (*class_fn)(const piece_text *t, size_t i);

static size_t opt_space_run(const piece_text *t, size_t pos, class_fn in_class) {
    size_t i = pos;
    if ((F(t, i) & WS) && in_class(t, i + 1)) i++;
    if (!in_class(t, i)) return 0;
    while (in_class(t, i)) i++;
    return i - pos;
}

static bool cls_letter(const piece_text *t, size_t i) { return (F(t, i) & LET) != 0; }
static bool cls_punct(const piece_text *t, size_t i) { return (F(t, i) & ELMI_UF_PUNCT) != 0; }

static size_t m_space_letters(const piece_text *t, size_t pos) { return opt_space_run(t, pos, cls_letter); }
static size_t m_space_punct(const piece_text *t, size_t pos) { return opt_space_run(t, pos, cls_punct); }

/* DeepSeek LLM's letter class: the cased letters (Lu, Ll, Lt) of the Unicode version its
 * tokenizer was made with, spelled out as ranges in its regular expression. */
static const cp_range deepseek_letters[] = {
    {0x00041, 0x0005A}, {0x00061, 0x0007A}, {0x000B5, 0x000B5}, {0x000C0, 0x000D6}, {0x000D8, 0x000F6},
    {0x000F8, 0x001BA}, {0x001BC, 0x001BF}, {0x001C4, 0x00293}, {0x00295, 0x002AF}, {0x00370, 0x00373},
    {0x00376, 0x00377}, {0x0037B, 0x0037D}, {0x0037F, 0x0037F}, {0x00386, 0x00386}, {0x00388, 0x0038A},
    {0x0038C, 0x0038C}, {0x0038E, 0x003A1}, {0x003A3, 0x003F5}, {0x003F7, 0x00481}, {0x0048A, 0x0052F},
    {0x00531, 0x00556}, {0x010A0, 0x010C5}, {0x013A0, 0x013F5}, {0x013F8, 0x013FD}, {0x01C90, 0x01CBA},
    {0x01CBD, 0x01CBF}, {0x01D00, 0x01D2B}, {0x01D6B, 0x01D77}, {0x01D79, 0x01D9A}, {0x01E00, 0x01F15},
    {0x01F18, 0x01F1D}, {0x01F20, 0x01F45}, {0x01F48, 0x01F4D}, {0x01F50, 0x01F57}, {0x01F59, 0x01F59},
    {0x01F5B, 0x01F5B}, {0x01F5D, 0x01F5D}, {0x01F5F, 0x01F7D}, {0x01F80, 0x01FB4}, {0x01FB6, 0x01FBC},
    {0x01FBE, 0x01FBE}, {0x01FC2, 0x01FC4}, {0x01FC6, 0x01FCC}, {0x01FD0, 0x01FD3}, {0x01FD6, 0x01FDB},
    {0x01FE0, 0x01FEC}, {0x01FF2, 0x01FF4}, {0x01FF6, 0x01FFC}, {0x02102, 0x02102}, {0x02107, 0x02107},
    {0x0210A, 0x02113}, {0x02115, 0x02115}, {0x02119, 0x0211D}, {0x02124, 0x02124}, {0x02126, 0x02126},
    {0x02128, 0x02128}, {0x0212A, 0x0212D}, {0x0212F, 0x02134}, {0x02139, 0x02139}, {0x0213C, 0x0213F},
    {0x02145, 0x02149}, {0x0214E, 0x0214E}, {0x02183, 0x02184}, {0x02C00, 0x02C7B}, {0x02C7E, 0x02CE4},
    {0x02CEB, 0x02CEE}, {0x02CF2, 0x02CF3}, {0x0A640, 0x0A66D}, {0x0A680, 0x0A69B}, {0x0A722, 0x0A76F},
    {0x0A771, 0x0A787}, {0x0A78B, 0x0A78E}, {0x0AB70, 0x0ABBF}, {0x0FB00, 0x0FB06}, {0x0FB13, 0x0FB17},
    {0x0FF21, 0x0FF3A}, {0x0FF41, 0x0FF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
/* [!-/:-~！-／：-～‘-‟　-。] */
static const cp_range deepseek_punct[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};
/* [一-龥ࠀ-一가-퟿] */
static const cp_range deepseek_cjk[] = { {0x0800, 0x9FA5}, {0xAC00, 0xD7FF} };

static bool cls_ds_letter(const piece_text *t, size_t i) { return i < t->end && IN(W(t, i), deepseek_letters); }
static bool cls_ds_punct(const piece_text *t, size_t i) { return i < t->end && IN(W(t, i), deepseek_punct); }
static bool cls_ds_cjk(const piece_text *t, size_t i) { return i < t->end && IN(W(t, i), deepseek_cjk); }

static size_t m_ds_letters(const piece_text *t, size_t pos) { return opt_space_run(t, pos, cls_ds_letter); }
static size_t m_ds_punct(const piece_text *t, size_t pos) { return opt_space_run(t, pos, cls_ds_punct); }
static size_t m_ds_cjk(const piece_text *t, size_t pos) {
    size_t i = pos;
    while (cls_ds_cjk(t, i)) i++;
    return i - pos;
}

/*  ?[^(\s|.,!?…。，、।۔،)]+  (Poro, BLOOM): inside the brackets '(', '|' and ')' are
 * literal characters. */
static bool cls_poro(const piece_text *t, size_t i) {
    if (i >= t->end) return false;
    uint32_t c = W(t, i);
    if (F(t, i) & WS) return false;
    switch (c) {
    case '(': case '|': case ')': case '.': case ',': case '!': case '?':
    case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
        return false;
    default:
        return true;
    }
}
static size_t m_poro(const piece_text *t, size_t pos) {
    size_t i = pos;
    if (C(t, i) == ' ' && cls_poro(t, i + 1)) i++;
    if (!cls_poro(t, i)) return 0;
    while (cls_poro(t, i)) i++;
    return i - pos;
}

/* ==== Splitting =========================================================================== */

/* Leftmost matches of m in [start, end); the text between them becomes pieces too. */
static void split_generic(const piece_text *t, size_t start, sink *s, match_fn m) {
    size_t pos = start;
    s->prev = start;
    while (pos < t->end) {
        size_t k = m(t, pos);
        if (k == 0) { pos++; continue; }
        emit_to(s, pos);
        pos += k;
        emit_to(s, pos);
    }
    emit_to(s, t->end);
}

/* \s+$ : the whitespace run that ends the piece, if any, is split off. */
static void split_trailing_space(const piece_text *t, size_t start, sink *s) {
    size_t i = t->end;
    s->prev = start;
    while (i > start && (F(t, i - 1) & WS)) i--;
    emit_to(s, i);
    emit_to(s, t->end);
}

typedef enum step_kind { STEP_END = 0, STEP_GPT2, STEP_LLAMA3, STEP_QWEN2, STEP_TRAILING_SPACE, STEP_MATCH } step_kind;

typedef struct step {
    step_kind kind;
    match_fn match;          /* STEP_MATCH */
} step;

#define MAX_STEPS 7

/* The expressions of each pre-tokenizer, in the order llama.cpp applies them. */
static const step pre_steps[ELMI_PRE_COUNT][MAX_STEPS] = {
    [ELMI_PRE_DEFAULT] = { {STEP_MATCH, m_punct_default}, {STEP_GPT2, 0}, {STEP_MATCH, m_numbers},
                           {STEP_MATCH, m_three_digits} },
    [ELMI_PRE_GPT2] = { {STEP_GPT2, 0} },
    [ELMI_PRE_LLAMA3] = { {STEP_LLAMA3, 0} },
    [ELMI_PRE_QWEN2] = { {STEP_QWEN2, 0} },
    [ELMI_PRE_DEEPSEEK_LLM] = { {STEP_MATCH, m_newline}, {STEP_MATCH, m_ds_letters}, {STEP_MATCH, m_ds_punct},
                                {STEP_TRAILING_SPACE, 0}, {STEP_MATCH, m_ds_cjk}, {STEP_MATCH, m_numbers} },
    [ELMI_PRE_DEEPSEEK_CODER] = { {STEP_MATCH, m_newline}, {STEP_MATCH, m_space_letters},
                                  {STEP_MATCH, m_space_punct}, {STEP_MATCH, m_ds_cjk}, {STEP_MATCH, m_number} },
    [ELMI_PRE_FALCON] = { {STEP_MATCH, m_punct_falcon}, {STEP_GPT2, 0}, {STEP_MATCH, m_three_digits} },
    [ELMI_PRE_STARCODER] = { {STEP_MATCH, m_number}, {STEP_GPT2, 0} },
    [ELMI_PRE_PORO] = { {STEP_MATCH, m_poro} },
    [ELMI_PRE_VIKING] = { {STEP_MATCH, m_poro}, {STEP_MATCH, m_number} },
};

uint32_t *elmi_pretokenize(elmi_pre_type type, const uint32_t *cp, const uint16_t *fl, size_t n,
                           uint32_t *buf_a, uint32_t *buf_b, size_t *n_pieces) {
    if (n == 0) { *n_pieces = 0; return buf_a; }
    if ((unsigned)type >= ELMI_PRE_COUNT) type = ELMI_PRE_DEFAULT;
    uint32_t *in = buf_b, *out = buf_a;
    size_t n_in = 1;
    in[0] = (uint32_t)n;
    for (const step *st = pre_steps[type]; st < pre_steps[type] + MAX_STEPS && st->kind != STEP_END; st++) {
        sink s = {out, 0, 0};
        size_t start = 0;
        for (size_t i = 0; i < n_in; i++) {
            piece_text t = {cp, fl, start + in[i]};
            switch (st->kind) {
            case STEP_GPT2: split_gpt2(&t, start, &s); break;
            case STEP_LLAMA3: split_llama3(&t, start, &s, 3); break;
            case STEP_QWEN2: split_llama3(&t, start, &s, 1); break;
            case STEP_TRAILING_SPACE: split_trailing_space(&t, start, &s); break;
            case STEP_MATCH: split_generic(&t, start, &s, st->match); break;
            case STEP_END: break;
            }
            start += in[i];
        }
        n_in = s.n;
        uint32_t *tmp = in; in = out; out = tmp;
    }
    *n_pieces = n_in;
    return in;
}

/* ==== Names =============================================================================== */

/*                     name                type                     clean  ignore bos    no_bos */
static const elmi_pre_info pre_names[] = {
    {"default",          ELMI_PRE_DEFAULT,        true,  false, false, false},
    {"llama3",           ELMI_PRE_LLAMA3,         true,  true,  true,  false},
    {"llama-v3",         ELMI_PRE_LLAMA3,         true,  true,  true,  false},
    {"llama-bpe",        ELMI_PRE_LLAMA3,         true,  true,  true,  false},
    {"falcon3",          ELMI_PRE_LLAMA3,         true,  true,  true,  false},
    {"pixtral",          ELMI_PRE_LLAMA3,         true,  true,  true,  false},
    {"dbrx",             ELMI_PRE_LLAMA3,         true,  false, false, false},
    {"smaug-bpe",        ELMI_PRE_LLAMA3,         true,  false, false, false},
    {"chatglm-bpe",      ELMI_PRE_LLAMA3,         true,  false, false, true},
    {"glm4",             ELMI_PRE_LLAMA3,         true,  false, false, true},
    {"deepseek-llm",     ELMI_PRE_DEEPSEEK_LLM,   false, false, false, false},
    {"deepseek-coder",   ELMI_PRE_DEEPSEEK_CODER, false, false, false, false},
    {"falcon",           ELMI_PRE_FALCON,         true,  false, false, false},
    {"mpt",              ELMI_PRE_GPT2,           true,  false, false, false},
    {"gpt-2",            ELMI_PRE_GPT2,           true,  false, false, false},
    {"phi-2",            ELMI_PRE_GPT2,           true,  false, false, false},
    {"jina-es",          ELMI_PRE_GPT2,           true,  false, false, false},
    {"jina-de",          ELMI_PRE_GPT2,           true,  false, false, false},
    {"jina-v2-es",       ELMI_PRE_GPT2,           true,  false, false, false},
    {"jina-v2-de",       ELMI_PRE_GPT2,           true,  false, false, false},
    {"gigachat",         ELMI_PRE_GPT2,           true,  false, false, false},
    {"olmo",             ELMI_PRE_GPT2,           true,  false, false, false},
    {"jais",             ELMI_PRE_GPT2,           true,  false, false, false},
    {"exaone4",          ELMI_PRE_GPT2,           true,  false, false, false},
    {"starcoder",        ELMI_PRE_STARCODER,      true,  false, false, false},
    {"refact",           ELMI_PRE_STARCODER,      true,  false, false, false},
    {"command-r",        ELMI_PRE_STARCODER,      false, false, false, false},
    {"smollm",           ELMI_PRE_STARCODER,      false, false, false, false},
    {"codeshell",        ELMI_PRE_STARCODER,      true,  false, false, false},
    {"exaone",           ELMI_PRE_STARCODER,      true,  false, false, false},
    {"minerva-7b",       ELMI_PRE_STARCODER,      true,  false, false, false},
    {"qwen2",            ELMI_PRE_QWEN2,          false, false, false, false},
    {"deepseek-r1-qwen", ELMI_PRE_QWEN2,          false, false, false, false},
    {"stablelm2",        ELMI_PRE_QWEN2,          true,  false, false, false},
    {"megrez",           ELMI_PRE_QWEN2,          true,  false, false, false},
    {"poro-chat",        ELMI_PRE_PORO,           false, false, false, false},
    {"bloom",            ELMI_PRE_PORO,           true,  false, false, false},
    {"gpt3-finnish",     ELMI_PRE_PORO,           true,  false, false, false},
    {"viking",           ELMI_PRE_VIKING,         false, false, false, false},
};

const elmi_pre_info *elmi_pre_lookup(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++) {
        if (strlen(pre_names[i].name) == len && memcmp(pre_names[i].name, name, len) == 0) return &pre_names[i];
    }
    return NULL;
}
