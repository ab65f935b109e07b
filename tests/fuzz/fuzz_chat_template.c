/* fuzz_chat_template.c: chat template detection on hostile template text (it comes from a
 * GGUF file) and rendering of arbitrary messages in every format: no read past the given
 * length, no overrun of a short buffer, and the size a call reports is the size it writes.
 *
 * Input: the whole input is a template for elm_chat_format_detect; split at NUL bytes, its
 * parts are also the contents of up to 6 messages (roles cycle system, user, assistant),
 * rendered in every format into a full buffer and into a cut one. */
#include "edgelm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* detection reads exactly size bytes: give it a copy with no terminator after it */
    char *t = malloc(size ? size : 1);
    if (!t) return 0;
    memcpy(t, data, size);
    elm_chat_format f;
    (void)elm_chat_format_detect(t, size, &f);
    free(t);

    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const char *const roles[3] = {"system", "user", "assistant"};
    elm_chat_message msgs[6];
    size_t n = 0;
    for (char *p = text; n < 6 && p <= text + size; p += strlen(p) + 1) {
        msgs[n].role = roles[n % 3];
        msgs[n].content = p;
        n++;
    }
    for (int fmt = ELM_CHAT_UNKNOWN + 1; fmt < ELM_CHAT_FORMAT_COUNT; fmt++) {
        size_t need = 0, again = 0;
        if (elm_chat_render((elm_chat_format)fmt, msgs, n, fmt & 1, NULL, 0, &need) != ELM_OK) abort();
        char *full = malloc(need + 1);
        if (!full) break;
        if (elm_chat_render((elm_chat_format)fmt, msgs, n, fmt & 1, full, need + 1, &again) != ELM_OK) abort();
        if (again != need || strlen(full) != need) abort();
        size_t cut = need / 2;
        char *part = malloc(cut ? cut : 1);
        if (part) {
            if (elm_chat_render((elm_chat_format)fmt, msgs, n, fmt & 1, part, cut, &again) != ELM_OK) abort();
            if (again != need || memcmp(part, full, cut) != 0) abort();
            free(part);
        }
        free(full);
    }
    free(text);
    return 0;
}
