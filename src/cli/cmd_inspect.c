/* cformer inspect PATH_OR_ID: what a model folder holds (config summary, tensors, dtypes, bytes). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "io/config.h"
#include "io/json_util.h"
#include "io/model_dir.h"
#include "io/safetensors.h"

/* Top-level config keys worth a line, in display order (each family names them its own way). */
static const char *const k_summary_keys[] = {
    "vocab_size", "hidden_size", "d_model", "n_embd", "dim", "hidden_sizes", "depths", "intermediate_size",
    "ffn_dim", "encoder_ffn_dim", "decoder_ffn_dim", "n_inner", "d_ff", "num_hidden_layers", "n_layer",
    "num_layers", "encoder_layers", "decoder_layers", "num_decoder_layers", "num_attention_heads", "n_head",
    "num_heads", "encoder_attention_heads", "decoder_attention_heads", "num_key_value_heads", "head_dim", "d_kv",
    "max_position_embeddings", "n_positions", "max_source_positions", "max_target_positions", "hidden_act",
    "activation_function", "feed_forward_proj", "layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps",
    "rope_theta", "rope_scaling", "tie_word_embeddings", "is_encoder_decoder", "image_size", "patch_size",
    "num_channels", "num_mel_bins", "num_queries", "backbone", "torch_dtype",
};

typedef struct dtype_stats {
    size_t tensors;
    uint64_t elements, bytes;
} dtype_stats;

typedef struct model_summary {
    char target[CF_PATH_MAX]; /* folder or file inspected */
    cf_config config;
    bool has_config;
    cf_safetensors *weights; /* NULL when the folder has none */
    dtype_stats dtypes[CF_DTYPE_COUNT];
    uint64_t parameters, total_bytes;
} model_summary;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cformer inspect [--json] [--tensors] PATH_OR_ID\n"
            "\n"
            "Describe a model: architecture, config summary, tensor count, parameter count,\n"
            "dtypes and bytes. PATH_OR_ID is a model folder, a .safetensors file or\n"
            "model.safetensors.index.json, or a Hub id (org/name[@revision]) in the HF cache.\n"
            "Parameters count the elements of floating-point tensors (integer tensors are buffers).\n"
            "\n"
            "options:\n"
            "  --json       machine-readable output\n"
            "  --tensors    also list every tensor (name, dtype, shape)\n"
            "  -h, --help   this help\n");
}

static bool is_float_dtype(cf_dtype d)
{
    return d == CF_DTYPE_F32 || d == CF_DTYPE_F16 || d == CF_DTYPE_BF16 || d == CF_DTYPE_F64;
}

static void count_tensors(model_summary *m)
{
    if (!m->weights)
        return;
    for (size_t i = 0; i < cf_st_count(m->weights); i++) {
        const cf_tensor *t = cf_st_at(m->weights, i);
        dtype_stats *d = &m->dtypes[t->dtype];
        uint64_t n = (uint64_t)cf_tensor_numel(t), bytes = cf_tensor_nbytes(t);
        d->tensors++;
        d->elements += n;
        d->bytes += bytes;
        m->total_bytes += bytes;
        if (is_float_dtype(t->dtype))
            m->parameters += n;
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A single weights file, or a folder (config.json and/or weights; at least one). */
static cf_status load_summary(const char *path_or_id, model_summary *m, cf_error *err)
{
    if (cf_file_exists(path_or_id) && (ends_with(path_or_id, ".safetensors") || ends_with(path_or_id, ".json"))) {
        snprintf(m->target, sizeof m->target, "%s", path_or_id);
        CF_TRY(cf_st_open(path_or_id, &m->weights, err));
        count_tensors(m);
        return CF_OK;
    }
    CF_TRY(cf_model_resolve(path_or_id, m->target, sizeof m->target, err));
    char config_path[CF_PATH_MAX];
    CF_TRY(cf_path_join(config_path, sizeof config_path, m->target, "config.json", err));
    m->has_config = cf_file_exists(config_path);
    CF_TRY(cf_config_load_optional(&m->config, m->target, "config.json", err));
    cf_status s = cf_st_open_dir(m->target, &m->weights, err);
    if (s == CF_ERR_NOT_FOUND && m->has_config)
        s = CF_OK; /* a config-only folder still has something to show */
    else if (s == CF_ERR_NOT_FOUND)
        return cf_fail(err, CF_ERR_NOT_FOUND,
                       "%s: not a model folder (no config.json, model.safetensors or model.safetensors.index.json)",
                       m->target);
    CF_TRY(s);
    count_tensors(m);
    return CF_OK;
}

static void free_summary(model_summary *m)
{
    cf_config_free(&m->config);
    cf_st_close(m->weights);
}

/* 1234567 -> "1,234,567" */
static const char *grouped(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < size; i++) {
        if (i && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = '\0';
    return buf;
}

/* 1234567 -> "1.23M" (base 1000 for counts, 1024 with "iB" units for bytes) */
static const char *human(uint64_t v, bool bytes, char *buf, size_t size)
{
    static const char *const count_units[] = {"", "K", "M", "B", "T"};
    static const char *const byte_units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double base = bytes ? 1024.0 : 1000.0, x = (double)v;
    int u = 0;
    while (x >= base && u < 4) {
        x /= base;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu%s%s", (unsigned long long)v, bytes ? " " : "", bytes ? "B" : "");
    else
        snprintf(buf, size, "%.2f%s%s", x, bytes ? " " : "", bytes ? byte_units[u] : count_units[u]);
    return buf;
}

static void print_value(const cJSON *v)
{
    char buf[256];
    if (cJSON_IsString(v))
        printf("%s\n", v->valuestring);
    else
        printf("%s\n", cf_json_compact(v, buf, sizeof buf));
}

static void print_architectures(const cf_config *cfg)
{
    const cJSON *archs = cf_config_get(cfg, "architectures");
    printf("architectures:  ");
    if (cJSON_IsArray(archs) && archs->child) {
        for (const cJSON *a = archs->child; a; a = a->next)
            printf("%s%s", a == archs->child ? "" : ", ", cJSON_IsString(a) ? a->valuestring : "?");
        printf("\n");
    } else {
        printf("(not stated)\n");
    }
}

static void print_config_text(const model_summary *m)
{
    if (!m->has_config)
        return;
    print_architectures(&m->config);
    printf("model_type:     %s\n", cf_config_str(&m->config, "model_type", "(not stated)"));
    printf("config:\n");
    for (size_t i = 0; i < sizeof k_summary_keys / sizeof *k_summary_keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->config.root, k_summary_keys[i]);
        if (v && !cJSON_IsNull(v)) {
            printf("  %-26s", k_summary_keys[i]);
            print_value(v);
        }
    }
    if (cf_config_has(&m->config, "id2label") || cf_config_has(&m->config, "num_labels"))
        printf("  %-26s%lld\n", "num_labels", (long long)cf_config_num_labels(&m->config));
}

static void print_weights_text(const model_summary *m, bool list_tensors)
{
    char a[64], b[64];
    if (!m->weights) {
        printf("weights:        none (no model.safetensors or model.safetensors.index.json)\n");
        return;
    }
    size_t files = cf_st_shard_count(m->weights);
    printf("tensors:        %zu in %zu file%s\n", cf_st_count(m->weights), files, files == 1 ? "" : "s");
    printf("parameters:     %s (%s)\n", grouped(m->parameters, a, sizeof a), human(m->parameters, false, b, sizeof b));
    printf("dtypes:\n");
    for (int d = 0; d < CF_DTYPE_COUNT; d++) {
        const dtype_stats *s = &m->dtypes[d];
        if (!s->tensors)
            continue;
        printf("  %-5s %6zu tensors %16s elements %16s bytes\n", cf_dtype_name((cf_dtype)d), s->tensors,
               grouped(s->elements, a, sizeof a), grouped(s->bytes, b, sizeof b));
    }
    printf("total bytes:    %s (%s)\n", grouped(m->total_bytes, a, sizeof a), human(m->total_bytes, true, b, sizeof b));
    if (!list_tensors)
        return;
    printf("tensor list:\n");
    for (size_t i = 0; i < cf_st_count(m->weights); i++) {
        const cf_tensor *t = cf_st_at(m->weights, i);
        char shape[128];
        printf("  %-60s %-5s %s\n", cf_st_name(m->weights, i), cf_dtype_name(t->dtype),
               cf_shape_str(t->ndim, t->shape, shape, sizeof shape));
    }
}

static cJSON *config_json(const model_summary *m)
{
    cJSON *c = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof k_summary_keys / sizeof *k_summary_keys; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->config.root, k_summary_keys[i]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(c, k_summary_keys[i], cJSON_Duplicate(v, true));
    }
    if (cf_config_has(&m->config, "id2label") || cf_config_has(&m->config, "num_labels"))
        cJSON_AddNumberToObject(c, "num_labels", (double)cf_config_num_labels(&m->config));
    return c;
}

static cJSON *weights_json(const model_summary *m, bool list_tensors, cJSON *root)
{
    cJSON_AddNumberToObject(root, "files", m->weights ? (double)cf_st_shard_count(m->weights) : 0);
    cJSON_AddNumberToObject(root, "tensors", m->weights ? (double)cf_st_count(m->weights) : 0);
    cJSON_AddNumberToObject(root, "parameters", (double)m->parameters);
    cJSON *dtypes = cJSON_AddObjectToObject(root, "dtypes");
    for (int d = 0; d < CF_DTYPE_COUNT; d++) {
        const dtype_stats *s = &m->dtypes[d];
        if (!s->tensors)
            continue;
        cJSON *e = cJSON_AddObjectToObject(dtypes, cf_dtype_name((cf_dtype)d));
        cJSON_AddNumberToObject(e, "tensors", (double)s->tensors);
        cJSON_AddNumberToObject(e, "elements", (double)s->elements);
        cJSON_AddNumberToObject(e, "bytes", (double)s->bytes);
    }
    cJSON_AddNumberToObject(root, "total_bytes", (double)m->total_bytes);
    if (list_tensors && m->weights) {
        cJSON *list = cJSON_AddArrayToObject(root, "tensor_list");
        for (size_t i = 0; i < cf_st_count(m->weights); i++) {
            const cf_tensor *t = cf_st_at(m->weights, i);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", cf_st_name(m->weights, i));
            cJSON_AddStringToObject(e, "dtype", cf_dtype_name(t->dtype));
            cJSON *shape = cJSON_AddArrayToObject(e, "shape");
            for (int d = 0; d < t->ndim; d++)
                cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
            cJSON_AddItemToArray(list, e);
        }
    }
    return root;
}

static void print_json(const model_summary *m, bool list_tensors)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "path", m->target);
    if (m->has_config) {
        const cJSON *archs = cf_config_get(&m->config, "architectures");
        cJSON_AddItemToObject(root, "architectures",
                              cJSON_IsArray(archs) ? cJSON_Duplicate(archs, true) : cJSON_CreateArray());
        const char *type = cf_config_str(&m->config, "model_type", NULL);
        cJSON_AddItemToObject(root, "model_type", type ? cJSON_CreateString(type) : cJSON_CreateNull());
        cJSON_AddItemToObject(root, "config", config_json(m));
    }
    weights_json(m, list_tensors, root);
    char *text = cJSON_Print(root);
    if (text)
        puts(text);
    cJSON_free(text);
    cJSON_Delete(root);
}

int cf_cmd_inspect(int argc, char **argv)
{
    bool json = false, list_tensors = false;
    const char *target = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return CF_EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--tensors")) {
            list_tensors = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "cformer inspect: unknown option '%s' (see cformer inspect --help)\n", argv[i]);
            return CF_EXIT_USAGE;
        } else if (target) {
            fprintf(stderr, "cformer inspect: one model at a time ('%s' and '%s' given)\n", target, argv[i]);
            return CF_EXIT_USAGE;
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        usage(stderr);
        return CF_EXIT_USAGE;
    }
    model_summary *m = calloc(1, sizeof *m);
    if (!m) {
        fprintf(stderr, "cformer inspect: out of memory\n");
        return CF_EXIT_ERROR;
    }
    cf_error err = {0};
    if (load_summary(target, m, &err) != CF_OK) {
        fprintf(stderr, "cformer inspect: %s\n", err.message);
        free_summary(m);
        free(m);
        return CF_EXIT_ERROR;
    }
    if (json) {
        print_json(m, list_tensors);
    } else {
        printf("model:          %s\n", m->target);
        print_config_text(m);
        print_weights_text(m, list_tensors);
    }
    free_summary(m);
    free(m);
    return CF_EXIT_OK;
}
