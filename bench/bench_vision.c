/* Vision model speed with random weights of the real shapes (f32, CFORMER_THREADS or 2 threads):
 * ViT-base/16 at 224 and ConvNeXT-tiny at 224, images/s at batch 1 and 8; DETR-ResNet-50 (timm
 * backbone names, 6+6 layers, d_model 256, 100 queries) at 800x1066, ms per image.
 *
 *   bench_vision [runs]   (default 3; the model folders are written to a temporary directory) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/bench_util.h"
#include "core/threadpool.h"
#include "models/detr.h"
#include "models/vision.h"

static void die(const cf_error *err)
{
    fprintf(stderr, "bench_vision: %s\n", err->message);
    exit(1);
}

/* Random weights in +-0.02 (scale); norms' weights and BN variances 1 +- 0.02 so activations stay finite. */
static const float WEIGHT_SCALE = 0.04f;

static void add(cf_st_writer *w, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
    int64_t shape[4] = {a, b, c, d};
    bool ones = strstr(name, "running_var") || (strstr(name, "norm") && strstr(name, ".weight")) ||
                strstr(name, "bn") || strstr(name, "layernorm_") || strstr(name, "layer_norm");
    bench_add_tensor(w, name, ndim, shape, ones && !strstr(name, "conv") ? 1.0f : 0.0f, WEIGHT_SCALE);
}

static void add_linear(cf_st_writer *w, const char *p, int64_t in, int64_t out)
{
    char n[256];
    snprintf(n, sizeof n, "%s.weight", p);
    add(w, n, 2, out, in, 0, 0);
    snprintf(n, sizeof n, "%s.bias", p);
    add(w, n, 1, out, 0, 0, 0);
}

static void add_norm(cf_st_writer *w, const char *p, int64_t dim)
{
    char n[256];
    snprintf(n, sizeof n, "%s.weight", p);
    add(w, n, 1, dim, 0, 0, 0);
    snprintf(n, sizeof n, "%s.bias", p);
    add(w, n, 1, dim, 0, 0, 0);
}

static void add_conv(cf_st_writer *w, const char *p, int64_t out, int64_t in, int64_t k, bool bias)
{
    char n[256];
    snprintf(n, sizeof n, "%s.weight", p);
    add(w, n, 4, out, in, k, k);
    if (bias) {
        snprintf(n, sizeof n, "%s.bias", p);
        add(w, n, 1, out, 0, 0, 0);
    }
}

static void add_bn(cf_st_writer *w, const char *p, int64_t ch)
{
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++) {
        char n[256];
        snprintf(n, sizeof n, "%s.%s", p, parts[i]);
        add(w, n, 1, ch, 0, 0, 0);
    }
}

static void make_vit(const char *dir)
{
    cf_st_writer *w = cf_st_writer_new();
    add_conv(w, "vit.embeddings.patch_embeddings.projection", 768, 3, 16, true);
    add(w, "vit.embeddings.cls_token", 3, 1, 1, 768, 0);
    add(w, "vit.embeddings.position_embeddings", 3, 1, 197, 768, 0);
    for (int i = 0; i < 12; i++) {
        char p[128], n[192];
        snprintf(p, sizeof p, "vit.encoder.layer.%d", i);
        static const char *const lin[] = {"attention.attention.query", "attention.attention.key",
                                          "attention.attention.value", "attention.output.dense"};
        for (int k = 0; k < 4; k++) {
            snprintf(n, sizeof n, "%s.%s", p, lin[k]);
            add_linear(w, n, 768, 768);
        }
        snprintf(n, sizeof n, "%s.intermediate.dense", p);
        add_linear(w, n, 768, 3072);
        snprintf(n, sizeof n, "%s.output.dense", p);
        add_linear(w, n, 3072, 768);
        snprintf(n, sizeof n, "%s.layernorm_before", p);
        add_norm(w, n, 768);
        snprintf(n, sizeof n, "%s.layernorm_after", p);
        add_norm(w, n, 768);
    }
    add_norm(w, "vit.layernorm", 768);
    add_linear(w, "classifier", 768, 1000);
    bench_write_folder(dir, w,
                       "{\"model_type\": \"vit\", \"hidden_size\": 768, \"num_hidden_layers\": 12, "
                       "\"num_attention_heads\": 12, \"intermediate_size\": 3072, \"image_size\": 224, "
                       "\"patch_size\": 16, \"hidden_act\": \"gelu\"}");
}

static void make_convnext(const char *dir)
{
    static const int64_t dims[4] = {96, 192, 384, 768}, depths[4] = {3, 3, 9, 3};
    cf_st_writer *w = cf_st_writer_new();
    add_conv(w, "convnext.embeddings.patch_embeddings", 96, 3, 4, true);
    add_norm(w, "convnext.embeddings.layernorm", 96);
    char n[192];
    for (int s = 0; s < 4; s++) {
        if (s > 0) {
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.downsampling_layer.0", s);
            add_norm(w, n, dims[s - 1]);
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.downsampling_layer.1", s);
            add_conv(w, n, dims[s], dims[s - 1], 2, true);
        }
        for (int b = 0; b < depths[s]; b++) {
            int64_t d = dims[s];
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.layers.%d.dwconv", s, b);
            add_conv(w, n, d, 1, 7, true);
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.layers.%d.layernorm", s, b);
            add_norm(w, n, d);
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.layers.%d.pwconv1", s, b);
            add_linear(w, n, d, 4 * d);
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.layers.%d.pwconv2", s, b);
            add_linear(w, n, 4 * d, d);
            snprintf(n, sizeof n, "convnext.encoder.stages.%d.layers.%d.layer_scale_parameter", s, b);
            add(w, n, 1, d, 0, 0, 0);
        }
    }
    add_norm(w, "convnext.layernorm", 768);
    add_linear(w, "classifier", 768, 1000);
    bench_write_folder(dir, w,
                       "{\"model_type\": \"convnext\", \"hidden_sizes\": [96, 192, 384, 768], \"depths\": [3, 3, 9, 3], "
                       "\"num_stages\": 4, \"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-12}");
}

static void make_detr(const char *dir)
{
    static const int64_t widths[4] = {64, 128, 256, 512}, blocks[4] = {3, 4, 6, 3};
    const char *p = "model.backbone.conv_encoder.model.";
    cf_st_writer *w = cf_st_writer_new();
    char n[256];
    snprintf(n, sizeof n, "%sconv1", p);
    add_conv(w, n, 64, 3, 7, false);
    snprintf(n, sizeof n, "%sbn1", p);
    add_bn(w, n, 64);
    int64_t in = 64;
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < blocks[s]; b++) {
            int64_t wd = widths[s], ins[3] = {in, wd, wd}, outs[3] = {wd, wd, 4 * wd}, ks[3] = {1, 3, 1};
            for (int k = 0; k < 3; k++) {
                snprintf(n, sizeof n, "%slayer%d.%d.conv%d", p, s + 1, b, k + 1);
                add_conv(w, n, outs[k], ins[k], ks[k], false);
                snprintf(n, sizeof n, "%slayer%d.%d.bn%d", p, s + 1, b, k + 1);
                add_bn(w, n, outs[k]);
            }
            if (b == 0) {
                snprintf(n, sizeof n, "%slayer%d.0.downsample.0", p, s + 1);
                add_conv(w, n, 4 * wd, in, 1, false);
                snprintf(n, sizeof n, "%slayer%d.0.downsample.1", p, s + 1);
                add_bn(w, n, 4 * wd);
            }
            in = 4 * wd;
        }
    add_conv(w, "model.input_projection", 256, 2048, 1, true);
    add(w, "model.query_position_embeddings.weight", 2, 100, 256, 0, 0);
    static const char *const attn[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int dec = 0; dec < 2; dec++)
        for (int i = 0; i < 6; i++) {
            char l[128];
            snprintf(l, sizeof l, "model.%s.layers.%d", dec ? "decoder" : "encoder", i);
            for (int a = 0; a < (dec ? 2 : 1); a++)
                for (int k = 0; k < 4; k++) {
                    snprintf(n, sizeof n, "%s.%s.%s", l, a ? "encoder_attn" : "self_attn", attn[k]);
                    add_linear(w, n, 256, 256);
                }
            snprintf(n, sizeof n, "%s.self_attn_layer_norm", l);
            add_norm(w, n, 256);
            if (dec) {
                snprintf(n, sizeof n, "%s.encoder_attn_layer_norm", l);
                add_norm(w, n, 256);
            }
            snprintf(n, sizeof n, "%s.fc1", l);
            add_linear(w, n, 256, 2048);
            snprintf(n, sizeof n, "%s.fc2", l);
            add_linear(w, n, 2048, 256);
            snprintf(n, sizeof n, "%s.final_layer_norm", l);
            add_norm(w, n, 256);
        }
    add_norm(w, "model.decoder.layernorm", 256);
    add_linear(w, "class_labels_classifier", 256, 92);
    add_linear(w, "bbox_predictor.layers.0", 256, 256);
    add_linear(w, "bbox_predictor.layers.1", 256, 256);
    add_linear(w, "bbox_predictor.layers.2", 256, 4);
    bench_write_folder(dir, w,
                       "{\"model_type\": \"detr\", \"d_model\": 256, \"encoder_layers\": 6, \"decoder_layers\": 6, "
                       "\"encoder_attention_heads\": 8, \"decoder_attention_heads\": 8, \"encoder_ffn_dim\": 2048, "
                       "\"decoder_ffn_dim\": 2048, \"num_queries\": 100, \"use_timm_backbone\": true, "
                       "\"activation_function\": \"relu\"}");
}

static float *random_pixels(int64_t n)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        x[i] = 2.0f * bench_random(); /* in [-1, 1) */
    return x;
}

static void load_config(const char *dir, cf_config *cfg)
{
    cf_error err = {0};
    if (bench_load_config(dir, cfg, &err) != CF_OK)
        die(&err);
}

static void bench_classifier(const char *name, const char *dir, int runs)
{
    cf_config cfg = {0};
    load_config(dir, &cfg);
    cf_error err = {0};
    cf_image_classifier *m = NULL;
    if (cf_image_classifier_load(dir, &cfg, &m, &err) != CF_OK)
        die(&err);
    static const int64_t batches[2] = {1, 8};
    for (int b = 0; b < 2; b++) {
        int64_t n = batches[b];
        float *pixels = random_pixels(n * 3 * 224 * 224), *logits = malloc((size_t)n * 1000 * sizeof(float));
        if (cf_image_classifier_forward(m, pixels, n, 224, 224, NULL, logits, &err) != CF_OK) /* warm-up */
            die(&err);
        double best = 1e30;
        for (int r = 0; r < runs; r++) {
            double t0 = bench_now_ms();
            cf_image_classifier_forward(m, pixels, n, 224, 224, NULL, logits, &err);
            double t = bench_now_ms() - t0;
            best = t < best ? t : best;
        }
        printf("| %-22s | %5lld | %9.1f | %8.2f |\n", name, (long long)n, best / (double)n, 1000.0 * (double)n / best);
        free(pixels);
        free(logits);
    }
    cf_image_classifier_free(m);
    cf_config_free(&cfg);
}

static void bench_detr(const char *dir, int runs)
{
    int64_t h = 800, w = 1066;
    cf_config cfg = {0};
    load_config(dir, &cfg);
    cf_error err = {0};
    cf_detr *m = NULL;
    if (cf_detr_load(dir, &cfg, &m, &err) != CF_OK)
        die(&err);
    float *pixels = random_pixels(3 * h * w), *logits = malloc(100 * 92 * sizeof(float)),
          *boxes = malloc(100 * 4 * sizeof(float));
    cf_detr_output out = {.logits = logits, .boxes = boxes};
    double best = 1e30;
    for (int r = 0; r <= runs; r++) {
        double t0 = bench_now_ms();
        if (cf_detr_forward(m, pixels, NULL, 1, h, w, NULL, &out, &err) != CF_OK)
            die(&err);
        double t = bench_now_ms() - t0;
        if (r > 0 || runs == 0)
            best = t < best ? t : best;
    }
    printf("| %-22s | %5d | %9.1f | %8.2f |\n", "DETR-R50 800x1066", 1, best, 1000.0 / best);
    free(pixels);
    free(logits);
    free(boxes);
    cf_detr_free(m);
    cf_config_free(&cfg);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    bench_default_threads();
    char root[] = "/tmp/cf_bench_vision_XXXXXX";
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char dirs[3][600];
    const char *names[3] = {"vit", "convnext", "detr"};
    for (int i = 0; i < 3; i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", root, names[i]);
        if (mkdir(dirs[i], 0700)) {
            perror(dirs[i]);
            return 1;
        }
    }
    make_vit(dirs[0]);
    make_convnext(dirs[1]);
    make_detr(dirs[2]);
    printf("threads: %d, f32, best of %d runs\n\n", cf_threads_count(), runs);
    printf("| %-22s | %5s | %9s | %8s |\n", "model", "batch", "ms/image", "images/s");
    printf("|------------------------|-------|-----------|----------|\n");
    bench_classifier("ViT-base/16 224", dirs[0], runs);
    bench_classifier("ConvNeXT-tiny 224", dirs[1], runs);
    bench_detr(dirs[2], runs);
    bench_remove_dir(root);
    return 0;
}
