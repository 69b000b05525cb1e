#include "nn/encoder_layer.h"

#include "kernels/kernels.h"

void cf_encoder_layer_free(cf_encoder_layer *l)
{
    cf_self_attention_free(&l->attn);
    cf_norm_free(&l->attn_norm);
    cf_ffn_free(&l->ffn);
    cf_norm_free(&l->ffn_norm);
}

static size_t rows_bytes(int64_t rows, int64_t n)
{
    size_t b = (size_t)rows * (size_t)n * sizeof(float);
    return (b + CF_ARENA_ALIGN - 1) / CF_ARENA_ALIGN * CF_ARENA_ALIGN;
}

size_t cf_encoder_layer_scratch_bytes(const cf_encoder_layer *l, int64_t tokens)
{
    size_t own = 2 * rows_bytes(tokens, l->attn.hidden);
    size_t a = cf_self_attention_scratch_bytes(&l->attn, tokens);
    size_t f = cf_ffn_scratch_bytes(&l->ffn, tokens);
    return own + (a > f ? a : f);
}

/* x = norm(x + sub): the residual sum goes to tmp, the norm back into x. */
static void add_and_norm(const cf_norm *norm, float *x, float *sub, int64_t tokens)
{
    if (!norm->rms) { /* one pass: the sum row is normed while it is in L1 */
        cf_residual_layer_norm(sub, x, norm->gamma.data, norm->beta.data, x, tokens, norm->n, norm->eps);
        return;
    }
    cf_add(sub, x, tokens * norm->n);
    cf_norm_forward(norm, sub, x, tokens);
}

void cf_encoder_layer_forward(const cf_encoder_layer *l, float *x, int64_t batch, int64_t seq,
                              const float *key_mask, cf_arena *scratch)
{
    size_t mark = cf_arena_mark(scratch);
    int64_t tokens = batch * seq, h = l->attn.hidden;
    float *sub = cf_arena_floats(scratch, (size_t)(tokens * h));
    float *normed = cf_arena_floats(scratch, (size_t)(tokens * h));
    if (l->pre_norm) {
        cf_norm_forward(&l->attn_norm, x, normed, tokens);
        cf_self_attention_forward(&l->attn, normed, batch, seq, key_mask, sub, scratch);
        cf_add(x, sub, tokens * h);
        cf_norm_forward(&l->ffn_norm, x, normed, tokens);
        cf_ffn_forward(&l->ffn, normed, tokens, sub, scratch);
        cf_add(x, sub, tokens * h);
    } else {
        cf_self_attention_forward(&l->attn, x, batch, seq, key_mask, sub, scratch);
        add_and_norm(&l->attn_norm, x, sub, tokens);
        cf_ffn_forward(&l->ffn, x, tokens, sub, scratch);
        add_and_norm(&l->ffn_norm, x, sub, tokens);
    }
    cf_arena_rewind(scratch, mark);
}
