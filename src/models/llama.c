/* Llama (Touvron et al. 2023): RMSNorm pre-norm blocks, rotary positions (rotate-half), grouped-
 * query attention with num_key_value_heads, SiLU-gated MLP, tied or separate LM head. */
#include "models/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "kernels/kernels.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/norm.h"
#include "nn/rope.h"
#include "nn/weights.h"

typedef struct llama_layer {
    cf_norm input_norm, post_norm;
    cf_linear q, k, v, o, gate, up, down;
} llama_layer;

struct cf_llama {
    int64_t d, n_heads, n_kv_heads, head_dim, n_layers, inner, vocab, max_positions;
    float eps;
    cf_activation act;
    cf_rope rope;
    cf_weight embed;
    cf_norm norm;
    cf_linear lm_head;
    llama_layer *layers;
    cf_safetensors *st;  /* HF folders */
    float *owned_blob;   /* llama2.c checkpoints: every tensor, converted */
};

static void llama_free(void *p)
{
    cf_llama *m = p;
    if (!m)
        return;
    for (int64_t l = 0; m->layers && l < m->n_layers; l++) {
        llama_layer *y = &m->layers[l];
        cf_norm_free(&y->input_norm);
        cf_norm_free(&y->post_norm);
        cf_linear *lin[] = {&y->q, &y->k, &y->v, &y->o, &y->gate, &y->up, &y->down};
        for (size_t i = 0; i < sizeof lin / sizeof *lin; i++)
            cf_linear_free(lin[i]);
    }
    free(m->layers);
    cf_norm_free(&m->norm);
    cf_linear_free(&m->lm_head);
    cf_weight_free(&m->embed);
    cf_st_close(m->st);
    free(m->owned_blob);
    free(m);
}

static size_t llama_scratch_floats(const void *p, int64_t rows)
{
    const cf_llama *m = p;
    int64_t q_dim = m->n_heads * m->head_dim, kv_dim = m->n_kv_heads * m->head_dim;
    /* x, h, attention out, projection; q, k, v; gate, up */
    return (size_t)rows * (size_t)(3 * m->d + (q_dim > m->d ? q_dim : m->d) + q_dim + 2 * kv_dim + 2 * m->inner) +
           64;
}

static void attention_block(const cf_llama *m, const llama_layer *y, int layer, const cf_causal_batch *b,
                            const float *h, float *q, float *k, float *v, float *attn)
{
    int64_t R = b->n_seqs * b->T, q_dim = m->n_heads * m->head_dim, kv_dim = m->n_kv_heads * m->head_dim;
    cf_linear_forward(&y->q, h, R, q);
    cf_linear_forward(&y->k, h, R, k);
    cf_linear_forward(&y->v, h, R, v);
    int64_t attended = b->kv->len + b->T;
    cf_rope_apply(&m->rope, q, R, q_dim, (int)m->n_heads, b->pos, attended);
    cf_rope_apply(&m->rope, k, R, kv_dim, (int)m->n_kv_heads, b->pos, attended);
    cf_kv_attend_args aa = {.layer = layer, .n_seqs = b->n_seqs, .T = b->T, .seqs = b->seqs, .q = q, .k = k,
                            .v = v, .q_stride = q_dim, .kv_stride = kv_dim, .n_heads = (int)m->n_heads,
                            .n_kv_heads = (int)m->n_kv_heads, .head_dim = (int)m->head_dim,
                            .scale = 1.0f / sqrtf((float)m->head_dim), .out = attn, .out_stride = q_dim};
    cf_kv_attend(b->kv, &aa);
}

static void gated_mlp(const cf_llama *m, const llama_layer *y, int64_t R, const float *h, float *gate, float *up,
                      float *out)
{
    cf_linear_forward_act(&y->gate, h, R, gate, m->act);
    cf_linear_forward(&y->up, h, R, up);
    cf_mul(gate, up, R * m->inner);
    cf_linear_forward(&y->down, gate, R, out);
}

static void llama_forward(const void *p, const cf_causal_batch *b)
{
    const cf_llama *m = p;
    int64_t R = b->n_seqs * b->T, d = m->d, q_dim = m->n_heads * m->head_dim,
            kv_dim = m->n_kv_heads * m->head_dim, wide = q_dim > d ? q_dim : d;
    float *x = b->scratch, *h = x + R * d, *proj = h + R * d, *attn = proj + R * d, *q = attn + R * wide,
          *k = q + R * q_dim, *v = k + R * kv_dim, *gate = v + R * kv_dim, *up = gate + R * m->inner;
    cf_embedding_gather(m->embed.data, d, b->ids, R, x);
    if (b->on_hidden)
        b->on_hidden(b->on_hidden_ctx, 0, x, R, d);
    for (int64_t l = 0; l < m->n_layers; l++) {
        const llama_layer *y = &m->layers[l];
        cf_norm_forward(&y->input_norm, x, h, R);
        attention_block(m, y, (int)l, b, h, q, k, v, attn);
        cf_linear_forward(&y->o, attn, R, proj);
        cf_add(x, proj, R * d);
        cf_norm_forward(&y->post_norm, x, h, R);
        gated_mlp(m, y, R, h, gate, up, proj);
        cf_add(x, proj, R * d);
        if (b->on_hidden && l + 1 < m->n_layers)
            b->on_hidden(b->on_hidden_ctx, (int)l + 1, x, R, d);
    }
    if (b->all_positions) {
        cf_norm_forward(&m->norm, x, h, R);
        if (b->on_hidden)
            b->on_hidden(b->on_hidden_ctx, (int)m->n_layers, h, R, d);
        cf_linear_forward(&m->lm_head, h, R, b->logits);
        return;
    }
    for (int64_t s = 0; s < b->n_seqs; s++)
        cf_norm_forward(&m->norm, x + ((s + 1) * b->T - 1) * d, h + s * d, 1);
    cf_linear_forward(&m->lm_head, h, b->n_seqs, b->logits);
}

/* ------------------------------------------------------------------- config ---- */

static cf_status read_rope_scaling(cf_llama *m, const cf_config *c, double theta, cf_error *err)
{
    const cJSON *rs = cf_config_get(c, "rope_scaling");
    cf_rope_scaling kind = CF_ROPE_PLAIN;
    double factor = 1.0;
    if (rs && !cJSON_IsNull(rs)) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "type");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(rs, "factor");
        if (!cJSON_IsObject(rs) || !cJSON_IsString(type) || !cJSON_IsNumber(f))
            return cf_fail(err, CF_ERR_FORMAT,
                           "%s: \"rope_scaling\" must be an object with \"type\" and a numeric \"factor\"", c->path);
        if (!strcmp(type->valuestring, "linear"))
            kind = CF_ROPE_LINEAR;
        else if (!strcmp(type->valuestring, "dynamic"))
            kind = CF_ROPE_DYNAMIC;
        else
            return cf_fail(err, CF_ERR_UNSUPPORTED,
                           "%s: \"rope_scaling.type\" \"%s\" is not supported (supported: linear, dynamic)", c->path,
                           type->valuestring);
        factor = f->valuedouble;
        if (!(factor > 1.0))
            return cf_fail(err, CF_ERR_INVALID_ARG, "%s: \"rope_scaling.factor\" is %g, must be > 1", c->path, factor);
    }
    cf_status s = cf_rope_init(&m->rope, (int)m->head_dim, theta, kind, factor, m->max_positions, err);
    return s == CF_OK ? CF_OK : cf_error_prefix(err, "%s: ", c->path);
}

static cf_status check_sizes(const cf_llama *m, const char *where, cf_error *err)
{
    if (m->d <= 0 || m->n_heads <= 0 || m->d % m->n_heads || m->n_kv_heads <= 0 || m->n_heads % m->n_kv_heads ||
        m->n_layers <= 0 || m->n_layers > 1000 || m->inner <= 0 || m->vocab <= 0 || m->max_positions <= 0)
        return cf_fail(err, CF_ERR_FORMAT,
                       "%s: inconsistent sizes: hidden_size %lld, num_attention_heads %lld (must divide it), "
                       "num_key_value_heads %lld (must divide the heads), num_hidden_layers %lld, "
                       "intermediate_size %lld, vocab_size %lld, max_position_embeddings %lld",
                       where, (long long)m->d, (long long)m->n_heads, (long long)m->n_kv_heads,
                       (long long)m->n_layers, (long long)m->inner, (long long)m->vocab, (long long)m->max_positions);
    return CF_OK;
}

static cf_status read_config(cf_llama *m, const cf_config *c, bool *attention_bias, cf_error *err)
{
    CF_TRY(cf_config_require_int(c, "hidden_size", &m->d, err));
    CF_TRY(cf_config_require_int(c, "num_attention_heads", &m->n_heads, err));
    CF_TRY(cf_config_require_int(c, "num_hidden_layers", &m->n_layers, err));
    CF_TRY(cf_config_require_int(c, "intermediate_size", &m->inner, err));
    CF_TRY(cf_config_require_int(c, "vocab_size", &m->vocab, err));
    CF_TRY(cf_config_int_in_or(c, "num_key_value_heads", m->n_heads, 1, 1 << 16, &m->n_kv_heads, err));
    CF_TRY(cf_config_int_in_or(c, "max_position_embeddings", 2048, 1, (int64_t)1 << 24, &m->max_positions, err));
    double eps;
    CF_TRY(cf_config_float_checked(c, "rms_norm_eps", 1e-6, &eps, err));
    m->eps = (float)eps;
    CF_TRY(check_sizes(m, c->path, err));
    m->head_dim = m->d / m->n_heads;
    if (cf_config_has(c, "head_dim") && cf_config_int(c, "head_dim", m->head_dim) != m->head_dim)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"head_dim\" other than hidden_size / num_attention_heads is "
                       "not supported", c->path);
    *attention_bias = cf_config_bool(c, "attention_bias", false);
    CF_TRY(cf_activation_parse(cf_config_str(c, "hidden_act", "silu"), "hidden_act", &m->act, err));
    return read_rope_scaling(m, c, cf_config_float(c, "rope_theta", 10000.0), err);
}

/* ------------------------------------------------------------- HF weights ---- */

static cf_status load_layer(cf_llama *m, int64_t l, bool bias, cf_error *err)
{
    llama_layer *y = &m->layers[l];
    char name[256];
    int64_t q_dim = m->n_heads * m->head_dim, kv_dim = m->n_kv_heads * m->head_dim;
#define NAME(suffix) (snprintf(name, sizeof name, "model.layers.%lld.%s", (long long)l, suffix), name)
    CF_TRY(cf_norm_load_rms(&y->input_norm, m->st, NAME("input_layernorm"), m->d, m->eps, err));
    CF_TRY(cf_norm_load_rms(&y->post_norm, m->st, NAME("post_attention_layernorm"), m->d, m->eps, err));
    CF_TRY(cf_linear_load(&y->q, m->st, NAME("self_attn.q_proj"), m->d, q_dim, bias, err));
    CF_TRY(cf_linear_load(&y->k, m->st, NAME("self_attn.k_proj"), m->d, kv_dim, bias, err));
    CF_TRY(cf_linear_load(&y->v, m->st, NAME("self_attn.v_proj"), m->d, kv_dim, bias, err));
    CF_TRY(cf_linear_load(&y->o, m->st, NAME("self_attn.o_proj"), q_dim, m->d, bias, err));
    CF_TRY(cf_linear_load(&y->gate, m->st, NAME("mlp.gate_proj"), m->d, m->inner, false, err));
    CF_TRY(cf_linear_load(&y->up, m->st, NAME("mlp.up_proj"), m->d, m->inner, false, err));
    CF_TRY(cf_linear_load(&y->down, m->st, NAME("mlp.down_proj"), m->inner, m->d, false, err));
#undef NAME
    return CF_OK;
}

static cf_status load_hf_weights(cf_llama *m, const char *dir, bool bias, bool tied, cf_error *err)
{
    CF_TRY(cf_st_open_dir(dir, &m->st, err));
    CF_TRY(cf_weight_load(&m->embed, m->st, "model.embed_tokens.weight", 2, (int64_t[]){m->vocab, m->d}, err));
    CF_TRY(cf_norm_load_rms(&m->norm, m->st, "model.norm", m->d, m->eps, err));
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (int64_t l = 0; l < m->n_layers; l++)
        CF_TRY(load_layer(m, l, bias, err));
    if (tied) {
        return cf_linear_init_view_packed(&m->lm_head, m->embed.data, NULL, m->d, m->vocab, err);
    }
    if (!cf_st_find(m->st, "lm_head.weight"))
        return cf_fail(err, CF_ERR_NOT_FOUND, "%s: no tensor \"lm_head.weight\" and config.json has "
                       "\"tie_word_embeddings\": false", dir);
    return cf_linear_load(&m->lm_head, m->st, "lm_head", m->d, m->vocab, false, err);
}

static cf_causal_arch llama_arch(const cf_llama *m)
{
    return (cf_causal_arch){.name = "llama", .n_layers = (int)m->n_layers, .hidden = m->d,
                            .kv_dim = m->n_kv_heads * m->head_dim, .vocab = m->vocab,
                            .max_positions = m->max_positions, .scratch_floats = llama_scratch_floats,
                            .forward = llama_forward};
}

/* A loader's last step: on success out owns m, else m is freed and the error passed on. */
static cf_status hand_over(cf_llama *m, cf_status s, cf_causal_lm *out)
{
    if (s != CF_OK) {
        llama_free(m);
        return s;
    }
    out->weights = m;
    out->free_weights = llama_free;
    out->arch = llama_arch(m);
    return CF_OK;
}

cf_status cf_llama_load(const cf_config *config, const char *dir, cf_causal_lm *out, cf_error *err)
{
    cf_llama *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    bool bias = false;
    cf_status s = read_config(m, config, &bias, err);
    if (s == CF_OK)
        s = load_hf_weights(m, dir, bias, cf_config_bool(config, "tie_word_embeddings", false), err);
    return hand_over(m, s, out);
}

/* ----------------------------------------------------------- llama2.c files ---- */

typedef struct llama2c_header {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} llama2c_header;

/* Floats a checkpoint with this header holds (without the classifier when shared). */
static int64_t llama2c_floats(const llama2c_header *h, bool shared)
{
    int64_t d = h->dim, hd = h->dim / h->n_heads, kv = (int64_t)h->n_kv_heads * hd, L = h->n_layers;
    int64_t v = h->vocab_size < 0 ? -(int64_t)h->vocab_size : h->vocab_size;
    int64_t per_layer = 2 * d + d * d + 2 * kv * d + d * d + 3 * d * h->hidden_dim;
    return v * d + L * per_layer + d + (int64_t)h->seq_len * hd + (shared ? 0 : v * d);
}

/* Bounds keep llama2c_floats far from int64 overflow (and exclude nonsense headers). */
static bool llama2c_header_valid(const llama2c_header *h)
{
    return h->dim > 0 && h->dim <= (1 << 20) && h->hidden_dim > 0 && h->hidden_dim <= (1 << 22) && h->n_layers > 0 &&
           h->n_layers <= 1000 && h->n_heads > 0 && h->dim % h->n_heads == 0 && h->n_kv_heads > 0 &&
           h->n_heads % h->n_kv_heads == 0 && h->vocab_size != 0 && h->vocab_size >= -(1 << 24) &&
           h->vocab_size <= (1 << 24) && h->seq_len > 0 && h->seq_len <= (1 << 24) && (h->dim / h->n_heads) % 2 == 0;
}

static bool llama2c_header_fits(const llama2c_header *h, uint64_t file_size)
{
    return llama2c_header_valid(h) &&
           file_size == sizeof *h + (uint64_t)llama2c_floats(h, h->vocab_size > 0) * sizeof(float);
}

static bool read_llama2c_header(FILE *f, llama2c_header *h, long *size)
{
    if (fread(h, sizeof *h, 1, f) != 1 || fseek(f, 0, SEEK_END) != 0)
        return false;
    *size = ftell(f);
    return *size >= 0 && llama2c_header_fits(h, (uint64_t)*size);
}

cf_status cf_llama2c_check_header(const uint8_t *data, size_t len, uint64_t file_size, const char *name,
                                  cf_error *err)
{
    llama2c_header h;
    if (!data || len < sizeof h)
        return cf_fail(err, CF_ERR_FORMAT, "%s: %zu bytes, too short for a llama2.c checkpoint header (7 int32)",
                       name, data ? len : 0);
    memcpy(&h, data, sizeof h);
    if (!llama2c_header_fits(&h, file_size))
        return cf_fail(err, CF_ERR_FORMAT, "%s: not a llama2.c checkpoint (header dim %d, hidden_dim %d, layers %d, "
                       "heads %d/%d, vocab %d, seq_len %d, or a file size of %llu bytes that does not match it)",
                       name, h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len,
                       (unsigned long long)file_size);
    return CF_OK;
}

cf_status cf_llama2c_config(const char *path, cf_config *cfg, cf_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "%s: cannot open", path);
    uint8_t head[sizeof(llama2c_header)];
    size_t got = fread(head, 1, sizeof head, f);
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    CF_TRY(cf_llama2c_check_header(head, got, size < 0 ? 0 : (uint64_t)size, path, err));
    llama2c_header h;
    memcpy(&h, head, sizeof h);
    char json[768];
    int n = snprintf(json, sizeof json,
                     "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": %d, "
                     "\"intermediate_size\": %d, \"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
                     "\"num_key_value_heads\": %d, \"vocab_size\": %d, \"max_position_embeddings\": %d, "
                     "\"rms_norm_eps\": 1e-05, \"tie_word_embeddings\": %s, \"bos_token_id\": 1, "
                     "\"eos_token_id\": 2}",
                     h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, abs(h.vocab_size), h.seq_len,
                     h.vocab_size > 0 ? "true" : "false");
    CF_TRY(cf_config_parse(cfg, json, (size_t)n, path, err));
    return CF_OK;
}

bool cf_llama2c_sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    llama2c_header h;
    long size;
    bool ok = read_llama2c_header(f, &h, &size);
    fclose(f);
    return ok;
}

/* llama2.c rotates adjacent pairs (2i, 2i+1); rotate-half pairs (i, i + hd/2). Reorder each
 * head's output rows so the same rotation applies (transformers' conversion permute). */
static void permute_rotary_rows(float *w, int64_t n_heads, int64_t hd, int64_t cols, float *tmp)
{
    for (int64_t h = 0; h < n_heads; h++) {
        float *head = w + h * hd * cols;
        for (int64_t r = 0; r < hd; r++) {
            int64_t pair = r / 2, half = r % 2;
            memcpy(tmp + (half * (hd / 2) + pair) * cols, head + r * cols, (size_t)cols * sizeof *w);
        }
        memcpy(head, tmp, (size_t)(hd * cols) * sizeof *w);
    }
}

static cf_linear view_linear(float *w, int64_t n_in, int64_t n_out)
{
    return (cf_linear){.n_in = n_in, .n_out = n_out, .w = w};
}

static cf_norm view_rms(const float *gamma, int64_t n)
{
    return (cf_norm){.n = n, .eps = 1e-5f, .rms = true, .gamma = {.data = gamma}};
}

/* Lay the blob's tensors (in run.c's order, each stacked over layers) onto the model. */
static void map_llama2c(cf_llama *m, float *p, bool shared, float *tmp)
{
    int64_t d = m->d, hd = m->head_dim, q_dim = m->n_heads * hd, kv = m->n_kv_heads * hd, L = m->n_layers,
            f = m->inner;
    m->embed.data = p;
    float *tok = p;
    p += m->vocab * d;
    for (int64_t l = 0; l < L; l++)
        m->layers[l].input_norm = view_rms(p + l * d, d);
    p += L * d;
    for (int64_t l = 0; l < L; l++, p += q_dim * d) {
        permute_rotary_rows(p, m->n_heads, hd, d, tmp);
        m->layers[l].q = view_linear(p, d, q_dim);
    }
    for (int64_t l = 0; l < L; l++, p += kv * d) {
        permute_rotary_rows(p, m->n_kv_heads, hd, d, tmp);
        m->layers[l].k = view_linear(p, d, kv);
    }
    for (int64_t l = 0; l < L; l++, p += kv * d)
        m->layers[l].v = view_linear(p, d, kv);
    for (int64_t l = 0; l < L; l++, p += d * q_dim)
        m->layers[l].o = view_linear(p, q_dim, d);
    for (int64_t l = 0; l < L; l++)
        m->layers[l].post_norm = view_rms(p + l * d, d);
    p += L * d;
    for (int64_t l = 0; l < L; l++, p += f * d)
        m->layers[l].gate = view_linear(p, d, f);
    for (int64_t l = 0; l < L; l++, p += d * f)
        m->layers[l].down = view_linear(p, f, d);
    for (int64_t l = 0; l < L; l++, p += f * d)
        m->layers[l].up = view_linear(p, d, f);
    m->norm = view_rms(p, d);
    p += d + m->max_positions * hd; /* skip the precomputed rotary tables */
    m->lm_head = view_linear(shared ? tok : p, d, m->vocab);
}

static cf_status llama2c_read(const char *path, cf_llama *m, bool *shared, cf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "%s: cannot open", path);
    llama2c_header h;
    long size = 0;
    if (!read_llama2c_header(f, &h, &size)) {
        fclose(f);
        return cf_fail(err, CF_ERR_FORMAT, "%s: not a llama2.c checkpoint (header dim %d, hidden_dim %d, layers %d, "
                       "heads %d/%d, vocab %d, seq_len %d, or a file size of %ld bytes that does not match it)",
                       path, h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len, size);
    }
    *shared = h.vocab_size > 0;
    m->d = h.dim;
    m->inner = h.hidden_dim;
    m->n_layers = h.n_layers;
    m->n_heads = h.n_heads;
    m->n_kv_heads = h.n_kv_heads;
    m->vocab = h.vocab_size < 0 ? -(int64_t)h.vocab_size : h.vocab_size;
    m->max_positions = h.seq_len;
    m->head_dim = h.dim / h.n_heads;
    m->eps = 1e-5f;
    m->act = CF_ACT_SILU;
    size_t n = (size_t)(size - (long)sizeof h) / sizeof(float);
    m->owned_blob = malloc(n * sizeof(float));
    bool ok = m->owned_blob && fseek(f, (long)sizeof h, SEEK_SET) == 0 && fread(m->owned_blob, sizeof(float), n, f) == n;
    fclose(f);
    if (!ok)
        return cf_fail(err, m->owned_blob ? CF_ERR_IO : CF_ERR_NOMEM, "%s: cannot read %zu weights", path, n);
    return CF_OK;
}

cf_status cf_llama_load_llama2c(const char *path, cf_causal_lm *out, cf_error *err)
{
    cf_llama *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    bool shared = true;
    cf_status s = llama2c_read(path, m, &shared, err);
    if (s == CF_OK)
        s = cf_rope_init(&m->rope, (int)m->head_dim, 10000.0, CF_ROPE_PLAIN, 1.0, m->max_positions, err);
    float *tmp = NULL;
    if (s == CF_OK) {
        m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
        tmp = malloc((size_t)(m->head_dim * m->d) * sizeof *tmp);
        if (!m->layers || !tmp)
            s = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    if (s == CF_OK)
        map_llama2c(m, m->owned_blob, shared, tmp);
    free(tmp);
    return hand_over(m, s, out);
}
