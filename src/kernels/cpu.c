/* Runtime CPU feature detection and the forced-ISA switch used by tests and benchmarks. */
#include <stdatomic.h>

#include "kernels/dispatch.h"

static atomic_int g_forced_isa = -1;

cf_isa cf_cpu_best_isa(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static atomic_int best = -1;
    int b = atomic_load(&best);
    if (b >= 0)
        return (cf_isa)b;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("fma"))
        b = CF_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        b = CF_ISA_AVX2;
    else
        b = CF_ISA_PORTABLE;
    atomic_store(&best, b);
    return (cf_isa)b;
#else
    return CF_ISA_PORTABLE;
#endif
}

bool cf_cpu_has_avx512_bf16_vnni(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static atomic_int has = -1;
    int h = atomic_load(&has);
    if (h < 0) {
        __builtin_cpu_init();
        h = cf_cpu_best_isa() == CF_ISA_AVX512 && __builtin_cpu_supports("avx512bf16") &&
            __builtin_cpu_supports("avx512vnni");
        atomic_store(&has, h);
    }
    return h;
#else
    return false;
#endif
}

cf_isa cf_kernels_isa(void)
{
    int f = atomic_load(&g_forced_isa);
    return f >= 0 ? (cf_isa)f : cf_cpu_best_isa();
}

cf_isa cf_kernels_force_isa(cf_isa isa)
{
    cf_isa best = cf_cpu_best_isa();
    cf_isa use = isa > best ? best : isa;
    atomic_store(&g_forced_isa, (int)use);
    return use;
}

const char *cf_isa_name(cf_isa isa)
{
    switch (isa) {
    case CF_ISA_AVX512:
        return "avx512";
    case CF_ISA_AVX2:
        return "avx2";
    default:
        return "portable";
    }
}
