/* DistilBERT (Sanh et al. 2019): BERT without token types or pooler, its own weight names,
 * LayerNorm eps 1e-12. Sequence classification goes through pre_classifier + ReLU. */
#include <stdio.h>

#include "models/encoder_impl.h"

static const cf_encoder_layer_names k_distilbert_layer = {
    .layer = "%stransformer.layer.%d.",
    .q = "attention.q_lin", .k = "attention.k_lin", .v = "attention.v_lin", .o = "attention.out_lin",
    .attn_norm = "sa_layer_norm", .up = "ffn.lin1", .down = "ffn.lin2", .ffn_norm = "output_layer_norm",
};

static const float k_eps = 1e-12f; /* nn.LayerNorm(eps=1e-12) throughout the DistilBERT code */

static cf_status load_heads(cf_encoder *m, const cf_config *cfg, cf_activation act, cf_error *err)
{
    switch (m->head) {
    case CF_HEAD_BASE: return CF_OK;
    case CF_HEAD_SEQUENCE_CLASSIFICATION:
        m->n_labels = cf_config_num_labels(cfg);
        CF_TRY(cf_encoder_load_pooler(m, "pre_classifier", CF_ACT_RELU, true, err));
        return cf_encoder_load_classifier(m, "classifier", m->n_labels, err);
    case CF_HEAD_TOKEN_CLASSIFICATION:
    case CF_HEAD_QUESTION_ANSWERING: return cf_encoder_load_token_head(m, cfg, err);
    case CF_HEAD_MASKED_LM: {
        const char *bias[] = {"vocab_projector.bias", NULL};
        return cf_encoder_load_mlm(m, "vocab_transform", "vocab_layer_norm", k_eps, act, "vocab_projector.weight",
                                   bias, err);
    }
    }
    return CF_OK;
}

cf_status cf_distilbert_load(cf_encoder *m, const cf_config *cfg, cf_error *err)
{
    static const cf_encoder_size_keys keys = {"dim", "n_layers", "n_heads", "hidden_dim"};
    int64_t positions;
    CF_TRY(cf_encoder_read_sizes(m, cfg, &keys, err));
    CF_TRY(cf_config_int_in_or(cfg, "max_position_embeddings", 512, 1, CF_ENCODER_MAX_POSITIONS, &positions, err));
    cf_activation act;
    CF_TRY(cf_activation_parse(cf_config_str(cfg, "activation", "gelu"), "activation", &act, err));
    /* sinusoidal_pos_embds only changes how the table is initialised; it is stored either way. */
    const char *p = cf_encoder_base_prefix(m->st, "distilbert.", "embeddings.word_embeddings.weight");
    CF_TRY(cf_encoder_load_word_tables(m, p, false, positions, 0, k_eps, err));
    CF_TRY(cf_encoder_load_layers(m, p, &k_distilbert_layer, act, k_eps, err));
    return load_heads(m, cfg, act, err);
}
