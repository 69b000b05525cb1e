#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/tensor.h"

Test(error, fail_formats_and_returns_status)
{
    cf_error err = {0};
    cf_status st = cf_fail(&err, CF_ERR_SHAPE, "tensor '%s' has shape %s", "w", "[2,3]");
    cr_assert_eq(st, CF_ERR_SHAPE);
    cr_assert_eq(err.status, CF_ERR_SHAPE);
    cr_assert_str_eq(err.message, "tensor 'w' has shape [2,3]");
    cf_error_prefix(&err, "%s: ", "model.safetensors");
    cr_assert_str_eq(err.message, "model.safetensors: tensor 'w' has shape [2,3]");
}

Test(tensor, dtype_names_round_trip)
{
    for (int i = 0; i < CF_DTYPE_COUNT; i++) {
        cf_dtype d;
        cr_assert(cf_dtype_from_name(cf_dtype_name((cf_dtype)i), &d));
        cr_assert_eq(d, (cf_dtype)i);
    }
    cf_dtype d;
    cr_assert_not(cf_dtype_from_name("F31", &d));
}

Test(tensor, bf16_rounds_to_nearest_even)
{
    /* 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even mantissa (1.0). */
    cr_assert_eq(cf_f32_to_bf16(1.0f + 1.0f / 256), cf_f32_to_bf16(1.0f));
    cr_assert_eq(cf_bf16_to_f32(cf_f32_to_bf16(3.140625f)), 3.140625f);
    cr_assert(isnan(cf_bf16_to_f32(cf_f32_to_bf16(NAN))));
}

Test(tensor, f16_conversions_cover_ranges)
{
    float samples[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f};
    for (size_t i = 0; i < sizeof samples / sizeof *samples; i++)
        cr_assert_eq(cf_f16_to_f32(cf_f32_to_f16(samples[i])), samples[i], "value %g", samples[i]);
    cr_assert(isinf(cf_f16_to_f32(cf_f32_to_f16(1e6f))));
}

Test(arena, aligned_slices_and_overflow)
{
    cf_arena a;
    cf_error err = {0};
    cr_assert_eq(cf_arena_init(&a, 1000, &err), CF_OK);
    void *p = cf_arena_alloc(&a, 10);
    void *q = cf_arena_alloc(&a, 10);
    cr_assert_not_null(p);
    cr_assert_eq(((uintptr_t)q) % CF_ARENA_ALIGN, 0);
    cr_assert_null(cf_arena_alloc(&a, 5000));
    size_t m = cf_arena_mark(&a);
    cr_assert_not_null(cf_arena_alloc(&a, 100));
    cf_arena_rewind(&a, m);
    cr_assert_eq(a.used, m);
    cf_arena_free(&a);
}

Test(arena, measuring_counts_bytes)
{
    cf_arena a;
    cf_arena_init_measuring(&a);
    cf_arena_alloc(&a, 10);
    cf_arena_alloc(&a, 100);
    cr_assert_eq(a.high_water, 64 + 100);
}

/* The data of a buffer is a string as soon as it exists: reserving without appending gives "". */
Test(buf, reserve_alone_leaves_a_string)
{
    cf_buf b = {0};
    cr_assert(cf_buf_reserve(&b, 100));
    cr_assert_not_null(b.data);
    cr_assert_eq(b.data[0], '\0');
    char *s = cf_buf_steal(&b);
    cr_assert_str_eq(s, "");
    free(s);
}

Test(buf, printf_appends)
{
    cf_buf b = {0};
    cr_assert(cf_buf_printf(&b, "%d-%s", 42, "x"));
    cr_assert(cf_buf_puts(&b, "!"));
    cr_assert_str_eq(b.data, "42-x!");
    cf_buf_free(&b);
}
