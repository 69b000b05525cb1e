/* Writes a Hugging Face model folder (config.json + model.safetensors) with random weights of the
 * real shapes and tensor names, so benchmarks can run whole models without downloading them.
 *
 * usage: bench_gen_weights gpt2|bert OUT_DIR [SEED]
 *   gpt2: GPT-2 124M (GPT2LMHeadModel, Conv1D weights [in, out], tied lm_head)
 *   bert: BERT-base uncased with a 2-label sequence-classification head
 * Weights ~ uniform with std 0.02 (the HF initializer_range), LayerNorm gamma 1 and beta 0. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"

typedef enum { INIT_WEIGHT, INIT_ONES, INIT_ZEROS } init_kind;

typedef struct gen {
    cf_st_writer *w;
    uint64_t rng;
    int64_t params;
    cf_error err;
} gen;

static float next_uniform(gen *g) /* in [-1, 1) */
{
    g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(g->rng >> 40) / (float)(1ull << 23) - 1.0f;
}

static cf_status add_tensor(gen *g, init_kind init, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
    CF_PRINTF(6, 7);

static cf_status add_tensor(gen *g, init_kind init, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[2] = {d0, d1}, n = ndim == 1 ? d0 : d0 * d1;
    float *data = malloc((size_t)n * sizeof(float));
    if (!data)
        return cf_fail(&g->err, CF_ERR_NOMEM, "out of memory for tensor '%s' (%lld floats)", name, (long long)n);
    const float amp = 0.02f * 1.7320508f; /* uniform on [-a, a] has std a/sqrt(3) */
    for (int64_t i = 0; i < n; i++)
        data[i] = init == INIT_WEIGHT ? amp * next_uniform(g) : init == INIT_ONES ? 1.0f : 0.0f;
    cf_tensor t = cf_tensor_view(CF_DTYPE_F32, ndim, shape, data);
    cf_status s = cf_st_writer_add(g->w, name, &t, &g->err);
    free(data);
    g->params += n;
    return s;
}

/* nn.Linear / Conv1D weight + bias, LayerNorm gamma + beta. */
static cf_status add_dense(gen *g, int64_t d0, int64_t d1, int64_t n_bias, const char *prefix)
{
    CF_TRY(add_tensor(g, INIT_WEIGHT, 2, d0, d1, "%s.weight", prefix));
    return add_tensor(g, INIT_WEIGHT, 1, n_bias, 0, "%s.bias", prefix);
}

static cf_status add_norm(gen *g, int64_t n, const char *prefix)
{
    CF_TRY(add_tensor(g, INIT_ONES, 1, n, 0, "%s.weight", prefix));
    return add_tensor(g, INIT_ZEROS, 1, n, 0, "%s.bias", prefix);
}

static const char GPT2_CONFIG[] =
    "{\n  \"architectures\": [\"GPT2LMHeadModel\"],\n  \"model_type\": \"gpt2\",\n  \"vocab_size\": 50257,\n"
    "  \"n_positions\": 1024,\n  \"n_ctx\": 1024,\n  \"n_embd\": 768,\n  \"n_layer\": 12,\n  \"n_head\": 12,\n"
    "  \"n_inner\": null,\n  \"activation_function\": \"gelu_new\",\n  \"layer_norm_epsilon\": 1e-05,\n"
    "  \"initializer_range\": 0.02,\n  \"resid_pdrop\": 0.1,\n  \"embd_pdrop\": 0.1,\n  \"attn_pdrop\": 0.1,\n"
    "  \"bos_token_id\": 50256,\n  \"eos_token_id\": 50256,\n  \"tie_word_embeddings\": true\n}\n";

static cf_status gen_gpt2(gen *g)
{
    const int64_t d = 768, ff = 3072;
    CF_TRY(add_tensor(g, INIT_WEIGHT, 2, 50257, d, "wte.weight"));
    CF_TRY(add_tensor(g, INIT_WEIGHT, 2, 1024, d, "wpe.weight"));
    for (int l = 0; l < 12; l++) {
        char p[64];
        snprintf(p, sizeof p, "h.%d.ln_1", l);
        CF_TRY(add_norm(g, d, p));
        snprintf(p, sizeof p, "h.%d.attn.c_attn", l);
        CF_TRY(add_dense(g, d, 3 * d, 3 * d, p));
        snprintf(p, sizeof p, "h.%d.attn.c_proj", l);
        CF_TRY(add_dense(g, d, d, d, p));
        snprintf(p, sizeof p, "h.%d.ln_2", l);
        CF_TRY(add_norm(g, d, p));
        snprintf(p, sizeof p, "h.%d.mlp.c_fc", l);
        CF_TRY(add_dense(g, d, ff, ff, p));
        snprintf(p, sizeof p, "h.%d.mlp.c_proj", l);
        CF_TRY(add_dense(g, ff, d, d, p));
    }
    return add_norm(g, d, "ln_f");
}

static const char BERT_CONFIG[] =
    "{\n  \"architectures\": [\"BertForSequenceClassification\"],\n  \"model_type\": \"bert\",\n"
    "  \"vocab_size\": 30522,\n  \"hidden_size\": 768,\n  \"num_hidden_layers\": 12,\n"
    "  \"num_attention_heads\": 12,\n  \"intermediate_size\": 3072,\n  \"hidden_act\": \"gelu\",\n"
    "  \"hidden_dropout_prob\": 0.1,\n  \"attention_probs_dropout_prob\": 0.1,\n"
    "  \"max_position_embeddings\": 512,\n  \"type_vocab_size\": 2,\n  \"initializer_range\": 0.02,\n"
    "  \"layer_norm_eps\": 1e-12,\n  \"pad_token_id\": 0,\n  \"position_embedding_type\": \"absolute\",\n"
    "  \"id2label\": {\"0\": \"NEGATIVE\", \"1\": \"POSITIVE\"},\n  \"label2id\": {\"NEGATIVE\": 0, \"POSITIVE\": 1}\n}\n";

static cf_status gen_bert(gen *g)
{
    const int64_t d = 768, ff = 3072;
    CF_TRY(add_tensor(g, INIT_WEIGHT, 2, 30522, d, "bert.embeddings.word_embeddings.weight"));
    CF_TRY(add_tensor(g, INIT_WEIGHT, 2, 512, d, "bert.embeddings.position_embeddings.weight"));
    CF_TRY(add_tensor(g, INIT_WEIGHT, 2, 2, d, "bert.embeddings.token_type_embeddings.weight"));
    CF_TRY(add_norm(g, d, "bert.embeddings.LayerNorm"));
    for (int l = 0; l < 12; l++) {
        static const char *const parts[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                            "attention.output.dense"};
        char p[96];
        for (int i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "bert.encoder.layer.%d.%s", l, parts[i]);
            CF_TRY(add_dense(g, d, d, d, p));
        }
        snprintf(p, sizeof p, "bert.encoder.layer.%d.attention.output.LayerNorm", l);
        CF_TRY(add_norm(g, d, p));
        snprintf(p, sizeof p, "bert.encoder.layer.%d.intermediate.dense", l);
        CF_TRY(add_dense(g, ff, d, ff, p));
        snprintf(p, sizeof p, "bert.encoder.layer.%d.output.dense", l);
        CF_TRY(add_dense(g, d, ff, d, p));
        snprintf(p, sizeof p, "bert.encoder.layer.%d.output.LayerNorm", l);
        CF_TRY(add_norm(g, d, p));
    }
    CF_TRY(add_dense(g, d, d, d, "bert.pooler.dense"));
    return add_dense(g, 2, d, 2, "classifier");
}

static cf_status write_text(const char *path, const char *text, cf_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return cf_fail(err, CF_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok ? CF_OK : cf_fail(err, CF_ERR_IO, "%s: write failed: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (strcmp(argv[1], "gpt2") && strcmp(argv[1], "bert"))) {
        fprintf(stderr, "usage: %s gpt2|bert OUT_DIR [SEED]\n", argv[0]);
        return 2;
    }
    bool is_gpt2 = !strcmp(argv[1], "gpt2");
    const char *dir = argv[2];
    gen g = {.w = cf_st_writer_new(), .rng = argc == 4 ? strtoull(argv[3], NULL, 10) : 42};
    if (!g.w) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create directory: %s\n", dir, strerror(errno));
        cf_st_writer_free(g.w);
        return 1;
    }
    char path[4096];
    cf_status s = is_gpt2 ? gen_gpt2(&g) : gen_bert(&g);
    if (s == CF_OK)
        s = cf_st_writer_set_metadata(g.w, "format", "pt", &g.err);
    if (s == CF_OK) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        s = cf_st_writer_save(g.w, path, &g.err);
    }
    if (s == CF_OK) {
        snprintf(path, sizeof path, "%s/config.json", dir);
        s = write_text(path, is_gpt2 ? GPT2_CONFIG : BERT_CONFIG, &g.err);
    }
    cf_st_writer_free(g.w);
    if (s != CF_OK) {
        fprintf(stderr, "%s\n", g.err.message);
        return 1;
    }
    printf("%s: %s with %.1fM random parameters\n", dir, is_gpt2 ? "GPT-2 124M" : "BERT-base", (double)g.params / 1e6);
    return 0;
}
