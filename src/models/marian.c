/* MarianMT (Junczys-Dowmunt et al. 2018, the OPUS-MT models): the BART layout with computed
 * sinusoidal positions, no LayerNorm on the embeddings, embeddings scaled by sqrt(d_model),
 * and a decoder that starts from (and never emits) the pad token. The decoder may have its
 * own vocabulary when share_encoder_decoder_embeddings is false. */
#include "models/bart.h"

cf_status cf_marian_load(const char *dir, const cf_config *config, cf_seq2seq *m, cf_error *err)
{
    cf_bart_spec spec = {.name = "marian", .positions = CF_BART_POS_SINUSOIDAL, .layernorm_embedding = false};
    CF_TRY(cf_bart_read_config(config, &spec, m, err));
    spec.shared_embeddings = cf_config_bool(config, "share_encoder_decoder_embeddings", true);
    if (!spec.shared_embeddings && cf_config_has(config, "decoder_vocab_size")) {
        CF_TRY(cf_config_require_int(config, "decoder_vocab_size", &spec.dec_vocab, err));
        if (spec.dec_vocab <= 0 || spec.dec_vocab > (1 << 24))
            return cf_fail(err, CF_ERR_FORMAT, "%s: \"decoder_vocab_size\" is %lld", config->path,
                           (long long)spec.dec_vocab);
    }
    if (m->pad_id < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: Marian needs \"pad_token_id\" (its decoder start token)",
                       config->path);
    if (m->decoder_start_id < 0)
        m->decoder_start_id = m->pad_id;
    m->beam_mask_pad = true;
    cf_safetensors *st;
    CF_TRY(cf_st_open_dir(dir, &st, err));
    return cf_bart_layout_load(st, true, &spec, m, err);
}
