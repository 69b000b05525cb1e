/* Encoder-decoder transformers (BART, Marian, T5, Whisper) behind the cf_lm interface of models/lm.h.
 *
 * An architecture supplies four calls: encode one input, project the cross-attention keys and
 * values of an encoder output, and run the decoder over a batch of row blocks against the
 * self-attention KV cache. This file does the rest: it encodes each input once, keeps one
 * cross-attention block per input that all of that input's beams read, prefills the decoder
 * prompt once per input and spreads it to the copies, and reorders caches between steps. */
#ifndef CF_MODELS_SEQ2SEQ_H
#define CF_MODELS_SEQ2SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "io/config.h"
#include "models/lm.h"
#include "nn/kv_cache.h"

/* Sees named intermediate tensors as transformers names them: "encoder_hidden_states.<i>",
 * "decoder_hidden_states.<i>" (0 = the embeddings as the first layer sees them). */
typedef void (*cf_seq2seq_tensor_fn)(void *ctx, const char *name, const float *data, int64_t rows, int64_t cols);

/* One decoder forward: n_seqs row blocks of T new tokens. */
typedef struct cf_seq2seq_batch {
    int64_t n_seqs, T;
    const int64_t *seqs;        /* [n_seqs] cache sequence of each row block */
    const int64_t *ids;         /* [n_seqs * T] */
    const float *const *cross;  /* [n_seqs] the cross-attention block each row block reads */
    const int64_t *enc_lens;    /* [n_seqs] encoder rows behind each block */
    cf_kv_cache *kv;            /* new keys/values at kv->len .. kv->len + T */
    float *logits;              /* [n_seqs, V] at each block's last row, [n_seqs*T, V] when all_positions;
                                   NULL: no output projection */
    bool all_positions;
    float *last_hidden;         /* optional [n_seqs*T, hidden]: the decoder's output */
    cf_seq2seq_tensor_fn fn;
    void *ctx;
} cf_seq2seq_batch;

typedef struct cf_seq2seq_arch {
    const char *name;
    int dec_layers;
    int64_t hidden, enc_vocab, dec_vocab;
    int64_t max_source, max_target;     /* longest encoder input / decoder history (0 = no limit) */
    size_t (*cross_floats)(const void *w, int64_t enc_len);     /* one input's cross-attention block */
    size_t (*encode_bytes)(const void *w, int64_t enc_len);      /* arena for encode (output excluded) */
    size_t (*decode_bytes)(const void *w, int64_t rows);         /* arena for decode */
    /* out [len, hidden] = encoder(ids) */
    void (*encode)(const void *w, const int64_t *ids, int64_t len, float *out, cf_arena *a, cf_seq2seq_tensor_fn fn,
                   void *ctx);
    void (*project_cross)(const void *w, const float *enc, int64_t len, float *cross);
    void (*decode)(const void *w, const cf_seq2seq_batch *b, cf_arena *a);
    /* Optional. kv_dim: self-attention key/value width per position when it is not `hidden`
     * (T5: n_heads * d_kv); 0 = hidden. decode_bytes_len: replaces decode_bytes when the arena
     * also grows with the longest decoder history max_len (T5's position bias spans the cache). */
    int64_t kv_dim;
    size_t (*decode_bytes_len)(const void *w, int64_t rows, int64_t max_len);
    /* Optional: an encoder over features instead of token ids (Whisper's log-mel window). Each
     * input is [features_shape[0], features_shape[1]] and always encodes to max_source rows;
     * encode is then unused. */
    int64_t features_shape[2];
    void (*encode_features)(const void *w, const float *features, float *out, cf_arena *a, cf_seq2seq_tensor_fn fn,
                            void *ctx);
    const char *max_target_key; /* the config key behind max_target, for messages (NULL: max_position_embeddings) */
} cf_seq2seq_arch;

/* A loaded encoder-decoder: its architecture, weights and generation facts. */
typedef struct cf_seq2seq {
    cf_seq2seq_arch arch;
    void *weights;
    void (*free_weights)(void *weights);
    int64_t pad_id, eos_id, decoder_start_id; /* config.json; -1 when unset */
    bool beam_mask_pad; /* beam search never scores pad (transformers' Marian adjust_logits_during_generation) */
} cf_seq2seq;

/* Is config.json an encoder-decoder text model this layer runs (model_type bart, marian)? */
bool cf_seq2seq_supports(const cf_config *config);
/* Load the conditional-generation model from a folder (config.json + safetensors). */
cf_status cf_seq2seq_load(const char *dir, const cf_config *config, cf_seq2seq **out, cf_error *err);
void cf_seq2seq_free(cf_seq2seq *m);

/* The generation interface: encoder input = token ids (+ mask, right padding) per input. */
cf_lm cf_seq2seq_as_lm(const cf_seq2seq *m);

/* Teacher-forced forward of one input: encoder over enc_ids[enc_len], decoder over
 * dec_ids[dec_len] from position 0. logits [dec_len, V] and last_hidden [dec_len, hidden] are
 * optional; fn sees the hidden states. For tests, tools and classification heads. */
cf_status cf_seq2seq_forward(const cf_seq2seq *m, const int64_t *enc_ids, int64_t enc_len, const int64_t *dec_ids,
                             int64_t dec_len, float *logits, float *last_hidden, cf_seq2seq_tensor_fn fn, void *ctx,
                             cf_error *err);

/* Decoder half of cf_seq2seq_forward against an encoder output enc [enc_len, hidden]. */
cf_status cf_seq2seq_decode_full(const cf_seq2seq *m, const float *enc, int64_t enc_len, const int64_t *dec_ids,
                                 int64_t dec_len, float *logits, float *last_hidden, cf_seq2seq_tensor_fn fn,
                                 void *ctx, cf_error *err);

/* fn(ctx, "<prefix>.<i>", x, rows, cols) when fn is set. */
void cf_seq2seq_emit(cf_seq2seq_tensor_fn fn, void *ctx, const char *prefix, int i, const float *x, int64_t rows,
                     int64_t cols);

/* The sizes of the two stacks under the config keys BART, Marian and Whisper share:
 * encoder_/decoder_ ffn_dim, layers and attention_heads (at most d_model heads). */
typedef struct cf_seq2seq_stacks {
    int64_t enc_ffn, dec_ffn;
    int enc_layers, dec_layers, enc_heads, dec_heads;
} cf_seq2seq_stacks;

cf_status cf_seq2seq_read_stacks(const cf_config *config, int64_t d_model, cf_seq2seq_stacks *out, cf_error *err);

/* Architectures (models/bart.c, models/marian.c): fill m from config.json and the folder. */
cf_status cf_bart_load(const char *dir, const cf_config *config, cf_seq2seq *m, cf_error *err);
cf_status cf_marian_load(const char *dir, const cf_config *config, cf_seq2seq *m, cf_error *err);
/* models/t5.c: T5ForConditionalGeneration (model_type t5, mt5). */
cf_status cf_t5_load(const char *dir, const cf_config *config, cf_seq2seq *m, cf_error *err);

#endif
