/* dispatch.c: the ops table (one row of kernels per type, per instruction set), CPU feature
 * detection, and the choice of the active instruction set.
 *
 * The table is built once (pthread_once) on first use: the scalar row from ref.h, then for
 * each ISA compiled into this build and present on this CPU a copy of the row below it
 * (avx512 starts from avx2, neon_dotprod from neon, the others from scalar) that the ISA's
 * elmk_fill_ops_<isa>() overwrites where it has something faster. The active ISA is the
 * best available unless EDGELM_ISA names another one; elmk_set_isa can change it later.
 * Must not: call a kernel, print (warnings go through elmi_log), or allocate.
 */
#include "kernels.h"
#include "ref.h"
#include "error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

/* ==== CPU detection ====================================================================== */

static elmk_cpu_features cpu;

#if defined(__x86_64__)
/* XCR0: which register states the OS saves on context switch. AVX needs SSE+AVX state
 * (bits 1, 2); AVX-512 also needs opmask and the upper zmm halves (bits 5, 6, 7). Without
 * the OS's support the instructions fault even when cpuid lists them. */
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return (uint64_t)edx << 32 | eax;
}

static void detect_cpu(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
    const bool fma = c & (1u << 12), f16c = c & (1u << 29);
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = read_xcr0();
    const bool os_avx = (xcr0 & 0x6) == 0x6;
    const bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;
    if (!os_avx) return;

    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    cpu.fma = fma;
    cpu.f16c = f16c;
    cpu.avx2 = b & (1u << 5);
    cpu.bmi2 = b & (1u << 8);
    if (os_avx512) {
        cpu.avx512f = b & (1u << 16);
        cpu.avx512dq = b & (1u << 17);
        cpu.avx512bw = b & (1u << 30);
        cpu.avx512vl = b & (1u << 31);
        cpu.avx512vnni = c & (1u << 11);
    }
    const unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        cpu.avx_vnni = a & (1u << 4);
    }
}
#elif defined(__aarch64__)
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1ul << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
static void detect_cpu(void) {
    const unsigned long hw = getauxval(AT_HWCAP);
    cpu.neon = hw & HWCAP_ASIMD;
    cpu.fp16 = hw & HWCAP_ASIMDHP;
    cpu.dotprod = hw & HWCAP_ASIMDDP;
}
#else
static void detect_cpu(void) {}
#endif

/* ==== The table ========================================================================== */

static const char *const isa_names[ELMK_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon", "neon_dotprod"};

static elmk_type_ops tables[ELMK_ISA_COUNT][ELM_TYPE_COUNT];
static bool available[ELMK_ISA_COUNT];
static atomic_int active = ELMK_ISA_SCALAR;
/* Two onces: the fill functions run inside init() and may ask elmk_cpu() what the CPU
 * has, which must not wait on init's own once. */
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* A weight type (q: its activation quantizer when it is itself an activation type). */
#define OPS(T, vdt, name, q) \
    [ELM_TYPE_##T] = {ELM_TYPE_##vdt, elmk_##name##_to_float_ref, elmk_##name##_from_float_ref, q, \
                      elmk_##name##_vec_dot_ref, NULL, 0, 0}
#define ACT_OPS(T, name, q) \
    [ELM_TYPE_##T] = {ELM_TYPE_##T, elmk_##name##_to_float_ref, elmk_##name##_from_float_ref, q, NULL, NULL, 0, 0}

/* Types without an entry (to_float == NULL) cannot be computed with. Activations are
 * quantized as llama.cpp's x86 build does: Q8_0/Q8_1 with its SIMD formula, Q8_K, F16 and
 * BF16 with the reference (round to nearest even). */
static const elmk_type_ops scalar_ops[ELM_TYPE_COUNT] = {
    OPS(F32, F32, f32, elmk_f32_from_float_ref),    OPS(F16, F16, f16, elmk_f16_from_float_ref),
    OPS(BF16, BF16, bf16, elmk_bf16_from_float_ref),
    OPS(Q4_0, Q8_0, q4_0, NULL),  OPS(Q4_1, Q8_1, q4_1, NULL),  OPS(Q5_0, Q8_0, q5_0, NULL),
    OPS(Q5_1, Q8_1, q5_1, NULL),  OPS(Q8_0, Q8_0, q8_0, elmk_q8_0_quantize_ref),
    ACT_OPS(Q8_1, q8_1, elmk_q8_1_quantize_ref),
    OPS(Q2_K, Q8_K, q2_K, NULL),  OPS(Q3_K, Q8_K, q3_K, NULL),  OPS(Q4_K, Q8_K, q4_K, NULL),
    OPS(Q5_K, Q8_K, q5_K, NULL),  OPS(Q6_K, Q8_K, q6_K, NULL),
    ACT_OPS(Q8_K, q8_K, elmk_q8_K_from_float_ref),
};

static bool isa_supported(elmk_isa isa) {
    switch (isa) {
    case ELMK_ISA_SCALAR: return true;
#if defined(__x86_64__)
    case ELMK_ISA_AVX2: return cpu.avx2 && cpu.fma && cpu.f16c && cpu.bmi2;
    case ELMK_ISA_AVX512:
        return isa_supported(ELMK_ISA_AVX2) && cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq;
#elif defined(__aarch64__)
    case ELMK_ISA_NEON: return cpu.neon;
    /* the dotprod files are built for armv8.2-a+dotprod+fp16, so both must be there */
    case ELMK_ISA_NEON_DOTPROD: return cpu.neon && cpu.dotprod && cpu.fp16;
#endif
    default: return false;
    }
}

static void build_row(elmk_isa isa, elmk_isa base, void (*fill)(elmk_type_ops *)) {
    if (!isa_supported(isa)) return;
    memcpy(tables[isa], tables[base], sizeof tables[isa]);
    fill(tables[isa]);
    available[isa] = true;
}

#if defined(__x86_64__)
#include "fill_x86.h"
#include "packed.h"
/* The kernels with llama.cpp's exact arithmetic come last, so they override whatever the
 * ISA files installed: F32/F16/BF16 everywhere, and the packed kernels of every type but
 * Q4_0 (whose packed kernels already have its one-float arithmetic). The AVX2 packed
 * kernels of those types do not have the 8 float lanes yet: AVX2 uses its (exact) dot
 * products for them. */
static void fill_avx2(elmk_type_ops *t) {
    elmk_fill_ops_avx2(t);
    elmk_fill_float_exact_avx2(t);
    static const uint32_t lanes8[] = {ELM_TYPE_Q8_0, ELM_TYPE_Q5_0, ELM_TYPE_Q4_1, ELM_TYPE_Q5_1, ELM_TYPE_Q2_K,
                                      ELM_TYPE_Q3_K, ELM_TYPE_Q4_K, ELM_TYPE_Q5_K, ELM_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof lanes8 / sizeof lanes8[0]; i++) elmk_packed_register(ELMK_ISA_AVX2, lanes8[i], NULL);
}
static void fill_avx512(elmk_type_ops *t) {
    elmk_fill_ops_avx512(t);
    elmk_fill_float_exact_avx512(t);
    if (__builtin_cpu_supports("avx512vnni")) elmk_fill_packed_exact_avx512();
}
#endif

static elmk_isa best_isa(void) {
    for (int i = ELMK_ISA_COUNT - 1; i > 0; i--)
        if (available[i]) return (elmk_isa)i;
    return ELMK_ISA_SCALAR;
}

static void init(void) {
    pthread_once(&cpu_once, detect_cpu);
    memcpy(tables[ELMK_ISA_SCALAR], scalar_ops, sizeof scalar_ops);
    available[ELMK_ISA_SCALAR] = true;
#if defined(__x86_64__)
    build_row(ELMK_ISA_AVX2, ELMK_ISA_SCALAR, fill_avx2);
    if (available[ELMK_ISA_AVX2]) build_row(ELMK_ISA_AVX512, ELMK_ISA_AVX2, fill_avx512);
#elif defined(__aarch64__)
    build_row(ELMK_ISA_NEON, ELMK_ISA_SCALAR, elmk_fill_ops_neon);
    if (available[ELMK_ISA_NEON]) build_row(ELMK_ISA_NEON_DOTPROD, ELMK_ISA_NEON, elmk_fill_ops_neon_dotprod);
#endif

    elmk_isa choice = best_isa();
    const char *env = getenv("EDGELM_ISA");
    if (env && *env) {
        int want = -1;
        for (int i = 0; i < ELMK_ISA_COUNT; i++)
            if (strcmp(env, isa_names[i]) == 0) want = i;
        if (want < 0)
            elmi_log(ELM_LOG_WARN, "EDGELM_ISA=%s is not one of scalar, avx2, avx512, neon, neon_dotprod; using %s",
                     env, isa_names[choice]);
        else if (!available[want])
            elmi_log(ELM_LOG_WARN, "EDGELM_ISA=%s is not available on this CPU or build; using %s", env,
                     isa_names[choice]);
        else
            choice = (elmk_isa)want;
    }
    atomic_store(&active, (int)choice);
}

static inline void ensure_init(void) { pthread_once(&init_once, init); }

/* ==== Public (internal API) ============================================================== */

const elmk_cpu_features *elmk_cpu(void) {
    pthread_once(&cpu_once, detect_cpu);
    return &cpu;
}

const char *elmk_isa_name(elmk_isa isa) {
    if ((unsigned)isa >= ELMK_ISA_COUNT) return "unknown";
    return isa_names[isa];
}

bool elmk_isa_available(elmk_isa isa) {
    ensure_init();
    return (unsigned)isa < ELMK_ISA_COUNT && available[isa];
}

elmk_isa elmk_active_isa(void) {
    ensure_init();
    return (elmk_isa)atomic_load(&active);
}

bool elmk_set_isa(elmk_isa isa) {
    if (!elmk_isa_available(isa)) return false;
    atomic_store(&active, (int)isa);
    return true;
}

const elmk_type_ops *elmk_get_ops_isa(uint32_t type, elmk_isa isa) {
    if (type >= ELM_TYPE_COUNT || !elmk_isa_available(isa)) return NULL;
    const elmk_type_ops *ops = &tables[isa][type];
    return ops->to_float ? ops : NULL;
}

const elmk_type_ops *elmk_get_ops(uint32_t type) {
    return elmk_get_ops_isa(type, elmk_active_isa());
}
