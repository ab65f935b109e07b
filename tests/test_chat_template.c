/* test_chat_template.c: every chat format renders known conversations to the exact text its
 * template produces, and real templates are recognised (or refused) by their markers.
 *
 * Expected texts are written out by hand. The six-message ones follow the expected outputs
 * of llama.cpp's tests/test-chat-template.cpp for the same conversation (where a format is
 * not there, they follow the template's Jinja definition); the three-message ones (system,
 * user, assistant, then the generation prompt) were derived from the same definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "edgelm.h"
#include "support.h"

#define SYS "You are a helpful assistant"
#define EOS_DS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"   /* <｜end▁of▁sentence｜> */
#define USER_DS "<\xef\xbd\x9c" "User\xef\xbd\x9c>"
#define ASSISTANT_DS "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"
#define USER_CPM "<\xe7\x94\xa8\xe6\x88\xb7>"   /* <用户> */

static const elm_chat_message conv3[3] = {
    {"system", SYS},
    {"user", "Hello"},
    {"assistant", "Hi there"},
};

static const elm_chat_message conv6[6] = {
    {"system", SYS},
    {"user", "Hello"},
    {"assistant", "Hi there"},
    {"user", "Who are you"},
    {"assistant", "   I am an assistant   "},
    {"user", "Another question"},
};

typedef struct expected {
    const char *name;
    const char *three;   /* conv3 + generation prompt */
    const char *six;     /* conv6 + generation prompt */
} expected;

static const expected cases[] = {
    {"raw", SYS "HelloHi there", SYS "HelloHi thereWho are you   I am an assistant   Another question"},
    {"chatml",
     "<|im_start|>system\n" SYS "<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
     "<|im_start|>assistant\n",
     "<|im_start|>system\n" SYS "<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
     "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
     "<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"},
    {"llama2", "[INST] " SYS "\nHello [/INST]Hi there</s>",
     "[INST] " SYS "\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>"
     "[INST] Another question [/INST]"},
    {"llama2-sys", "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>",
     "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>"
     "[INST] Another question [/INST]"},
    {"llama2-sys-bos", "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>",
     "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]   I am an assistant   </s>"
     "<s>[INST] Another question [/INST]"},
    {"llama2-sys-strip", "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>",
     "[INST] <<SYS>>\n" SYS "\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]I am an assistant</s>"
     "[INST] Another question [/INST]"},
    {"mistral-v1", " [INST] " SYS "\n\nHello [/INST] Hi there</s>",
     " [INST] " SYS "\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s>"
     " [INST] Another question [/INST]"},
    {"mistral-v3", "[INST] " SYS "\n\nHello[/INST] Hi there</s>",
     "[INST] " SYS "\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>"
     "[INST] Another question[/INST]"},
    {"mistral-v3-tekken", "[INST]" SYS "\n\nHello[/INST]Hi there</s>",
     "[INST]" SYS "\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>"
     "[INST]Another question[/INST]"},
    {"mistral-v7", "[SYSTEM_PROMPT] " SYS "[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>",
     "[SYSTEM_PROMPT] " SYS "[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]"
     "    I am an assistant   </s>[INST] Another question[/INST]"},
    {"mistral-v7-tekken", "[SYSTEM_PROMPT]" SYS "[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>",
     "[SYSTEM_PROMPT]" SYS "[/SYSTEM_PROMPT][INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]"
     "   I am an assistant   </s>[INST]Another question[/INST]"},
    {"phi3",
     "<|system|>\n" SYS "<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|assistant|>\n",
     "<|system|>\n" SYS "<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n"
     "<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"},
    {"phi4",
     "<|im_start|>system<|im_sep|>" SYS "<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|>"
     "<|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>assistant<|im_sep|>",
     "<|im_start|>system<|im_sep|>" SYS "<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|>"
     "<|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you<|im_end|>"
     "<|im_start|>assistant<|im_sep|>   I am an assistant   <|im_end|><|im_start|>user<|im_sep|>Another question<|im_end|>"
     "<|im_start|>assistant<|im_sep|>"},
    {"falcon3", "<|system|>\n" SYS "\n<|user|>\nHello\n<|assistant|>\nHi there\n<|assistant|>\n",
     "<|system|>\n" SYS "\n<|user|>\nHello\n<|assistant|>\nHi there\n<|user|>\nWho are you\n"
     "<|assistant|>\n   I am an assistant   \n<|user|>\nAnother question\n<|assistant|>\n"},
    {"zephyr",
     "<|system|>\n" SYS "<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi there<|endoftext|>\n<|assistant|>\n",
     "<|system|>\n" SYS "<|endoftext|>\n<|user|>\nHello<|endoftext|>\n<|assistant|>\nHi there<|endoftext|>\n"
     "<|user|>\nWho are you<|endoftext|>\n<|assistant|>\n   I am an assistant   <|endoftext|>\n"
     "<|user|>\nAnother question<|endoftext|>\n<|assistant|>\n"},
    {"tinyllama", "<|system|>\n" SYS "</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|assistant|>\n",
     "<|system|>\n" SYS "</s>\n<|user|>\nHello</s>\n<|assistant|>\nHi there</s>\n<|user|>\nWho are you</s>\n"
     "<|assistant|>\n   I am an assistant   </s>\n<|user|>\nAnother question</s>\n<|assistant|>\n"},
    {"monarch", "system\n" SYS "</s>\n<s>user\nHello</s>\n<s>assistant\nHi there</s>\n<s>assistant\n",
     "system\n" SYS "</s>\n<s>user\nHello</s>\n<s>assistant\nHi there</s>\n<s>user\nWho are you</s>\n"
     "<s>assistant\n   I am an assistant   </s>\n<s>user\nAnother question</s>\n<s>assistant\n"},
    {"gemma",
     "<start_of_turn>user\n" SYS "\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>model\n",
     "<start_of_turn>user\n" SYS "\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n"
     "<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n"
     "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"},
    {"orion", "Human: " SYS "\n\nHello\n\nAssistant: </s>Hi there</s>",
     "Human: " SYS "\n\nHello\n\nAssistant: </s>Hi there</s>Human: Who are you\n\nAssistant: </s>   I am an assistant   </s>"
     "Human: Another question\n\nAssistant: </s>"},
    {"openchat",
     SYS "<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi there<|end_of_turn|>"
     "GPT4 Correct Assistant:",
     SYS "<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi there<|end_of_turn|>"
     "GPT4 Correct User: Who are you<|end_of_turn|>GPT4 Correct Assistant:    I am an assistant   <|end_of_turn|>"
     "GPT4 Correct User: Another question<|end_of_turn|>GPT4 Correct Assistant:"},
    {"vicuna", SYS "\n\nUSER: Hello\nASSISTANT: Hi there</s>\nASSISTANT:",
     SYS "\n\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:    I am an assistant   </s>\n"
     "USER: Another question\nASSISTANT:"},
    {"vicuna-orca", "SYSTEM: " SYS "\nUSER: Hello\nASSISTANT: Hi there</s>\nASSISTANT:",
     "SYSTEM: " SYS "\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:    I am an assistant   </s>\n"
     "USER: Another question\nASSISTANT:"},
    {"deepseek", SYS "### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Response:\n",
     SYS "### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n"
     "### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n"},
    {"deepseek2", SYS "\n\nUser: Hello\n\nAssistant: Hi there" EOS_DS "Assistant:",
     SYS "\n\nUser: Hello\n\nAssistant: Hi there" EOS_DS "User: Who are you\n\nAssistant:    I am an assistant   " EOS_DS
     "User: Another question\n\nAssistant:"},
    {"deepseek3", SYS "\n\n" USER_DS "Hello" ASSISTANT_DS "Hi there" EOS_DS ASSISTANT_DS,
     SYS "\n\n" USER_DS "Hello" ASSISTANT_DS "Hi there" EOS_DS USER_DS "Who are you" ASSISTANT_DS
     "   I am an assistant   " EOS_DS USER_DS "Another question" ASSISTANT_DS},
    {"command-r",
     "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>" SYS "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello"
     "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|>"
     "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
     "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>" SYS "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello"
     "<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|>"
     "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"
     "I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Another question<|END_OF_TURN_TOKEN|>"
     "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
    {"llama3",
     "<|start_header_id|>system<|end_header_id|>\n\n" SYS "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello"
     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n",
     "<|start_header_id|>system<|end_header_id|>\n\n" SYS "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello"
     "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
     "I am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"chatglm3", "[gMASK]sop<|system|>\n " SYS "<|user|>\n Hello<|assistant|>\n Hi there<|assistant|>",
     "[gMASK]sop<|system|>\n " SYS "<|user|>\n Hello<|assistant|>\n Hi there<|user|>\n Who are you"
     "<|assistant|>\n    I am an assistant   <|user|>\n Another question<|assistant|>"},
    {"chatglm4", "[gMASK]<sop><|system|>\n" SYS "<|user|>\nHello<|assistant|>\nHi there<|assistant|>\n",
     "[gMASK]<sop><|system|>\n" SYS "<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you"
     "<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>\n"},
    {"glmedge", "<|system|>\n" SYS "<|user|>\nHello<|assistant|>\nHi there<|assistant|>",
     "<|system|>\n" SYS "<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you"
     "<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>"},
    {"minicpm", SYS USER_CPM "Hello<AI>Hi there",
     SYS USER_CPM "Hello<AI>Hi there" USER_CPM "Who are you<AI>I am an assistant" USER_CPM "Another question<AI>"},
    {"exaone3", "[|system|]" SYS "[|endofturn|]\n[|user|]Hello\n[|assistant|]Hi there[|endofturn|]\n[|assistant|]",
     "[|system|]" SYS "[|endofturn|]\n[|user|]Hello\n[|assistant|]Hi there[|endofturn|]\n[|user|]Who are you\n"
     "[|assistant|]I am an assistant[|endofturn|]\n[|user|]Another question\n[|assistant|]"},
    {"granite",
     "<|start_of_role|>system<|end_of_role|>" SYS "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n"
     "<|start_of_role|>assistant<|end_of_role|>Hi there<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>",
     "<|start_of_role|>system<|end_of_role|>" SYS "<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n"
     "<|start_of_role|>assistant<|end_of_role|>Hi there<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Who are you"
     "<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>   I am an assistant   <|end_of_text|>\n"
     "<|start_of_role|>user<|end_of_role|>Another question<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>"},
    {"megrez",
     "<|role_start|>system<|role_end|>" SYS "<|turn_end|><|role_start|>user<|role_end|>Hello<|turn_end|>"
     "<|role_start|>assistant<|role_end|>Hi there<|turn_end|><|role_start|>assistant<|role_end|>",
     "<|role_start|>system<|role_end|>" SYS "<|turn_end|><|role_start|>user<|role_end|>Hello<|turn_end|>"
     "<|role_start|>assistant<|role_end|>Hi there<|turn_end|><|role_start|>user<|role_end|>Who are you<|turn_end|>"
     "<|role_start|>assistant<|role_end|>   I am an assistant   <|turn_end|><|role_start|>user<|role_end|>Another question"
     "<|turn_end|><|role_start|>assistant<|role_end|>"},
    {"llama4",
     "<|header_start|>system<|header_end|>\n\n" SYS "<|eot|><|header_start|>user<|header_end|>\n\nHello<|eot|>"
     "<|header_start|>assistant<|header_end|>\n\nHi there<|eot|><|header_start|>assistant<|header_end|>\n\n",
     "<|header_start|>system<|header_end|>\n\n" SYS "<|eot|><|header_start|>user<|header_end|>\n\nHello<|eot|>"
     "<|header_start|>assistant<|header_end|>\n\nHi there<|eot|><|header_start|>user<|header_end|>\n\nWho are you<|eot|>"
     "<|header_start|>assistant<|header_end|>\n\nI am an assistant<|eot|><|header_start|>user<|header_end|>\n\n"
     "Another question<|eot|><|header_start|>assistant<|header_end|>\n\n"},
    {"smolvlm", "<|im_start|>" SYS "\n\nUser: Hello<end_of_utterance>\nAssistant: Hi there<end_of_utterance>\nAssistant:",
     "<|im_start|>" SYS "\n\nUser: Hello<end_of_utterance>\nAssistant: Hi there<end_of_utterance>\n"
     "User: Who are you<end_of_utterance>\nAssistant:    I am an assistant   <end_of_utterance>\n"
     "User: Another question<end_of_utterance>\nAssistant:"},
};

static const size_t n_cases = sizeof cases / sizeof cases[0];

static char *render_alloc(elm_chat_format f, const elm_chat_message *m, size_t n, bool gen) {
    size_t need = 0;
    assert_int_equal(elm_chat_render(f, m, n, gen, NULL, 0, &need), ELM_OK);
    char *buf = malloc(need + 1);
    assert_non_null(buf);
    size_t again = 0;
    assert_int_equal(elm_chat_render(f, m, n, gen, buf, need + 1, &again), ELM_OK);
    assert_int_equal(again, need);
    assert_int_equal(strlen(buf), need);
    return buf;
}

static void every_format_renders_the_expected_text(void **state) {
    (void)state;
    /* every format has a case, and the list has no duplicate */
    assert_int_equal(n_cases, ELM_CHAT_FORMAT_COUNT - 1);
    for (size_t i = 0; i < n_cases; i++) {
        elm_chat_format f = ELM_CHAT_UNKNOWN;
        assert_int_equal(elm_chat_format_from_name(cases[i].name, &f), ELM_OK);
        assert_string_equal(elm_chat_format_name(f), cases[i].name);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(cases[i].name, cases[j].name);

        char *three = render_alloc(f, conv3, 3, true);
        if (strcmp(three, cases[i].three) != 0) print_error("format %s (3 messages)\n", cases[i].name);
        assert_string_equal(three, cases[i].three);
        free(three);
        char *six = render_alloc(f, conv6, 6, true);
        if (strcmp(six, cases[i].six) != 0) print_error("format %s (6 messages)\n", cases[i].name);
        assert_string_equal(six, cases[i].six);
        free(six);
    }
}

static void generation_prompt_is_only_added_when_asked(void **state) {
    (void)state;
    elm_chat_format f;
    assert_int_equal(elm_chat_format_from_name("chatml", &f), ELM_OK);
    char *with = render_alloc(f, conv3, 3, true), *without = render_alloc(f, conv3, 3, false);
    assert_string_equal(with, cases[1].three);
    assert_int_equal(strlen(with), strlen(without) + strlen("<|im_start|>assistant\n"));
    assert_memory_equal(with, without, strlen(without));
    free(with);
    free(without);
    /* Llama 2 has no generation prompt: the answer follows [/INST] */
    assert_int_equal(elm_chat_format_from_name("llama2", &f), ELM_OK);
    with = render_alloc(f, conv6, 6, true);
    without = render_alloc(f, conv6, 6, false);
    assert_string_equal(with, without);
    free(with);
    free(without);
    /* no messages: only the generation prompt */
    assert_int_equal(elm_chat_format_from_name("llama3", &f), ELM_OK);
    with = render_alloc(f, NULL, 0, true);
    assert_string_equal(with, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    free(with);
}

static void small_buffers_are_never_overrun(void **state) {
    (void)state;
    elm_chat_format f;
    assert_int_equal(elm_chat_format_from_name("gemma", &f), ELM_OK);
    const char *want = cases[17].six;
    assert_string_equal(cases[17].name, "gemma");
    const size_t full = strlen(want);
    char buf[600];
    for (size_t cap = 0; cap <= full + 2; cap += 7) {
        memset(buf, 'X', sizeof buf);
        size_t need = 0;
        assert_int_equal(elm_chat_render(f, conv6, 6, true, cap ? buf : NULL, cap, &need), ELM_OK);
        assert_int_equal(need, full);
        size_t wrote = cap < full ? cap : full;
        assert_memory_equal(buf, want, wrote);
        if (cap > full) assert_int_equal(buf[full], '\0');
        for (size_t k = cap; k < sizeof buf; k++) assert_int_equal(buf[k], 'X');
    }
}

static void bad_arguments_are_errors(void **state) {
    (void)state;
    size_t n = 0;
    char buf[16];
    const elm_chat_message bad[1] = {{"user", NULL}};
    assert_int_equal(elm_chat_render(ELM_CHAT_CHATML, bad, 1, true, buf, sizeof buf, &n), ELM_ERR_INVALID_ARG);
    const elm_chat_message bad2[1] = {{NULL, "x"}};
    assert_int_equal(elm_chat_render(ELM_CHAT_CHATML, bad2, 1, true, buf, sizeof buf, &n), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_chat_render(ELM_CHAT_UNKNOWN, conv3, 3, true, buf, sizeof buf, &n), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_chat_render((elm_chat_format)999, conv3, 3, true, buf, sizeof buf, &n), ELM_ERR_INVALID_ARG);
    assert_int_equal(elm_chat_render(ELM_CHAT_CHATML, conv3, 3, true, NULL, 5, &n), ELM_ERR_INVALID_ARG);
    elm_chat_format f = ELM_CHAT_LLAMA3;
    assert_int_equal(elm_chat_format_from_name("chatml2", &f), ELM_ERR_NOT_FOUND);
    assert_non_null(strstr(elm_last_error(), "chatml2"));
    assert_non_null(strstr(elm_last_error(), "llama3"));   /* lists the known names */
    assert_int_equal(f, ELM_CHAT_LLAMA3);
    assert_string_equal(elm_chat_format_name(ELM_CHAT_UNKNOWN), "unknown");
    assert_string_equal(elm_chat_format_name((elm_chat_format)-3), "unknown");
}

/* ==== Detection =========================================================================== */

typedef struct detect_case {
    const char *what;
    const char *tmpl;
    const char *want;   /* format name */
} detect_case;

/* Real templates (from the models' tokenizer_config.json, as quoted in llama.cpp's tests). */
static const detect_case detect_cases[] = {
    {"OpenHermes-2.5 (ChatML)",
     "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
     "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
     "chatml"},
    {"Mistral-7B-Instruct-v0.2",
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
     "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
     "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == "
     "'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are "
     "supported!') }}{% endif %}{% endfor %}",
     "llama2"},
    {"FusionNet_34Bx2_MoE",
     "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%- if idx > 1 -%}\n"
     "{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%- else -%}\n{{- messages[idx]['content'] + "
     "' [/INST]' -}}\n{%- endif -%}\n{% elif messages[idx]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + "
     "messages[idx]['content'] + '\\n<</SYS>>\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n"
     "{{- ' '  + messages[idx]['content'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}",
     "llama2-sys-bos"},
    {"vigogne-2-70b-chat",
     "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
     "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
     "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
     "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
     "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + content.strip() + ' [/INST]' }}"
     "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
     "llama2-sys-strip"},
    {"Llama-2-chat",
     "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
     "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
     "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' "
     "+ system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}"
     "{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content | trim + ' [/INST]' }}"
     "{% elif message['role'] == 'assistant' %}{{ ' ' + content | trim + ' ' + eos_token }}{% endif %}{% endfor %}",
     "llama2-sys-bos"},
    {"Mistral-7B-Instruct-v0.2 with system (v1)",
     "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n{%- endif %}\n"
     "{{- bos_token }}\n{%- for message in loop_messages %}\n        {%- if loop.first and system_message is defined %}\n"
     "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n"
     "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n{%- endfor %}\n",
     "mistral-v1"},
    {"Mistral-Large-Instruct-2407 (v3)",
     "{%- if tools is not none and (message == user_messages[-1]) %}\n{{- \"[AVAILABLE_TOOLS] [\" }}{{- \"[/AVAILABLE_TOOLS]\" }}"
     "{{- \"[INST] \" + message[\"content\"] + \"[/INST]\" }}{{- \" \" + message[\"content\"]|trim + eos_token}}",
     "mistral-v3"},
    {"Mistral-Nemo-Instruct-2407 (v3-tekken)",
     "{%- if tools is not none and (message == user_messages[-1]) %}\n{{- \"[AVAILABLE_TOOLS][\" }}{{- \"[/AVAILABLE_TOOLS]\" }}"
     "{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}{{- message[\"content\"] + eos_token}}",
     "mistral-v3-tekken"},
    {"Mistral-Large-Instruct-2411 (v7)",
     "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + "
     "'[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}"
     "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}",
     "mistral-v7"},
    {"AlphaMonarch-7B",
     "{% for message in messages %}{{bos_token + message['role'] + '\\n' + message['content'] + eos_token + '\\n'}}"
     "{% endfor %}{% if add_generation_prompt %}{{ bos_token + 'assistant\\n' }}{% endif %}",
     "monarch"},
    {"gemma-7b-it",
     "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
     "{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}"
     "{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
     "'<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
     "gemma"},
    {"Orion-14B-Chat",
     "{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}{% if message['role'] == 'user' %}"
     "{{ 'Human: ' + message['content'] + '\\n\\nAssistant: ' + eos_token }}{% elif message['role'] == 'assistant' %}"
     "{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
     "orion"},
    {"openchat-3.5-0106",
     "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title() + ': ' + "
     "message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}{{ 'GPT4 Correct Assistant:' }}"
     "{% endif %}",
     "openchat"},
    {"deepseek-coder-33b-instruct",
     "{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n"
     "        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n"
     "        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n"
     "    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}",
     "deepseek"},
    {"vicuna-13b-1.1",
     "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] + '\n\n' -}}"
     "{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}"
     "{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}",
     "vicuna"},
    {"Orca-Vicuna",
     "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{-'SYSTEM: ' + message['content'] + '\n' -}}"
     "{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}"
     "{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}"
     "{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}",
     "vicuna-orca"},
    {"c4ai-command-r-plus",
     "{{ bos_token }}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + "
     "'<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% if message['role'] == 'user' %}"
     "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}",
     "command-r"},
    {"Llama-3",
     "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
     "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
     "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
     "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
     "llama3"},
    {"Phi-3-mini",
     "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>' + '\n' + "
     "message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['role'] == 'assistant') %}"
     "{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}",
     "phi3"},
    {"ChatGLM3",
     "{% for message in messages %}{% if loop.first %}[gMASK]sop<|{{ message['role'] }}|>\n {{ message['content'] }}"
     "{% else %}<|{{ message['role'] }}|>\n {{ message['content'] }}{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}<|assistant|>{% endif %}",
     "chatglm3"},
    {"ChatGLM4",
     "[gMASK]<sop>{% for item in messages %}{% if item['content'] %}<|{{ item['role'] }}|>{{ item['metadata'] }}\n"
     "{{ item['content'] }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}",
     "chatglm4"},
    {"GLMEdge",
     "{% for item in messages %}{% if item['role'] == 'system' %}<|system|>\n{{ item['content'] }}{% elif item['role'] == "
     "'user' %}<|user|>\n{{ item['content'] }}{% elif item['role'] == 'assistant' %}<|assistant|>\n{{ item['content'] }}"
     "{% endif %}{% endfor %}<|assistant|>",
     "glmedge"},
    {"MiniCPM-3B-OpenHermes-2.5-v2",
     "{% for message in messages %}{% if message['role'] == 'user' %}{{'" USER_CPM "' + message['content'].strip() + "
     "'<AI>'}}{% else %}{{message['content'].strip()}}{% endif %}{% endfor %}",
     "minicpm"},
    {"DeepSeek-V2",
     "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}"
     "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}"
     "{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}"
     "{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}"
     "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
     "deepseek2"},
    {"DeepSeek-R1-Distill",
     "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
     "{{'" USER_DS "' + message['content']}}{{'" ASSISTANT_DS "' + content + '" EOS_DS "'}}"
     "{% if add_generation_prompt and not ns.is_tool %}{{'" ASSISTANT_DS "<think>\\n'}}{% endif %}",
     "deepseek3"},
    {"granite-3.0-8b-instruct",
     "{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n    {{- '<|start_of_role|>system"
     "<|end_of_role|>' + message['content'] + '<|end_of_text|>\n' }}\n    {%- endif %}\n{%- endfor %}",
     "granite"},
    {"Megrez-3B-Instruct",
     "{% for message in messages %}{{ '<|role_start|>' + message['role'] + '<|role_end|>' + message['content'] + "
     "'<|turn_end|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|role_start|>assistant<|role_end|>' }}{% endif %}",
     "megrez"},
    {"phi-4",
     "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + "
     "message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + "
     "message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|>'}}{% elif (message['role'] == 'assistant') %}"
     "{{message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}",
     "phi4"},
    {"TinyLlama-1.1B-Chat-v1.0",
     "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
     "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n"
     "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n"
     "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
     "tinyllama"},
    {"stablelm-zephyr (no <|assistant|> text)",
     "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|endoftext|>\\n' }}"
     "{% endfor %}{% if add_generation_prompt %}{{ '<|user|>' }}{% endif %}",
     "zephyr"},
    {"Llama-4",
     "{{- '<|header_start|>' + message['role'] + '<|header_end|>\\n\\n' }}{{- '<|eot|>' }}", "llama4"},
    {"EXAONE-3.0",
     "{% for message in messages %}{% if message['role'] == 'system' %}{{ '[|system|]' + message['content'] + "
     "'[|endofturn|]\\n' }}{% elif message['role'] == 'user' %}{{ '[|user|]' + message['content'] + '\\n' }}"
     "{% elif message['role'] == 'assistant' %}{{ '[|assistant|]' + message['content'] + '[|endofturn|]\\n' }}{% endif %}"
     "{% endfor %}{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}",
     "exaone3"},
    {"SmolVLM",
     "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}: {{ message['content'] }}"
     "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}",
     "smolvlm"},
    {"a name instead of a template", "llama3", "llama3"},
};

static void real_templates_are_recognised(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof detect_cases / sizeof detect_cases[0]; i++) {
        const detect_case *c = &detect_cases[i];
        elm_chat_format f = ELM_CHAT_UNKNOWN;
        elm_status st = elm_chat_format_detect(c->tmpl, strlen(c->tmpl), &f);
        if (st != ELM_OK || strcmp(elm_chat_format_name(f), c->want) != 0)
            print_error("%s: got %s (%s), want %s\n", c->what, elm_chat_format_name(f), elm_status_name(st), c->want);
        assert_int_equal(st, ELM_OK);
        assert_string_equal(elm_chat_format_name(f), c->want);
    }
}

static void unknown_templates_are_refused_not_guessed(void **state) {
    (void)state;
    elm_chat_format f = ELM_CHAT_LLAMA3;
    const char *plain = "{% for message in messages %}{{ message['content'] }}{% endfor %}";
    assert_int_equal(elm_chat_format_detect(plain, strlen(plain), &f), ELM_ERR_UNSUPPORTED);
    assert_int_equal(f, ELM_CHAT_LLAMA3);   /* untouched */
    assert_non_null(strstr(elm_last_error(), "--template"));
    /* a family llama.cpp knows and we do not render: refused by name */
    const char *kimi = "{%- for m in messages -%}<|im_assistant|>assistant<|im_middle|>{%- endfor -%}";
    assert_int_equal(elm_chat_format_detect(kimi, strlen(kimi), &f), ELM_ERR_UNSUPPORTED);
    assert_non_null(strstr(elm_last_error(), "kimi-k2"));
    const char *exaone4 = "[|system|] [|assistant|] [|endofturn|] [|tool|]";
    assert_int_equal(elm_chat_format_detect(exaone4, strlen(exaone4), &f), ELM_ERR_UNSUPPORTED);
    assert_non_null(strstr(elm_last_error(), "exaone4"));
    assert_int_equal(elm_chat_format_detect("", 0, &f), ELM_ERR_UNSUPPORTED);
    /* the length is honoured: a marker past len does not count */
    const char *cut = "{{ x }}<|im_start|>";
    assert_int_equal(elm_chat_format_detect(cut, 7, &f), ELM_ERR_UNSUPPORTED);
    assert_int_equal(elm_chat_format_detect(cut, strlen(cut), &f), ELM_OK);
    assert_int_equal(f, ELM_CHAT_CHATML);
    assert_int_equal(elm_chat_format_detect(NULL, 0, &f), ELM_ERR_INVALID_ARG);
}

static void gguf_without_template_is_not_found(void **state) {
    (void)state;
    /* stories260K has no tokenizer.chat_template: a base model, run as completion */
    elm_gguf *g = NULL;
    assert_int_equal(elm_gguf_open(elmt_shared("models/stories260K.gguf"), NULL, &g), ELM_OK);
    elm_chat_format f = ELM_CHAT_LLAMA3;
    assert_int_equal(elm_chat_format_of_gguf(g, &f), ELM_ERR_NOT_FOUND);
    assert_int_equal(f, ELM_CHAT_LLAMA3);
    assert_non_null(strstr(elm_last_error(), "chat_template"));
    elm_gguf_close(g);

    /* a file that has one: written here with the GGUF writer */
    const char *dir = elmt_tmpdir();
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/tmpl.gguf", dir);
    elm_gguf_writer *w = NULL;
    assert_int_equal(elm_gguf_writer_create(&w), ELM_OK);
    const char *t = detect_cases[0].tmpl;
    assert_int_equal(elm_gguf_writer_set_string(w, "tokenizer.chat_template", t, strlen(t)), ELM_OK);
    assert_int_equal(elm_gguf_writer_write(w, path), ELM_OK);
    elm_gguf_writer_free(w);
    assert_int_equal(elm_gguf_open(path, NULL, &g), ELM_OK);
    assert_int_equal(elm_chat_format_of_gguf(g, &f), ELM_OK);
    assert_int_equal(f, ELM_CHAT_CHATML);
    elm_gguf_close(g);
    remove(path);
    remove(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_format_renders_the_expected_text),
        cmocka_unit_test(generation_prompt_is_only_added_when_asked),
        cmocka_unit_test(small_buffers_are_never_overrun),
        cmocka_unit_test(bad_arguments_are_errors),
        cmocka_unit_test(real_templates_are_recognised),
        cmocka_unit_test(unknown_templates_are_refused_not_guessed),
        cmocka_unit_test(gguf_without_template_is_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
