#include "nn/ffn.h"

cf_status cf_ffn_load(cf_ffn *f, const cf_safetensors *st, const char *up, const char *down, int64_t hidden,
                      int64_t inner, cf_activation act, cf_error *err)
{
    *f = (cf_ffn){.hidden = hidden, .inner = inner, .act = act};
    cf_status s = cf_linear_load(&f->up, st, up, hidden, inner, true, err);
    if (s == CF_OK)
        s = cf_linear_load(&f->down, st, down, inner, hidden, true, err);
    if (s != CF_OK)
        cf_ffn_free(f);
    return s;
}

void cf_ffn_free(cf_ffn *f)
{
    cf_linear_free(&f->up);
    cf_linear_free(&f->down);
}

size_t cf_ffn_scratch_bytes(const cf_ffn *f, int64_t rows)
{
    size_t bytes = (size_t)rows * (size_t)f->inner * sizeof(float);
    return (bytes + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

void cf_ffn_forward(const cf_ffn *f, const float *x, int64_t rows, float *y, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    float *inner = cf_arena_floats(scratch, (size_t)(rows * f->inner));
    cf_linear_forward_act(&f->up, x, rows, inner, f->act);
    cf_linear_forward(&f->down, inner, rows, y);
    cf_arena_rewind(scratch, mark);
}
