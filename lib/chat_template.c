/* chat_template.c: recognising a model's chat template and rendering conversations in it.
 *
 * Detection reads markers in the Jinja text of tokenizer.chat_template, in the order
 * llama.cpp's llm_chat_detect_template uses (its order matters: ChatML markers must win over
 * later rules, for example), plus one rule of our own for the TinyLlama/Zephyr-beta
 * template, which llama.cpp mistakes for GLM-Edge. Rendering writes what those templates
 * produce for plain text messages.
 * Must not: allocate (rendering writes into the caller's buffer), guess a format for a
 * template it does not recognise, or know about tokens.
 */
#include "edgelm.h"
#include "error.h"

#include <string.h>

static const char *const format_names[ELM_CHAT_FORMAT_COUNT] = {
    [ELM_CHAT_UNKNOWN] = "unknown",
    [ELM_CHAT_RAW] = "raw",
    [ELM_CHAT_CHATML] = "chatml",
    [ELM_CHAT_LLAMA2] = "llama2",
    [ELM_CHAT_LLAMA2_SYS] = "llama2-sys",
    [ELM_CHAT_LLAMA2_SYS_BOS] = "llama2-sys-bos",
    [ELM_CHAT_LLAMA2_SYS_STRIP] = "llama2-sys-strip",
    [ELM_CHAT_MISTRAL_V1] = "mistral-v1",
    [ELM_CHAT_MISTRAL_V3] = "mistral-v3",
    [ELM_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [ELM_CHAT_MISTRAL_V7] = "mistral-v7",
    [ELM_CHAT_MISTRAL_V7_TEKKEN] = "mistral-v7-tekken",
    [ELM_CHAT_PHI3] = "phi3",
    [ELM_CHAT_PHI4] = "phi4",
    [ELM_CHAT_FALCON3] = "falcon3",
    [ELM_CHAT_ZEPHYR] = "zephyr",
    [ELM_CHAT_TINYLLAMA] = "tinyllama",
    [ELM_CHAT_MONARCH] = "monarch",
    [ELM_CHAT_GEMMA] = "gemma",
    [ELM_CHAT_ORION] = "orion",
    [ELM_CHAT_OPENCHAT] = "openchat",
    [ELM_CHAT_VICUNA] = "vicuna",
    [ELM_CHAT_VICUNA_ORCA] = "vicuna-orca",
    [ELM_CHAT_DEEPSEEK] = "deepseek",
    [ELM_CHAT_DEEPSEEK2] = "deepseek2",
    [ELM_CHAT_DEEPSEEK3] = "deepseek3",
    [ELM_CHAT_COMMAND_R] = "command-r",
    [ELM_CHAT_LLAMA3] = "llama3",
    [ELM_CHAT_CHATGLM3] = "chatglm3",
    [ELM_CHAT_CHATGLM4] = "chatglm4",
    [ELM_CHAT_GLMEDGE] = "glmedge",
    [ELM_CHAT_MINICPM] = "minicpm",
    [ELM_CHAT_EXAONE3] = "exaone3",
    [ELM_CHAT_GRANITE] = "granite",
    [ELM_CHAT_MEGREZ] = "megrez",
    [ELM_CHAT_LLAMA4] = "llama4",
    [ELM_CHAT_SMOLVLM] = "smolvlm",
};

const char *elm_chat_format_name(elm_chat_format f) {
    if ((unsigned)f >= ELM_CHAT_FORMAT_COUNT || !format_names[f]) return "unknown";
    return format_names[f];
}

static elm_chat_format lookup_name(const char *name, size_t len) {
    for (int f = ELM_CHAT_UNKNOWN + 1; f < ELM_CHAT_FORMAT_COUNT; f++)
        if (format_names[f] && strlen(format_names[f]) == len && memcmp(format_names[f], name, len) == 0)
            return (elm_chat_format)f;
    return ELM_CHAT_UNKNOWN;
}

elm_status elm_chat_format_from_name(const char *name, elm_chat_format *out) {
    if (!name || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_format_from_name: NULL argument");
    elm_chat_format f = lookup_name(name, strlen(name));
    if (f == ELM_CHAT_UNKNOWN) {
        char list[1024];
        size_t at = 0;
        list[0] = '\0';
        for (int i = ELM_CHAT_UNKNOWN + 1; i < ELM_CHAT_FORMAT_COUNT && at < sizeof list; i++) {
            size_t n = strlen(format_names[i]);
            if (at + n + 3 >= sizeof list) break;
            if (at) { memcpy(list + at, ", ", 2); at += 2; }
            memcpy(list + at, format_names[i], n);
            at += n;
            list[at] = '\0';
        }
        return elmi_error(ELM_ERR_NOT_FOUND, "unknown chat template name '%.64s' (known: %s)", name, list);
    }
    *out = f;
    return ELM_OK;
}

/* ==== Detection =========================================================================== */

typedef struct text {
    const char *p;
    size_t n;
} text;

static bool has(text t, const char *needle) {
    size_t m = strlen(needle);
    return m <= t.n && memmem(t.p, t.n, needle, m) != NULL;
}

/* Families llama.cpp knows that edgelm recognises but does not render (so that they are
 * reported by name instead of being mistaken for a later rule). */
static elm_status unsupported_family(const char *family) {
    return elmi_error(ELM_ERR_UNSUPPORTED,
                      "the chat template looks like '%s', which edgelm does not render; choose a format by "
                      "name (e.g. --template chatml) if the model accepts one", family);
}

elm_status elm_chat_format_detect(const char *tmpl, size_t len, elm_chat_format *out) {
    if (!tmpl || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_format_detect: NULL argument");
    text t = {tmpl, len};
    elm_chat_format f = lookup_name(tmpl, len);
    if (f != ELM_CHAT_UNKNOWN) {
        *out = f;
        return ELM_OK;
    }

    if (has(t, "<|im_start|>")) {
        f = has(t, "<|im_sep|>") ? ELM_CHAT_PHI4
          : has(t, "<end_of_utterance>") ? ELM_CHAT_SMOLVLM   /* <|im_start|> as BOS only */
          : ELM_CHAT_CHATML;
    } else if ((len >= 7 && memcmp(tmpl, "mistral", 7) == 0) || has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]")) {
            f = ELM_CHAT_MISTRAL_V7;
        } else if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            /* Mistral's official v1, v3 and v3-tekken templates */
            f = has(t, " [INST]") ? ELM_CHAT_MISTRAL_V1
              : has(t, "\"[INST]\"") ? ELM_CHAT_MISTRAL_V3_TEKKEN
              : ELM_CHAT_MISTRAL_V3;
        } else if (has(t, "content.strip()")) {
            f = ELM_CHAT_LLAMA2_SYS_STRIP;
        } else if (has(t, "bos_token + '[INST]")) {
            f = ELM_CHAT_LLAMA2_SYS_BOS;
        } else if (has(t, "<<SYS>>")) {
            f = ELM_CHAT_LLAMA2_SYS;
        } else {
            f = ELM_CHAT_LLAMA2;
        }
    } else if (has(t, "<|assistant|>") && has(t, "<|end|>")) {
        f = ELM_CHAT_PHI3;
    } else if (has(t, "[gMASK]<sop>")) {
        f = ELM_CHAT_CHATGLM4;
    } else if (has(t, "<|assistant|>") && has(t, "'<|user|>\\n' + message['content'] + eos_token")) {
        /* TinyLlama-Chat and Zephyr-7B-beta: each turn ends with the EOS text. (llama.cpp
         * falls through to GLM-Edge here, which drops those markers.) */
        f = ELM_CHAT_TINYLLAMA;
    } else if (has(t, "<|assistant|>") && has(t, "<|user|>")) {
        f = has(t, "</s>") ? ELM_CHAT_FALCON3 : ELM_CHAT_GLMEDGE;
    } else if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>")) {
        f = ELM_CHAT_GLMEDGE;
    } else if (has(t, "<|user|>") && has(t, "<|endoftext|>")) {
        f = ELM_CHAT_ZEPHYR;
    } else if (has(t, "bos_token + message['role']")) {
        f = ELM_CHAT_MONARCH;
    } else if (has(t, "<start_of_turn>")) {
        f = ELM_CHAT_GEMMA;
    } else if (has(t, "'\\n\\nAssistant: ' + eos_token")) {
        f = ELM_CHAT_ORION;
    } else if (has(t, "GPT4 Correct ")) {
        f = ELM_CHAT_OPENCHAT;
    } else if (has(t, "USER: ") && has(t, "ASSISTANT: ")) {
        f = has(t, "SYSTEM: ") ? ELM_CHAT_VICUNA_ORCA : ELM_CHAT_VICUNA;
    } else if (has(t, "### Instruction:") && has(t, "<|EOT|>")) {
        f = ELM_CHAT_DEEPSEEK;
    } else if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) {
        f = ELM_CHAT_COMMAND_R;
    } else if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) {
        f = ELM_CHAT_LLAMA3;
    } else if (has(t, "[gMASK]sop")) {
        f = ELM_CHAT_CHATGLM3;
    } else if (has(t, "<\xe7\x94\xa8\xe6\x88\xb7>")) {   /* <用户> */
        f = ELM_CHAT_MINICPM;
    } else if (has(t, "'Assistant: ' + message['content'] + eos_token")) {
        f = ELM_CHAT_DEEPSEEK2;
    } else if (has(t, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>") && has(t, "<\xef\xbd\x9c" "User\xef\xbd\x9c>") &&
               has(t, "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>")) {
        f = ELM_CHAT_DEEPSEEK3;
    } else if (has(t, "[|system|]") && has(t, "[|assistant|]") && has(t, "[|endofturn|]")) {
        if (has(t, "[|tool|]")) return unsupported_family("exaone4");
        f = ELM_CHAT_EXAONE3;
    } else if (has(t, "rwkv-world") || has(t, "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}")) {
        return unsupported_family("rwkv-world");
    } else if (has(t, "<|start_of_role|>")) {
        f = ELM_CHAT_GRANITE;
    } else if (has(t, "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]")) {
        return unsupported_family("gigachat");
    } else if (has(t, "<|role_start|>")) {
        f = ELM_CHAT_MEGREZ;
    } else if (has(t, " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82:")) {   /* " Ассистент:" */
        return unsupported_family("yandex");
    } else if (has(t, "<role>ASSISTANT</role>") && has(t, "'HUMAN'")) {
        return unsupported_family("bailing");
    } else if (has(t, "<|header_start|>") && has(t, "<|header_end|>")) {
        f = ELM_CHAT_LLAMA4;
    } else if (has(t, "<|endofuserprompt|>")) {
        return unsupported_family("dots1");
    } else if (has(t, "<|startoftext|>") && has(t, "<|extra_4|>")) {
        return unsupported_family("hunyuan-moe");
    } else if (has(t, "<|im_assistant|>assistant<|im_middle|>")) {
        return unsupported_family("kimi-k2");
    } else {
        /* the text need not be NUL-terminated: quote at most len bytes of it */
        return elmi_error(ELM_ERR_UNSUPPORTED,
                          "the model's chat template (%zu bytes, starting \"%.*s\") matches no template edgelm "
                          "knows; choose one by name (e.g. --template chatml)", len, (int)(len < 60 ? len : 60), tmpl);
    }
    *out = f;
    return ELM_OK;
}

elm_status elm_chat_format_of_gguf(const elm_gguf *g, elm_chat_format *out) {
    if (!g || !out) return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_format_of_gguf: NULL argument");
    elm_gguf_string s;
    elm_status st = elm_gguf_get_string(g, "tokenizer.chat_template", &s);
    if (st == ELM_ERR_NOT_FOUND)
        return elmi_error(ELM_ERR_NOT_FOUND, "%s: no tokenizer.chat_template (a base model: run it as plain "
                          "completion, format 'raw', or choose a template by name)", elm_gguf_path(g));
    if (st != ELM_OK) return st;
    return elm_chat_format_detect(s.data, (size_t)s.len, out);
}

/* ==== Rendering =========================================================================== */

/* snprintf-style output: writes what fits, counts everything. */
typedef struct sink {
    char *buf;
    size_t cap, len;
} sink;

static void put_n(sink *s, const char *p, size_t n) {
    if (s->len < s->cap) {
        size_t room = s->cap - s->len;
        memcpy(s->buf + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

static void put(sink *s, const char *p) { put_n(s, p, strlen(p)); }

/* Whitespace as C's isspace in the "C" locale: what llama.cpp's trim strips. */
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static void put_trimmed(sink *s, const char *p) {
    size_t a = 0, b = strlen(p);
    while (a < b && is_space(p[a])) a++;
    while (b > a && is_space(p[b - 1])) b--;
    put_n(s, p + a, b - a);
}

static bool role_is(const elm_chat_message *m, const char *role) { return strcmp(m->role, role) == 0; }

static void render_llama2(sink *s, elm_chat_format fmt, const elm_chat_message *m, size_t n) {
    const bool with_sys = fmt != ELM_CHAT_LLAMA2;
    const bool bos_in_history = fmt == ELM_CHAT_LLAMA2_SYS_BOS;
    const bool strip = fmt == ELM_CHAT_LLAMA2_SYS_STRIP;
    bool in_turn = true;   /* the first [INST] is written here; BOS comes from the tokenizer */
    put(s, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            in_turn = true;
            put(s, bos_in_history ? "<s>[INST] " : "[INST] ");
        }
        void (*body)(sink *, const char *) = strip ? put_trimmed : put;
        if (role_is(&m[i], "system")) {
            if (with_sys) {
                put(s, "<<SYS>>\n");
                body(s, m[i].content);
                put(s, "\n<</SYS>>\n\n");
            } else {
                body(s, m[i].content);   /* no system slot: it leads the first instruction */
                put(s, "\n");
            }
        } else if (role_is(&m[i], "user")) {
            body(s, m[i].content);
            put(s, " [/INST]");
        } else {
            body(s, m[i].content);
            put(s, "</s>");
            in_turn = false;
        }
    }
}

static void render_mistral(sink *s, elm_chat_format fmt, const elm_chat_message *m, size_t n) {
    const char *lead = fmt == ELM_CHAT_MISTRAL_V1 ? " " : "";
    const char *trail = fmt == ELM_CHAT_MISTRAL_V3_TEKKEN ? "" : " ";
    const bool trim_answers = fmt == ELM_CHAT_MISTRAL_V3;
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            put(s, lead);
            put(s, "[INST]");
            put(s, trail);
            in_turn = true;
        }
        if (role_is(&m[i], "system")) {
            put(s, m[i].content);
            put(s, "\n\n");
        } else if (role_is(&m[i], "user")) {
            put(s, m[i].content);
            put(s, lead);
            put(s, "[/INST]");
        } else {
            put(s, trail);
            if (trim_answers) put_trimmed(s, m[i].content);
            else put(s, m[i].content);
            put(s, "</s>");
            in_turn = false;
        }
    }
}

static void render_mistral_v7(sink *s, elm_chat_format fmt, const elm_chat_message *m, size_t n) {
    const char *sp = fmt == ELM_CHAT_MISTRAL_V7 ? " " : "";
    for (size_t i = 0; i < n; i++) {
        if (role_is(&m[i], "system")) {
            put(s, "[SYSTEM_PROMPT]");
            put(s, sp);
            put(s, m[i].content);
            put(s, "[/SYSTEM_PROMPT]");
        } else if (role_is(&m[i], "user")) {
            put(s, "[INST]");
            put(s, sp);
            put(s, m[i].content);
            put(s, "[/INST]");
        } else {
            put(s, sp);
            put(s, m[i].content);
            put(s, "</s>");
        }
    }
}

/* Formats where each message is prefix + role + middle + content + suffix. */
typedef struct role_frame {
    const char *before_role, *after_role, *after_content, *generation;
    bool trim;
} role_frame;

static void render_framed(sink *s, const role_frame *f, const elm_chat_message *m, size_t n, bool gen) {
    for (size_t i = 0; i < n; i++) {
        put(s, f->before_role);
        put(s, m[i].role);
        put(s, f->after_role);
        if (f->trim) put_trimmed(s, m[i].content);
        else put(s, m[i].content);
        put(s, f->after_content);
    }
    if (gen) put(s, f->generation);
}

/* Gemma and Orion have no system role: the system messages seen since the last user turn
 * are merged into that turn. */
static void put_systems(sink *s, const elm_chat_message *m, size_t from, size_t to, bool trim) {
    for (size_t k = from; k < to; k++)
        if (role_is(&m[k], "system")) {
            if (trim) put_trimmed(s, m[k].content);
            else put(s, m[k].content);
        }
}

static void render_gemma(sink *s, const elm_chat_message *m, size_t n, bool gen) {
    size_t from = 0;          /* first message whose system text is not written yet */
    bool pending = false;
    for (size_t i = 0; i < n; i++) {
        if (role_is(&m[i], "system")) {
            if (!pending) from = i;
            pending = true;
            continue;
        }
        const bool model = role_is(&m[i], "assistant");
        put(s, "<start_of_turn>");
        put(s, model ? "model" : m[i].role);
        put(s, "\n");
        if (pending && !model) {
            put_systems(s, m, from, i, true);
            put(s, "\n\n");
            pending = false;
        }
        put_trimmed(s, m[i].content);
        put(s, "<end_of_turn>\n");
    }
    if (gen) put(s, "<start_of_turn>model\n");
}

static void render_orion(sink *s, const elm_chat_message *m, size_t n) {
    size_t from = 0;
    bool pending = false;
    for (size_t i = 0; i < n; i++) {
        if (role_is(&m[i], "system")) {
            if (!pending) from = i;
            pending = true;
        } else if (role_is(&m[i], "user")) {
            put(s, "Human: ");
            if (pending) {
                put_systems(s, m, from, i, false);
                put(s, "\n\n");
                pending = false;
            }
            put(s, m[i].content);
            put(s, "\n\nAssistant: </s>");
        } else {
            put(s, m[i].content);
            put(s, "</s>");
        }
    }
}

static void render_openchat(sink *s, const elm_chat_message *m, size_t n, bool gen) {
    for (size_t i = 0; i < n; i++) {
        if (role_is(&m[i], "system")) {
            put(s, m[i].content);
        } else {
            put(s, "GPT4 Correct ");
            char first = m[i].role[0];
            if (first >= 'a' && first <= 'z') first = (char)(first - 'a' + 'A');
            if (first) {
                put_n(s, &first, 1);
                put(s, m[i].role + 1);
            }
            put(s, ": ");
            put(s, m[i].content);
        }
        put(s, "<|end_of_turn|>");
    }
    if (gen) put(s, "GPT4 Correct Assistant:");
}

static void render_vicuna(sink *s, bool orca, const elm_chat_message *m, size_t n, bool gen) {
    for (size_t i = 0; i < n; i++) {
        if (role_is(&m[i], "system")) {
            if (orca) put(s, "SYSTEM: ");
            put(s, m[i].content);
            put(s, orca ? "\n" : "\n\n");
        } else if (role_is(&m[i], "user")) {
            put(s, "USER: ");
            put(s, m[i].content);
            put(s, "\n");
        } else if (role_is(&m[i], "assistant")) {
            put(s, "ASSISTANT: ");
            put(s, m[i].content);
            put(s, "</s>\n");
        }
    }
    if (gen) put(s, "ASSISTANT:");
}

/* Formats with one prefix and suffix per role (system, user, assistant); other roles are
 * skipped. */
typedef struct role_table {
    const char *pre[3], *post[3];
    const char *generation;
    bool trim;
} role_table;

static void render_roles(sink *s, const role_table *t, const elm_chat_message *m, size_t n, bool gen) {
    static const char *const roles[3] = {"system", "user", "assistant"};
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < 3; r++) {
            if (!role_is(&m[i], roles[r])) continue;
            put(s, t->pre[r]);
            if (t->trim) put_trimmed(s, m[i].content);
            else put(s, m[i].content);
            put(s, t->post[r]);
        }
    }
    if (gen && t->generation) put(s, t->generation);
}

#define FULLWIDTH_BAR "\xef\xbd\x9c"            /* ｜ */
#define LOWER_BLOCK "\xe2\x96\x81"              /* ▁ */
#define DEEPSEEK_EOS "<" FULLWIDTH_BAR "end" LOWER_BLOCK "of" LOWER_BLOCK "sentence" FULLWIDTH_BAR ">"

static const role_table table_deepseek = {
    {"", "### Instruction:\n", "### Response:\n"}, {"", "\n", "\n<|EOT|>\n"}, "### Response:\n", false};
static const role_table table_deepseek2 = {
    {"", "User: ", "Assistant: "}, {"\n\n", "\n\n", DEEPSEEK_EOS}, "Assistant:", false};
static const role_table table_deepseek3 = {
    {"", "<" FULLWIDTH_BAR "User" FULLWIDTH_BAR ">", "<" FULLWIDTH_BAR "Assistant" FULLWIDTH_BAR ">"},
    {"\n\n", "", DEEPSEEK_EOS}, "<" FULLWIDTH_BAR "Assistant" FULLWIDTH_BAR ">", false};
static const role_table table_command_r = {
    {"<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
     "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
    {"<|END_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>"},
    "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", true};
static const role_table table_exaone3 = {
    {"[|system|]", "[|user|]", "[|assistant|]"}, {"[|endofturn|]\n", "\n", "[|endofturn|]\n"}, "[|assistant|]", true};

static const role_frame frame_chatml = {"<|im_start|>", "\n", "<|im_end|>\n", "<|im_start|>assistant\n", false};
static const role_frame frame_phi3 = {"<|", "|>\n", "<|end|>\n", "<|assistant|>\n", false};
static const role_frame frame_phi4 = {"<|im_start|>", "<|im_sep|>", "<|im_end|>", "<|im_start|>assistant<|im_sep|>", false};
static const role_frame frame_falcon3 = {"<|", "|>\n", "\n", "<|assistant|>\n", false};
static const role_frame frame_zephyr = {"<|", "|>\n", "<|endoftext|>\n", "<|assistant|>\n", false};
static const role_frame frame_tinyllama = {"<|", "|>\n", "</s>\n", "<|assistant|>\n", false};
static const role_frame frame_llama3 = {"<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>",
                                        "<|start_header_id|>assistant<|end_header_id|>\n\n", true};
static const role_frame frame_chatglm4 = {"<|", "|>\n", "", "<|assistant|>\n", false};
static const role_frame frame_glmedge = {"<|", "|>\n", "", "<|assistant|>", false};
static const role_frame frame_megrez = {"<|role_start|>", "<|role_end|>", "<|turn_end|>", "<|role_start|>assistant<|role_end|>", false};
static const role_frame frame_llama4 = {"<|header_start|>", "<|header_end|>\n\n", "<|eot|>",
                                        "<|header_start|>assistant<|header_end|>\n\n", true};

static void render(sink *s, elm_chat_format fmt, const elm_chat_message *m, size_t n, bool gen) {
    switch (fmt) {
    case ELM_CHAT_RAW:
        for (size_t i = 0; i < n; i++) put(s, m[i].content);
        break;
    case ELM_CHAT_CHATML: render_framed(s, &frame_chatml, m, n, gen); break;
    case ELM_CHAT_LLAMA2:
    case ELM_CHAT_LLAMA2_SYS:
    case ELM_CHAT_LLAMA2_SYS_BOS:
    case ELM_CHAT_LLAMA2_SYS_STRIP: render_llama2(s, fmt, m, n); break;
    case ELM_CHAT_MISTRAL_V1:
    case ELM_CHAT_MISTRAL_V3:
    case ELM_CHAT_MISTRAL_V3_TEKKEN: render_mistral(s, fmt, m, n); break;
    case ELM_CHAT_MISTRAL_V7:
    case ELM_CHAT_MISTRAL_V7_TEKKEN: render_mistral_v7(s, fmt, m, n); break;
    case ELM_CHAT_PHI3: render_framed(s, &frame_phi3, m, n, gen); break;
    case ELM_CHAT_PHI4: render_framed(s, &frame_phi4, m, n, gen); break;
    case ELM_CHAT_FALCON3: render_framed(s, &frame_falcon3, m, n, gen); break;
    case ELM_CHAT_ZEPHYR: render_framed(s, &frame_zephyr, m, n, gen); break;
    case ELM_CHAT_TINYLLAMA: render_framed(s, &frame_tinyllama, m, n, gen); break;
    case ELM_CHAT_MONARCH:
        for (size_t i = 0; i < n; i++) {
            if (i > 0) put(s, "<s>");   /* the tokenizer adds the first BOS */
            put(s, m[i].role);
            put(s, "\n");
            put(s, m[i].content);
            put(s, "</s>\n");
        }
        if (gen) put(s, "<s>assistant\n");
        break;
    case ELM_CHAT_GEMMA: render_gemma(s, m, n, gen); break;
    case ELM_CHAT_ORION: render_orion(s, m, n); break;
    case ELM_CHAT_OPENCHAT: render_openchat(s, m, n, gen); break;
    case ELM_CHAT_VICUNA: render_vicuna(s, false, m, n, gen); break;
    case ELM_CHAT_VICUNA_ORCA: render_vicuna(s, true, m, n, gen); break;
    case ELM_CHAT_DEEPSEEK: render_roles(s, &table_deepseek, m, n, gen); break;
    case ELM_CHAT_DEEPSEEK2: render_roles(s, &table_deepseek2, m, n, gen); break;
    case ELM_CHAT_DEEPSEEK3: render_roles(s, &table_deepseek3, m, n, gen); break;
    case ELM_CHAT_COMMAND_R: render_roles(s, &table_command_r, m, n, gen); break;
    case ELM_CHAT_LLAMA3: render_framed(s, &frame_llama3, m, n, gen); break;
    case ELM_CHAT_CHATGLM3:
        put(s, "[gMASK]sop");
        for (size_t i = 0; i < n; i++) {
            put(s, "<|");
            put(s, m[i].role);
            put(s, "|>\n ");
            put(s, m[i].content);
        }
        if (gen) put(s, "<|assistant|>");
        break;
    case ELM_CHAT_CHATGLM4:
        put(s, "[gMASK]<sop>");
        render_framed(s, &frame_chatglm4, m, n, gen);
        break;
    case ELM_CHAT_GLMEDGE: render_framed(s, &frame_glmedge, m, n, gen); break;
    case ELM_CHAT_MINICPM:
        for (size_t i = 0; i < n; i++) {
            const bool user = role_is(&m[i], "user");
            if (user) put(s, "<\xe7\x94\xa8\xe6\x88\xb7>");   /* <用户> */
            put_trimmed(s, m[i].content);
            if (user) put(s, "<AI>");
        }
        break;
    case ELM_CHAT_EXAONE3: render_roles(s, &table_exaone3, m, n, gen); break;
    case ELM_CHAT_GRANITE:
        for (size_t i = 0; i < n; i++) {
            put(s, "<|start_of_role|>");
            put(s, m[i].role);
            put(s, "<|end_of_role|>");
            if (role_is(&m[i], "assistant_tool_call")) put(s, "<|tool_call|>");
            put(s, m[i].content);
            put(s, "<|end_of_text|>\n");
        }
        if (gen) put(s, "<|start_of_role|>assistant<|end_of_role|>");
        break;
    case ELM_CHAT_MEGREZ: render_framed(s, &frame_megrez, m, n, gen); break;
    case ELM_CHAT_LLAMA4: render_framed(s, &frame_llama4, m, n, gen); break;
    case ELM_CHAT_SMOLVLM:
        put(s, "<|im_start|>");
        for (size_t i = 0; i < n; i++) {
            if (role_is(&m[i], "system")) {
                put(s, m[i].content);
                put(s, "\n\n");
            } else {
                put(s, role_is(&m[i], "user") ? "User: " : "Assistant: ");
                put(s, m[i].content);
                put(s, "<end_of_utterance>\n");
            }
        }
        if (gen) put(s, "Assistant:");
        break;
    default: break;
    }
}

elm_status elm_chat_render(elm_chat_format fmt, const elm_chat_message *msgs, size_t n, bool add_generation_prompt,
                           char *buf, size_t cap, size_t *n_out) {
    if (!n_out || (cap > 0 && !buf) || (n > 0 && !msgs))
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_render: NULL argument");
    if (fmt <= ELM_CHAT_UNKNOWN || fmt >= ELM_CHAT_FORMAT_COUNT)
        return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_render: no such chat format (%d)", (int)fmt);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return elmi_error(ELM_ERR_INVALID_ARG, "elm_chat_render: message %zu has a NULL %s", i,
                              msgs[i].role ? "content" : "role");
    sink s = {buf, cap, 0};
    render(&s, fmt, msgs, n, add_generation_prompt);
    if (s.len < cap) buf[s.len] = '\0';
    *n_out = s.len;
    return ELM_OK;
}
