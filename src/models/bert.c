/* BERT (Devlin et al. 2018): learned absolute positions and token types, post-LN layers,
 * GELU. Heads: pooler (tanh on [CLS]), sequence classifier on the pooled output, token
 * classifier, QA span logits, masked LM (transform + tied decoder). RoBERTa reuses it. */
#include <stdio.h>
#include <string.h>

#include "models/encoder_impl.h"

static const cf_encoder_layer_names k_bert_layer = {
    .layer = "%sencoder.layer.%d.",
    .q = "attention.self.query", .k = "attention.self.key", .v = "attention.self.value",
    .o = "attention.output.dense", .attn_norm = "attention.output.LayerNorm",
    .up = "intermediate.dense", .down = "output.dense", .ffn_norm = "output.LayerNorm",
};

/* Refuse config values that change the computation in ways this file does not implement. */
static cf_status check_unsupported(const cf_config *cfg, cf_error *err)
{
    const char *pos = cf_config_str(cfg, "position_embedding_type", "absolute");
    if (strcmp(pos, "absolute") != 0)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: position_embedding_type '%s' is not supported (only 'absolute')",
                       cfg->path, pos);
    if (cf_config_bool(cfg, "is_decoder", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: is_decoder = true is not supported (encoder only)", cfg->path);
    if (cf_config_bool(cfg, "add_cross_attention", false))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: add_cross_attention = true is not supported", cfg->path);
    return CF_OK;
}

/* The shapes, body and heads common to BERT and RoBERTa; they differ in position ids,
 * the base prefix and the names of two heads. */
typedef struct bert_like {
    const char *family_prefix; /* "bert." / "roberta." */
    bool roberta;
} bert_like;

static cf_status load_heads(cf_encoder *m, const cf_config *cfg, const bert_like *kind, const char *p,
                            cf_activation act, float eps, cf_error *err)
{
    char name[256];
    switch (m->head) {
    case CF_HEAD_BASE:
        snprintf(name, sizeof name, "%spooler.dense", p);
        return cf_encoder_load_pooler(m, name, CF_ACT_TANH, false, err);
    case CF_HEAD_SEQUENCE_CLASSIFICATION:
        m->n_labels = cf_config_num_labels(cfg);
        if (kind->roberta) {
            CF_TRY(cf_encoder_load_pooler(m, "classifier.dense", CF_ACT_TANH, true, err));
            return cf_encoder_load_classifier(m, "classifier.out_proj", m->n_labels, err);
        }
        snprintf(name, sizeof name, "%spooler.dense", p);
        CF_TRY(cf_encoder_load_pooler(m, name, CF_ACT_TANH, true, err));
        return cf_encoder_load_classifier(m, "classifier", m->n_labels, err);
    case CF_HEAD_TOKEN_CLASSIFICATION:
    case CF_HEAD_QUESTION_ANSWERING: return cf_encoder_load_token_head(m, cfg, err);
    case CF_HEAD_MASKED_LM:
        if (kind->roberta) { /* RobertaLMHead applies gelu whatever hidden_act says */
            const char *bias[] = {"lm_head.bias", "lm_head.decoder.bias", NULL};
            return cf_encoder_load_mlm(m, "lm_head.dense", "lm_head.layer_norm", eps, CF_ACT_GELU,
                                       "lm_head.decoder.weight", bias, err);
        }
        {
            const char *bias[] = {"cls.predictions.bias", "cls.predictions.decoder.bias", NULL};
            return cf_encoder_load_mlm(m, "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm",
                                       eps, act, "cls.predictions.decoder.weight", bias, err);
        }
    }
    return CF_OK;
}

static cf_status load_bert_like(cf_encoder *m, const cf_config *cfg, const bert_like *kind, cf_error *err)
{
    CF_TRY(check_unsupported(cfg, err));
    static const cf_encoder_size_keys keys = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                              "intermediate_size"};
    int64_t positions, types;
    CF_TRY(cf_encoder_read_sizes(m, cfg, &keys, err));
    CF_TRY(cf_config_int_in_or(cfg, "max_position_embeddings", 512, 1, CF_ENCODER_MAX_POSITIONS, &positions, err));
    CF_TRY(cf_config_int_in_or(cfg, "type_vocab_size", 2, 1, CF_ENCODER_MAX_VOCAB, &types, err));
    double eps_read;
    CF_TRY(cf_config_float_checked(cfg, "layer_norm_eps", 1e-12, &eps_read, err));
    float eps = (float)eps_read;
    cf_activation act;
    CF_TRY(cf_activation_parse(cf_config_str(cfg, "hidden_act", "gelu"), "hidden_act", &act, err));

    const char *p = cf_encoder_base_prefix(m->st, kind->family_prefix, "embeddings.word_embeddings.weight");
    if (kind->roberta) {
        m->emb.position_ids = CF_POSITIONS_AFTER_PADDING;
        CF_TRY(cf_config_int_in_or(cfg, "pad_token_id", 1, 0, CF_ENCODER_MAX_VOCAB, &m->emb.padding_idx, err));
        if (m->emb.padding_idx < 0 || m->emb.padding_idx + 1 >= positions)
            return cf_fail(err, CF_ERR_FORMAT, "%s: pad_token_id %lld leaves no positions (max_position_embeddings %lld)",
                           cfg->path, (long long)m->emb.padding_idx, (long long)positions);
    }
    CF_TRY(cf_encoder_load_word_tables(m, p, true, positions, types, eps, err));
    CF_TRY(cf_encoder_load_layers(m, p, &k_bert_layer, act, eps, err));
    return load_heads(m, cfg, kind, p, act, eps, err);
}

cf_status cf_bert_load(cf_encoder *m, const cf_config *cfg, cf_error *err)
{
    static const bert_like kind = {"bert.", false};
    return load_bert_like(m, cfg, &kind, err);
}

/* RoBERTa (Liu et al. 2019) is BERT with position ids counted from padding_idx + 1 and its
 * own classification and LM heads. */
cf_status cf_roberta_load(cf_encoder *m, const cf_config *cfg, cf_error *err)
{
    static const bert_like kind = {"roberta.", true};
    return load_bert_like(m, cfg, &kind, err);
}
