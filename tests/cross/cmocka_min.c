/* cmocka_min.c: the part of cmocka's runtime our suites use, for cross builds only.
 *
 * Debian ships cmocka for the host architecture alone and never as a static library, so
 * `make test-neon` builds this file into build-aarch64/cmocka/libcmocka.a and links the
 * static aarch64 test binaries against it. It is compiled against the host's <cmocka.h>
 * (the header is architecture independent), so test sources need no change. It gives
 * the runner, the assert_* checks, fail(), skip() and print_message(); a suite that needs
 * mocking (will_return, expect_*) fails to link here, loudly, rather than silently passing.
 *
 * Output follows cmocka's default format, and the exit status is the number of failed
 * tests, as with cmocka.
 * Must not: be linked into native builds (they use the real libcmocka).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Where a failing check jumps back to: the test that is running. */
static jmp_buf run_env;
static int running;

/* cmocka exports these for expect_assert_failure(); nothing here uses them. */
int global_expecting_assert;
jmp_buf global_expect_assert_env;
const char *global_last_failed_assert;

void vprint_message(const char *const format, va_list args) {
    vprintf(format, args);
    fflush(stdout);
}

void vprint_error(const char *const format, va_list args) {
    vfprintf(stderr, format, args);
    fflush(stderr);
}

void print_message(const char *const format, ...) {
    va_list ap;
    va_start(ap, format);
    vprint_message(format, ap);
    va_end(ap);
}

void print_error(const char *const format, ...) {
    va_list ap;
    va_start(ap, format);
    vprint_error(format, ap);
    va_end(ap);
}

/* A failed check: report where, then leave the test (or the program, outside a test). */
static void fail_here(const char *file, int line) {
    print_error("%s:%d: error: Failure!\n", file, line);
    if (running) longjmp(run_env, 1);
    exit(1);
}

void _fail(const char *const file, const int line) {
    fail_here(file, line);
}

/* Skipping is not allowed in this project's suites: a skip counts as a failure. */
void _skip(const char *const file, const int line) {
    print_error("%s:%d: error: test skipped (skips count as failures here)\n", file, line);
    fail_here(file, line);
}

void _assert_true(const LargestIntegralType result, const char *const expression, const char *const file,
                  const int line) {
    if (!result) {
        print_error("%s\n", expression);
        fail_here(file, line);
    }
}

void _assert_return_code(const LargestIntegralType result, size_t rlen, const LargestIntegralType error,
                         const char *const expression, const char *const file, const int line) {
    /* result is negative when its sign bit (of rlen bytes) is set */
    const LargestIntegralType sign = (LargestIntegralType)1 << (rlen * 8 - 1);
    if (rlen > 0 && rlen <= sizeof result && (result & sign)) {
        print_error("%s < 0, errno(%ju): %s\n", expression, (uintmax_t)error, strerror((int)error));
        fail_here(file, line);
    }
}

void _assert_float_equal(const float a, const float b, const float epsilon, const char *const file,
                         const int line) {
    const float diff = a > b ? a - b : b - a;
    if (!(diff <= epsilon)) {
        print_error("%f != %f\n", (double)a, (double)b);
        fail_here(file, line);
    }
}

void _assert_float_not_equal(const float a, const float b, const float epsilon, const char *const file,
                             const int line) {
    const float diff = a > b ? a - b : b - a;
    if (diff <= epsilon) {
        print_error("%f == %f\n", (double)a, (double)b);
        fail_here(file, line);
    }
}

void _assert_int_equal(const LargestIntegralType a, const LargestIntegralType b, const char *const file,
                       const int line) {
    if (a != b) {
        print_error("%ju (%#jx) != %ju (%#jx)\n", (uintmax_t)a, (uintmax_t)a, (uintmax_t)b, (uintmax_t)b);
        fail_here(file, line);
    }
}

void _assert_int_not_equal(const LargestIntegralType a, const LargestIntegralType b, const char *const file,
                           const int line) {
    if (a == b) {
        print_error("%ju (%#jx) == %ju (%#jx)\n", (uintmax_t)a, (uintmax_t)a, (uintmax_t)b, (uintmax_t)b);
        fail_here(file, line);
    }
}

void _assert_string_equal(const char *const a, const char *const b, const char *const file, const int line) {
    if (!a || !b ? a != b : strcmp(a, b) != 0) {
        print_error("\"%s\" != \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
        fail_here(file, line);
    }
}

void _assert_string_not_equal(const char *const a, const char *const b, const char *file, const int line) {
    if (!a || !b ? a == b : strcmp(a, b) == 0) {
        print_error("\"%s\" == \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
        fail_here(file, line);
    }
}

void _assert_memory_equal(const void *const a, const void *const b, const size_t size, const char *const file,
                          const int line) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < size; i++) {
        if (x[i] != y[i]) {
            print_error("difference at byte %zu: 0x%02x != 0x%02x (of %zu bytes)\n", i, x[i], y[i], size);
            fail_here(file, line);
        }
    }
}

void _assert_memory_not_equal(const void *const a, const void *const b, const size_t size,
                              const char *const file, const int line) {
    if (memcmp(a, b, size) == 0) {
        print_error("%zu bytes of %p and %p are the same\n", size, a, b);
        fail_here(file, line);
    }
}

void _assert_in_range(const LargestIntegralType value, const LargestIntegralType minimum,
                      const LargestIntegralType maximum, const char *const file, const int line) {
    if (value < minimum || value > maximum) {
        print_error("%ju is not within the range [%ju, %ju]\n", (uintmax_t)value, (uintmax_t)minimum,
                    (uintmax_t)maximum);
        fail_here(file, line);
    }
}

void _assert_not_in_range(const LargestIntegralType value, const LargestIntegralType minimum,
                          const LargestIntegralType maximum, const char *const file, const int line) {
    if (value >= minimum && value <= maximum) {
        print_error("%ju is within the range [%ju, %ju]\n", (uintmax_t)value, (uintmax_t)minimum,
                    (uintmax_t)maximum);
        fail_here(file, line);
    }
}

void _assert_in_set(const LargestIntegralType value, const LargestIntegralType values[],
                    const size_t number_of_values, const char *const file, const int line) {
    for (size_t i = 0; i < number_of_values; i++)
        if (values[i] == value) return;
    print_error("%ju is not within the set\n", (uintmax_t)value);
    fail_here(file, line);
}

void _assert_not_in_set(const LargestIntegralType value, const LargestIntegralType values[],
                        const size_t number_of_values, const char *const file, const int line) {
    for (size_t i = 0; i < number_of_values; i++) {
        if (values[i] == value) {
            print_error("%ju is in the set\n", (uintmax_t)value);
            fail_here(file, line);
        }
    }
}

/* Under UNIT_TESTING cmocka checks allocations; here they go straight to libc. */
void *_test_malloc(const size_t size, const char *file, const int line) {
    (void)file, (void)line;
    return malloc(size);
}

void *_test_calloc(const size_t number_of_elements, const size_t size, const char *file, const int line) {
    (void)file, (void)line;
    return calloc(number_of_elements, size);
}

void *_test_realloc(void *ptr, const size_t size, const char *file, const int line) {
    (void)file, (void)line;
    return realloc(ptr, size);
}

void _test_free(void *const ptr, const char *file, const int line) {
    (void)file, (void)line;
    free(ptr);
}

void cmocka_set_message_output(enum cm_message_output output) {
    (void)output;
}

void cmocka_set_test_filter(const char *pattern) {
    (void)pattern;
}

void cmocka_set_skip_filter(const char *pattern) {
    (void)pattern;
}

/* Runs f(state) and returns 0, or 1 if a check failed inside it. The volatile keeps the
 * result well defined across the longjmp. */
static int run_protected(void (*f)(void **), int (*fixture)(void **), void **state) {
    volatile int failed = 0;
    running = 1;
    if (setjmp(run_env) == 0) {
        if (f) f(state);
        else if (fixture && fixture(state) != 0) failed = 1;
    } else {
        failed = 1;
    }
    running = 0;
    return failed;
}

int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *const tests, const size_t num_tests,
                            CMFixtureFunction group_setup, CMFixtureFunction group_teardown) {
    void *group_state = NULL;
    size_t failed = 0, passed = 0;
    const char **failed_names = calloc(num_tests ? num_tests : 1, sizeof *failed_names);

    print_message("[==========] Running %zu test(s).\n", num_tests);
    if (group_setup && run_protected(NULL, group_setup, &group_state)) {
        print_error("[  ERROR   ] %s: group setup failed\n", group_name);
        free(failed_names);
        return num_tests ? (int)num_tests : 1;
    }
    for (size_t i = 0; i < num_tests; i++) {
        const struct CMUnitTest *t = &tests[i];
        void *state = t->initial_state ? t->initial_state : group_state;
        print_message("[ RUN      ] %s\n", t->name);
        int bad = t->setup_func ? run_protected(NULL, t->setup_func, &state) : 0;
        if (!bad) bad = run_protected(t->test_func, NULL, &state);
        if (t->teardown_func && run_protected(NULL, t->teardown_func, &state)) bad = 1;
        if (bad) {
            print_message("[  FAILED  ] %s\n", t->name);
            if (failed_names) failed_names[failed] = t->name;
            failed++;
        } else {
            print_message("[       OK ] %s\n", t->name);
            passed++;
        }
    }
    if (group_teardown && run_protected(NULL, group_teardown, &group_state)) {
        print_error("[  ERROR   ] %s: group teardown failed\n", group_name);
        failed++;
    }
    print_message("[==========] %zu test(s) run.\n", num_tests);
    print_message("[  PASSED  ] %zu test(s).\n", passed);
    if (failed) {
        print_message("[  FAILED  ] %zu test(s), listed below:\n", failed);
        for (size_t i = 0; failed_names && i < failed && i < num_tests; i++)
            if (failed_names[i]) print_message("[  FAILED  ] %s\n", failed_names[i]);
        print_message("\n %zu FAILED TEST(S)\n", failed);
    }
    free(failed_names);
    return (int)failed;
}
