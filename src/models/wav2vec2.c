/* Wav2Vec2 feature encoder, transformer encoder and heads; see wav2vec2.h. */
#include "models/wav2vec2.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/arena.h"
#include "kernels/kernels.h"
#include "nn/activation.h"
#include "nn/conv1d.h"
#include "nn/conv_maps.h"
#include "nn/encoder_layer.h"
#include "nn/linear.h"
#include "nn/norm.h"

#define W2V_MAX_CONV_LAYERS 32

typedef struct conv_layer {
    cf_conv1d conv;
    bool has_norm;
    cf_norm norm; /* LayerNorm over channels ("layer") or the GroupNorm affine ("group", layer 0) */
} conv_layer;

struct cf_wav2vec2 {
    cf_wav2vec2_head head;
    int64_t hidden, vocab, n_labels, proj_size;
    int n_conv, n_layers, n_heads;
    bool group_norm, stable_layer_norm;
    float eps;
    cf_activation conv_act;
    conv_layer conv[W2V_MAX_CONV_LAYERS];
    cf_norm proj_norm;
    cf_linear projection;
    cf_conv1d pos_conv;
    cf_norm enc_norm;
    cf_encoder_layer *layers;
    cf_linear lm_head, projector, classifier;
    cf_safetensors *st;
    cf_arena arena;
};

bool cf_wav2vec2_supports(const cf_config *config)
{
    return !strcmp(cf_config_str(config, "model_type", ""), "wav2vec2");
}

static bool has_architecture(const cf_config *config, const char *name)
{
    const cJSON *archs = cf_config_get(config, "architectures");
    const cJSON *a;
    cJSON_ArrayForEach(a, archs) if (cJSON_IsString(a) && !strcmp(a->valuestring, name)) return true;
    return false;
}

cf_wav2vec2_head cf_wav2vec2_head_from_config(const cf_config *config)
{
    if (has_architecture(config, "Wav2Vec2ForCTC"))
        return CF_WAV2VEC2_CTC;
    if (has_architecture(config, "Wav2Vec2ForSequenceClassification"))
        return CF_WAV2VEC2_CLASSIFICATION;
    return CF_WAV2VEC2_BASE;
}

void cf_wav2vec2_free(cf_wav2vec2 *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_conv; i++) {
        cf_conv1d_free(&m->conv[i].conv);
        cf_norm_free(&m->conv[i].norm);
    }
    cf_norm_free(&m->proj_norm);
    cf_linear_free(&m->projection);
    cf_conv1d_free(&m->pos_conv);
    cf_norm_free(&m->enc_norm);
    for (int i = 0; m->layers && i < m->n_layers; i++)
        cf_encoder_layer_free(&m->layers[i]);
    free(m->layers);
    cf_linear_free(&m->lm_head);
    cf_linear_free(&m->projector);
    cf_linear_free(&m->classifier);
    cf_arena_free(&m->arena);
    cf_st_close(m->st);
    free(m);
}

/* ------------------------------------------------------------------ config ---- */

static cf_status require_int(const cf_config *c, const char *key, int64_t lo, int64_t *out, cf_error *err)
{
    CF_TRY(cf_config_require_int(c, key, out, err));
    if (*out < lo)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" is %lld, must be at least %lld", c->path, key,
                       (long long)*out, (long long)lo);
    return CF_OK;
}

static cf_status reject_unsupported(const cf_config *c, cf_error *err)
{
    if (cf_config_bool(c, "use_weighted_layer_sum", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"use_weighted_layer_sum\": true is not supported", c->path);
    if (cf_config_bool(c, "add_adapter", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: \"add_adapter\": true is not supported", c->path);
    const char *norm = cf_config_str(c, "feat_extract_norm", "group");
    if (strcmp(norm, "group") && strcmp(norm, "layer"))
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"feat_extract_norm\" is \"%s\"; expected \"group\" or \"layer\"",
                       c->path, norm);
    return CF_OK;
}

/* conv_dim / conv_kernel / conv_stride: three arrays of num_feat_extract_layers entries. */
static cf_status read_conv_specs(cf_wav2vec2 *m, const cf_config *c, cf_conv1d_spec *specs, cf_error *err)
{
    static const char *const keys[3] = {"conv_dim", "conv_kernel", "conv_stride"};
    int64_t *arr[3] = {0};
    size_t n[3] = {0};
    cf_status s = CF_OK;
    for (int i = 0; i < 3 && s == CF_OK; i++)
        s = cf_config_int_array(c, keys[i], &arr[i], &n[i], err);
    if (s == CF_OK && (n[0] == 0 || n[0] > W2V_MAX_CONV_LAYERS || n[1] != n[0] || n[2] != n[0]))
        s = cf_fail(err, CF_ERR_FORMAT,
                    "%s: conv_dim, conv_kernel and conv_stride must have the same length (1..%d); got %zu, %zu, %zu",
                    c->path, W2V_MAX_CONV_LAYERS, n[0], n[1], n[2]);
    bool bias = cf_config_bool(c, "conv_bias", false);
    for (size_t i = 0; s == CF_OK && i < n[0]; i++) {
        if (arr[0][i] <= 0 || arr[1][i] <= 0 || arr[2][i] <= 0 || arr[1][i] > 4096 || arr[2][i] > 4096)
            s = cf_fail(err, CF_ERR_FORMAT, "%s: conv layer %zu has dim %lld, kernel %lld, stride %lld", c->path, i,
                        (long long)arr[0][i], (long long)arr[1][i], (long long)arr[2][i]);
        specs[i] = (cf_conv1d_spec){.in_ch = i ? arr[0][i - 1] : 1, .out_ch = arr[0][i], .kernel = (int)arr[1][i],
                                    .stride = (int)arr[2][i], .groups = 1, .has_bias = bias};
    }
    m->n_conv = s == CF_OK ? (int)n[0] : 0;
    for (int i = 0; i < 3; i++)
        free(arr[i]);
    return s;
}

static cf_status read_config(cf_wav2vec2 *m, const cf_config *c, cf_conv1d_spec *conv_specs,
                             cf_conv1d_spec *pos_spec, int64_t *inner, cf_activation *act, cf_error *err)
{
    CF_TRY(reject_unsupported(c, err));
    int64_t layers, heads, pos_k, pos_g;
    CF_TRY(require_int(c, "hidden_size", 1, &m->hidden, err));
    CF_TRY(require_int(c, "num_hidden_layers", 1, &layers, err));
    CF_TRY(require_int(c, "num_attention_heads", 1, &heads, err));
    CF_TRY(require_int(c, "intermediate_size", 1, inner, err));
    CF_TRY(require_int(c, "num_conv_pos_embeddings", 1, &pos_k, err));
    CF_TRY(require_int(c, "num_conv_pos_embedding_groups", 1, &pos_g, err));
    if (layers > 1000 || heads > m->hidden || pos_k > 4096)
        return cf_fail(err, CF_ERR_FORMAT, "%s: implausible sizes (%lld layers, %lld heads, positional kernel %lld)",
                       c->path, (long long)layers, (long long)heads, (long long)pos_k);
    m->n_layers = (int)layers;
    m->n_heads = (int)heads;
    m->eps = (float)cf_config_float(c, "layer_norm_eps", 1e-5);
    m->group_norm = !strcmp(cf_config_str(c, "feat_extract_norm", "group"), "group");
    m->stable_layer_norm = cf_config_bool(c, "do_stable_layer_norm", false);
    CF_TRY(cf_activation_parse(cf_config_str(c, "feat_extract_activation", "gelu"), "feat_extract_activation",
                               &m->conv_act, err));
    CF_TRY(cf_activation_parse(cf_config_str(c, "hidden_act", "gelu"), "hidden_act", act, err));
    CF_TRY(read_conv_specs(m, c, conv_specs, err));
    *pos_spec = (cf_conv1d_spec){.in_ch = m->hidden, .out_ch = m->hidden, .kernel = (int)pos_k,
                                 .stride = 1, .pad = (int)(pos_k / 2), .groups = (int)pos_g, .has_bias = true};
    if (m->head == CF_WAV2VEC2_CTC)
        CF_TRY(require_int(c, "vocab_size", 1, &m->vocab, err));
    if (m->head == CF_WAV2VEC2_CLASSIFICATION) {
        CF_TRY(require_int(c, "classifier_proj_size", 1, &m->proj_size, err));
        m->n_labels = cf_config_num_labels(c);
        if (m->n_labels <= 0)
            return cf_fail(err, CF_ERR_FORMAT, "%s: a sequence classifier needs id2label or num_labels", c->path);
    }
    return CF_OK;
}

/* ----------------------------------------------------------------- weights ---- */

static cf_status load_feature_encoder(cf_wav2vec2 *m, const char *pre, const cf_conv1d_spec *specs, cf_error *err)
{
    char name[512];
    for (int i = 0; i < m->n_conv; i++) {
        conv_layer *l = &m->conv[i];
        snprintf(name, sizeof name, "%sfeature_extractor.conv_layers.%d.conv", pre, i);
        CF_TRY(cf_conv1d_load(&l->conv, m->st, name, &specs[i], err));
        l->has_norm = m->group_norm ? i == 0 : true;
        if (!l->has_norm)
            continue;
        snprintf(name, sizeof name, "%sfeature_extractor.conv_layers.%d.layer_norm", pre, i);
        CF_TRY(cf_norm_load_layer(&l->norm, m->st, name, specs[i].out_ch, 1e-5f, err));
    }
    int64_t feat = specs[m->n_conv - 1].out_ch;
    snprintf(name, sizeof name, "%sfeature_projection.layer_norm", pre);
    CF_TRY(cf_norm_load_layer(&m->proj_norm, m->st, name, feat, m->eps, err));
    snprintf(name, sizeof name, "%sfeature_projection.projection", pre);
    return cf_linear_load(&m->projection, m->st, name, feat, m->hidden, true, err);
}

static cf_status load_layer(cf_wav2vec2 *m, const char *pre, int i, int64_t inner, cf_activation act, cf_error *err)
{
    cf_encoder_layer *l = &m->layers[i];
    l->pre_norm = m->stable_layer_norm;
    char p[5][384];
    static const char *const parts[5] = {"q_proj", "k_proj", "v_proj", "out_proj", ""};
    for (int k = 0; k < 4; k++)
        snprintf(p[k], sizeof p[k], "%sencoder.layers.%d.attention.%s", pre, i, parts[k]);
    CF_TRY(cf_self_attention_load(&l->attn, m->st, p[0], p[1], p[2], p[3], m->hidden, m->n_heads, err));
    snprintf(p[0], sizeof p[0], "%sencoder.layers.%d.layer_norm", pre, i);
    CF_TRY(cf_norm_load_layer(&l->attn_norm, m->st, p[0], m->hidden, m->eps, err));
    snprintf(p[0], sizeof p[0], "%sencoder.layers.%d.feed_forward.intermediate_dense", pre, i);
    snprintf(p[1], sizeof p[1], "%sencoder.layers.%d.feed_forward.output_dense", pre, i);
    CF_TRY(cf_ffn_load(&l->ffn, m->st, p[0], p[1], m->hidden, inner, act, err));
    snprintf(p[0], sizeof p[0], "%sencoder.layers.%d.final_layer_norm", pre, i);
    return cf_norm_load_layer(&l->ffn_norm, m->st, p[0], m->hidden, m->eps, err);
}

static cf_status load_encoder(cf_wav2vec2 *m, const char *pre, const cf_conv1d_spec *pos_spec, int64_t inner,
                              cf_activation act, cf_error *err)
{
    char name[512];
    snprintf(name, sizeof name, "%sencoder.pos_conv_embed.conv", pre);
    CF_TRY(cf_conv1d_load_weight_norm(&m->pos_conv, m->st, name, pos_spec, err));
    snprintf(name, sizeof name, "%sencoder.layer_norm", pre);
    CF_TRY(cf_norm_load_layer(&m->enc_norm, m->st, name, m->hidden, m->eps, err));
    m->layers = calloc((size_t)m->n_layers, sizeof *m->layers);
    if (!m->layers)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for %d encoder layers", m->n_layers);
    for (int i = 0; i < m->n_layers; i++)
        CF_TRY(load_layer(m, pre, i, inner, act, err));
    return CF_OK;
}

static cf_status load_head(cf_wav2vec2 *m, cf_error *err)
{
    if (m->head == CF_WAV2VEC2_CTC)
        return cf_linear_load(&m->lm_head, m->st, "lm_head", m->hidden, m->vocab, true, err);
    if (m->head == CF_WAV2VEC2_CLASSIFICATION) {
        CF_TRY(cf_linear_load(&m->projector, m->st, "projector", m->hidden, m->proj_size, true, err));
        return cf_linear_load(&m->classifier, m->st, "classifier", m->proj_size, m->n_labels, true, err);
    }
    return CF_OK;
}

cf_status cf_wav2vec2_load(const char *dir, const cf_config *config, cf_wav2vec2_head head, cf_wav2vec2 **out,
                           cf_error *err)
{
    *out = NULL;
    cf_wav2vec2 *m = calloc(1, sizeof *m);
    if (!m)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    m->head = head;
    cf_conv1d_spec conv_specs[W2V_MAX_CONV_LAYERS], pos_spec;
    int64_t inner = 0;
    cf_activation act = CF_ACT_GELU;
    cf_status s = read_config(m, config, conv_specs, &pos_spec, &inner, &act, err);
    if (s == CF_OK)
        s = cf_st_open_dir(dir, &m->st, err);
    const char *pre = s == CF_OK && cf_st_find(m->st, "wav2vec2.encoder.layer_norm.weight") ? "wav2vec2." : "";
    if (s == CF_OK)
        s = load_feature_encoder(m, pre, conv_specs, err);
    if (s == CF_OK)
        s = load_encoder(m, pre, &pos_spec, inner, act, err);
    if (s == CF_OK)
        s = load_head(m, err);
    if (s != CF_OK) {
        cf_wav2vec2_free(m);
        return s;
    }
    *out = m;
    return CF_OK;
}

/* ---------------------------------------------------------------- forward ---- */

int64_t cf_wav2vec2_frames(const cf_wav2vec2 *m, int64_t n)
{
    for (int i = 0; i < m->n_conv; i++)
        n = cf_conv1d_out_len(&m->conv[i].conv, n);
    return n;
}

int64_t cf_wav2vec2_inputs_to_logits_ratio(const cf_wav2vec2 *m)
{
    int64_t r = 1;
    for (int i = 0; i < m->n_conv; i++)
        r *= m->conv[i].conv.spec.stride;
    return r;
}

int64_t cf_wav2vec2_logits_cols(const cf_wav2vec2 *m)
{
    return m->head == CF_WAV2VEC2_CTC ? m->vocab : m->head == CF_WAV2VEC2_CLASSIFICATION ? m->n_labels : m->hidden;
}

static size_t aligned(size_t floats) { return (floats * sizeof(float) + CF_ARENA_ALIGN - 1) & ~(size_t)(CF_ARENA_ALIGN - 1); }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Arena bytes for a batch of clips of n samples: the batch's feature, hidden and head buffers,
 * then either one clip's ping-pong conv buffers or the encoder's scratch. */
static size_t arena_bytes(const cf_wav2vec2 *m, int64_t batch, int64_t n)
{
    size_t conv_buf = 0, conv_scratch = 0;
    int64_t len = n;
    for (int i = 0; i < m->n_conv; i++) {
        const cf_conv1d *c = &m->conv[i].conv;
        conv_scratch = max_size(conv_scratch, cf_conv1d_scratch_bytes(c, len));
        len = cf_conv1d_out_len(c, len);
        conv_buf = max_size(conv_buf, aligned((size_t)(len * c->spec.out_ch)));
    }
    int64_t F = len, BF = batch * F, H = m->hidden, C = m->proj_norm.n;
    size_t feats = 2 * aligned((size_t)(BF * C));
    size_t hidden = 2 * aligned((size_t)((BF + 1) * H)) + aligned((size_t)BF);
    size_t head = aligned((size_t)(BF * (m->vocab + m->proj_size + 1) + batch * (m->n_labels + m->proj_size)));
    size_t enc = cf_conv1d_scratch_bytes(&m->pos_conv, F) + aligned((size_t)(F * H));
    if (m->n_layers)
        enc = max_size(enc, cf_encoder_layer_scratch_bytes(&m->layers[0], BF));
    return feats + hidden + head + max_size(2 * conv_buf + conv_scratch, enc) + 16 * CF_ARENA_ALIGN;
}

static cf_status reserve(cf_wav2vec2 *m, int64_t batch, int64_t n, cf_error *err)
{
    size_t need = arena_bytes(m, batch, n);
    if (m->arena.base && m->arena.size >= need)
        return CF_OK;
    cf_arena_free(&m->arena);
    cf_status s = cf_arena_init(&m->arena, need, err);
    if (s != CF_OK)
        return cf_error_prefix(err, "wav2vec2: activations for %lld x %lld samples: ", (long long)batch,
                               (long long)n);
    return CF_OK;
}

static void emit(cf_wav2vec2_tensor_fn fn, void *ctx, const char *name, const float *x, int64_t rows, int64_t cols)
{
    if (fn)
        fn(ctx, name, x, rows, cols);
}

/* One clip's raw samples [n, 1] -> conv features [F, conv_dim[-1]] into feat (the conv buffers
 * are the arena's, released before returning). */
static void feature_encoder(cf_wav2vec2 *m, const float *x, int64_t n, float *feat)
{
    size_t mark = cf_arena_mark(&m->arena);
    int64_t conv_floats = 0, len = n;
    for (int i = 0; i < m->n_conv; i++) {
        len = cf_conv1d_out_len(&m->conv[i].conv, len);
        int64_t f = len * m->conv[i].conv.spec.out_ch;
        conv_floats = f > conv_floats ? f : conv_floats;
    }
    float *a = cf_arena_floats(&m->arena, (size_t)conv_floats), *b = cf_arena_floats(&m->arena, (size_t)conv_floats);
    const float *in = x;
    float *outbuf = a;
    len = n;
    for (int i = 0; i < m->n_conv; i++) {
        const conv_layer *l = &m->conv[i];
        int64_t C = l->conv.spec.out_ch, out_len = cf_conv1d_out_len(&l->conv, len);
        cf_conv1d_forward(&l->conv, in, len, outbuf, &m->arena);
        if (l->has_norm && m->group_norm) /* one group per channel: normalise each over time */
            cf_group_norm(outbuf, 1, out_len, C, (int)C, l->norm.gamma.data, l->norm.beta.data, l->norm.eps);
        else if (l->has_norm)
            cf_layer_norm(outbuf, l->norm.gamma.data, l->norm.beta.data, outbuf, out_len, C, l->norm.eps);
        cf_activation_apply(m->conv_act, outbuf, out_len * C);
        in = outbuf;
        outbuf = outbuf == a ? b : a;
        len = out_len;
    }
    memcpy(feat, in, (size_t)(len * m->proj_norm.n) * sizeof(float));
    cf_arena_rewind(&m->arena, mark);
}

/* x_b += gelu(pos_conv(x_b))[:F] for each clip (the SamePad layer drops the extra step of an even kernel). */
static void add_positions(cf_wav2vec2 *m, float *x, int64_t batch, int64_t F)
{
    size_t mark = cf_arena_mark(&m->arena);
    int64_t H = m->hidden;
    float *pos = cf_arena_floats(&m->arena, (size_t)(F * H));
    for (int64_t b = 0; b < batch; b++) {
        cf_conv1d_forward(&m->pos_conv, x + b * F * H, F, pos, &m->arena);
        cf_activation_apply(CF_ACT_GELU, pos, F * H);
        cf_add(x + b * F * H, pos, F * H);
    }
    cf_arena_rewind(&m->arena, mark);
}

static void encoder(cf_wav2vec2 *m, float *x, int64_t batch, int64_t F, const float *key_mask, float *tmp,
                    cf_wav2vec2_tensor_fn fn, void *ctx)
{
    char name[32];
    int64_t H = m->hidden, BF = batch * F;
    add_positions(m, x, batch, F);
    if (!m->stable_layer_norm) {
        cf_norm_forward(&m->enc_norm, x, tmp, BF);
        memcpy(x, tmp, (size_t)(BF * H) * sizeof(float));
    }
    for (int i = 0; i < m->n_layers; i++) {
        snprintf(name, sizeof name, "hidden_states.%d", i);
        emit(fn, ctx, name, x, BF, H);
        cf_encoder_layer_forward(&m->layers[i], x, batch, F, key_mask, &m->arena);
    }
    if (m->stable_layer_norm) {
        cf_norm_forward(&m->enc_norm, x, tmp, BF);
        memcpy(x, tmp, (size_t)(BF * H) * sizeof(float));
    }
    snprintf(name, sizeof name, "hidden_states.%d", m->n_layers);
    emit(fn, ctx, name, x, BF, H);
}

/* Wav2Vec2ForSequenceClassification: projector, mean over each clip's real frames, classifier. */
static void classify(cf_wav2vec2 *m, const float *x, int64_t batch, int64_t F, const int64_t *frames_valid,
                     float *proj, float *logits)
{
    int64_t P = m->proj_size;
    cf_linear_forward(&m->projector, x, batch * F, proj);
    float *pooled = proj + batch * F * P;
    for (int64_t b = 0; b < batch; b++) {
        int64_t n = frames_valid ? frames_valid[b] : F;
        for (int64_t j = 0; j < P; j++) {
            double sum = 0;
            for (int64_t t = 0; t < n; t++)
                sum += proj[(b * F + t) * P + j];
            pooled[b * P + j] = (float)(sum / (double)n);
        }
    }
    cf_linear_forward(&m->classifier, pooled, batch, logits);
}

/* The attention mask over frames: each clip's real frames (_get_feat_extract_output_lengths). */
static cf_status valid_frames(const cf_wav2vec2 *m, const int64_t *valid, int64_t batch, int64_t n, int64_t *out,
                              cf_error *err)
{
    for (int64_t b = 0; b < batch; b++) {
        if (valid[b] < 0 || valid[b] > n)
            return cf_fail(err, CF_ERR_INVALID_ARG, "wav2vec2: clip %lld has %lld real samples, the batch is %lld wide",
                           (long long)b, (long long)valid[b], (long long)n);
        out[b] = cf_wav2vec2_frames(m, valid[b]);
        if (out[b] <= 0)
            return cf_fail(err, CF_ERR_INVALID_ARG, "wav2vec2: clip %lld (%lld samples) is shorter than the feature "
                           "encoder's receptive field", (long long)b, (long long)valid[b]);
    }
    return CF_OK;
}

/* Padded frames: hidden state zeroed, key hidden (finfo(float32).min, as transformers adds). */
static void apply_mask(const cf_wav2vec2 *m, float *x, float *key_mask, int64_t batch, int64_t F,
                       const int64_t *frames_valid)
{
    int64_t H = m->hidden;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t t = 0; t < F; t++) {
            bool pad = t >= frames_valid[b];
            key_mask[b * F + t] = pad ? -FLT_MAX : 0.0f;
            if (pad)
                memset(x + (b * F + t) * H, 0, (size_t)H * sizeof(float));
        }
}

static void run_head(cf_wav2vec2 *m, const float *x, int64_t batch, int64_t F, const int64_t *frames_valid,
                     cf_wav2vec2_output *out)
{
    int64_t BF = batch * F;
    *out = (cf_wav2vec2_output){.logits = x, .rows = BF, .cols = m->hidden, .frames = F};
    if (m->head == CF_WAV2VEC2_CTC) {
        float *logits = cf_arena_floats(&m->arena, (size_t)(BF * m->vocab));
        cf_linear_forward(&m->lm_head, x, BF, logits);
        *out = (cf_wav2vec2_output){.logits = logits, .rows = BF, .cols = m->vocab, .frames = F};
    } else if (m->head == CF_WAV2VEC2_CLASSIFICATION) {
        float *proj = cf_arena_floats(&m->arena, (size_t)((BF + batch) * m->proj_size));
        float *logits = cf_arena_floats(&m->arena, (size_t)(batch * m->n_labels));
        classify(m, x, batch, F, frames_valid, proj, logits);
        *out = (cf_wav2vec2_output){.logits = logits, .rows = batch, .cols = m->n_labels, .frames = F};
    }
}

cf_status cf_wav2vec2_forward_batch(cf_wav2vec2 *m, const float *input_values, int64_t batch, int64_t n,
                                    const int64_t *valid, cf_wav2vec2_tensor_fn fn, void *ctx,
                                    cf_wav2vec2_output *out, cf_error *err)
{
    int64_t F = cf_wav2vec2_frames(m, n);
    if (batch <= 0 || F <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG,
                       "wav2vec2: a clip of %lld samples is shorter than the feature encoder's receptive field",
                       (long long)n);
    int64_t *frames_valid = valid ? malloc((size_t)batch * sizeof *frames_valid) : NULL;
    if (valid && !frames_valid)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    cf_status st = valid ? valid_frames(m, valid, batch, n, frames_valid, err) : CF_OK;
    if (st == CF_OK)
        st = reserve(m, batch, n, err);
    if (st != CF_OK) {
        free(frames_valid);
        return st;
    }
    cf_arena_reset(&m->arena);
    int64_t BF = batch * F, H = m->hidden, C = m->proj_norm.n;
    float *feat = cf_arena_floats(&m->arena, (size_t)(BF * C)), *normed = cf_arena_floats(&m->arena, (size_t)(BF * C));
    float *x = cf_arena_floats(&m->arena, (size_t)((BF + 1) * H)), *tmp = cf_arena_floats(&m->arena, (size_t)((BF + 1) * H));
    float *key_mask = cf_arena_floats(&m->arena, (size_t)BF);
    for (int64_t b = 0; b < batch; b++)
        feature_encoder(m, input_values + b * n, n, feat + b * F * C);
    cf_norm_forward(&m->proj_norm, feat, normed, BF);
    emit(fn, ctx, "extract_features", feat, BF, C);
    cf_linear_forward(&m->projection, normed, BF, x);
    if (valid)
        apply_mask(m, x, key_mask, batch, F, frames_valid);
    encoder(m, x, batch, F, valid ? key_mask : NULL, tmp, fn, ctx);
    run_head(m, x, batch, F, frames_valid, out);
    if (m->head != CF_WAV2VEC2_BASE)
        emit(fn, ctx, "logits", out->logits, out->rows, out->cols);
    free(frames_valid);
    return CF_OK;
}

cf_status cf_wav2vec2_forward(cf_wav2vec2 *m, const float *input_values, int64_t n, cf_wav2vec2_tensor_fn fn,
                              void *ctx, cf_wav2vec2_output *out, cf_error *err)
{
    return cf_wav2vec2_forward_batch(m, input_values, 1, n, NULL, fn, ctx, out, err);
}
