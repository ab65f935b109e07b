/* test_version.c: the version macros, the runtime version and the status texts agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "edgelm.h"

static void version_matches_header(void **state) {
    (void)state;
    assert_string_equal(elm_version(), ELM_VERSION_STRING);
    assert_int_equal(elm_version_number(), ELM_VERSION_NUMBER);
    assert_int_equal(ELM_VERSION_NUMBER, ELM_VERSION_MAJOR * 1000000 + ELM_VERSION_MINOR * 1000 + ELM_VERSION_PATCH);
}

static void every_status_has_a_name_and_text(void **state) {
    (void)state;
    for (int s = ELM_OK; s <= ELM_ERR_INTERNAL; s++) {
        assert_non_null(strstr(elm_status_name((elm_status)s), "ELM_"));
        assert_true(strlen(elm_status_string((elm_status)s)) > 3);
    }
    assert_string_equal(elm_status_name(ELM_ERR_CONTEXT_FULL), "ELM_ERR_CONTEXT_FULL");
    assert_string_equal(elm_status_name((elm_status)999), "ELM_ERR_UNKNOWN");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_matches_header),
        cmocka_unit_test(every_status_has_a_name_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
