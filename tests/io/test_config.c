/* config.json accessors: dotted paths, defaults, required keys, labels, malformed files. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "io/config.h"

static const char k_json[] =
    "{\n"
    "  \"model_type\": \"bart\",\n"
    "  \"hidden_size\": 768,\n"
    "  \"layer_norm_eps\": 1e-05,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"eos_token_id\": 2,\n"
    "  \"bad_words\": [3, 4, 5],\n"
    "  \"mixed\": [1, \"x\"],\n"
    "  \"ratio\": 2.5,\n"
    "  \"nothing\": null,\n"
    "  \"architectures\": [\"BartForConditionalGeneration\"],\n"
    "  \"dotted.key\": 7,\n"
    "  \"task_specific_params\": {\"summarization\": {\"max_length\": 142, \"prefix\": \"sum: \"}},\n"
    "  \"id2label\": {\"0\": \"NEGATIVE\", \"1\": \"POSITIVE\", \"2\": \"NEUTRAL\"},\n"
    "  \"num_labels\": 5\n"
    "}\n";

static cf_config g_cfg;

static void load(void)
{
    cf_error err = {0};
    cr_assert_eq(cf_config_parse(&g_cfg, k_json, strlen(k_json), "config.json", &err), CF_OK, "%s", err.message);
}

static void unload(void) { cf_config_free(&g_cfg); }

TestSuite(config, .init = load, .fini = unload);

Test(config, getters_with_defaults)
{
    cr_assert_eq(cf_config_int(&g_cfg, "hidden_size", -1), 768);
    cr_assert_eq(cf_config_int(&g_cfg, "absent", -1), -1);
    cr_assert_eq(cf_config_int(&g_cfg, "ratio", -1), -1, "a non-integer is not an int");
    cr_assert_eq(cf_config_int(&g_cfg, "model_type", -1), -1);
    cr_assert_eq(cf_config_int(&g_cfg, "nothing", 9), 9);
    cr_assert_float_eq(cf_config_float(&g_cfg, "layer_norm_eps", 0), 1e-5, 1e-12);
    cr_assert_float_eq(cf_config_float(&g_cfg, "hidden_size", 0), 768.0, 0);
    cr_assert_float_eq(cf_config_float(&g_cfg, "absent", 0.5), 0.5, 0);
    cr_assert(cf_config_bool(&g_cfg, "tie_word_embeddings", false));
    cr_assert(cf_config_bool(&g_cfg, "absent", true));
    cr_assert_not(cf_config_bool(&g_cfg, "hidden_size", false), "a number is not a bool");
    cr_assert_str_eq(cf_config_str(&g_cfg, "model_type", "?"), "bart");
    cr_assert_str_eq(cf_config_str(&g_cfg, "hidden_size", "?"), "?");
    cr_assert(cf_config_has(&g_cfg, "hidden_size"));
    cr_assert_not(cf_config_has(&g_cfg, "nothing"));
    cr_assert_not(cf_config_has(&g_cfg, "absent"));
    cr_assert_not_null(cf_config_get(&g_cfg, "nothing"));
}

Test(config, dotted_paths)
{
    cr_assert_eq(cf_config_int(&g_cfg, "task_specific_params.summarization.max_length", 0), 142);
    cr_assert_str_eq(cf_config_str(&g_cfg, "task_specific_params.summarization.prefix", ""), "sum: ");
    cr_assert_eq(cf_config_int(&g_cfg, "dotted.key", 0), 7, "a key containing a dot is found whole");
    cr_assert_str_eq(cf_config_str(&g_cfg, "architectures.0", ""), "BartForConditionalGeneration");
    cr_assert_null(cf_config_get(&g_cfg, "architectures.1"));
    cr_assert_null(cf_config_get(&g_cfg, "task_specific_params.translation.max_length"));
    cr_assert_null(cf_config_get(&g_cfg, "task_specific_params..max_length"));
    cr_assert_null(cf_config_get(&g_cfg, "."));
    cr_assert_null(cf_config_get(&g_cfg, ""));
    cr_assert_str_eq(cf_config_str(&g_cfg, "id2label.1", ""), "POSITIVE");
}

Test(config, required_keys_name_key_and_file)
{
    cf_error err = {0};
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    cr_assert_eq(cf_config_require_int(&g_cfg, "hidden_size", &i, &err), CF_OK);
    cr_assert_eq(i, 768);
    cr_assert_eq(cf_config_require_int(&g_cfg, "num_hidden_layers", &i, &err), CF_ERR_NOT_FOUND);
    cr_assert_str_eq(err.message, "config.json: missing required key 'num_hidden_layers'");
    cr_assert_eq(cf_config_require_int(&g_cfg, "nothing", &i, &err), CF_ERR_NOT_FOUND);
    cr_assert_eq(cf_config_require_int(&g_cfg, "model_type", &i, &err), CF_ERR_FORMAT);
    cr_assert_str_eq(err.message, "config.json: key 'model_type' is a string (\"bart\"), expected an integer");
    cr_assert_eq(cf_config_require_int(&g_cfg, "ratio", &i, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "'ratio' is a number (2.5)"), "%s", err.message);
    cr_assert_eq(cf_config_require_float(&g_cfg, "ratio", &d, &err), CF_OK);
    cr_assert_float_eq(d, 2.5, 0);
    cr_assert_eq(cf_config_require_float(&g_cfg, "architectures", &d, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "'architectures' is an array"), "%s", err.message);
    cr_assert_eq(cf_config_require_str(&g_cfg, "task_specific_params.summarization.prefix", &s, &err), CF_OK);
    cr_assert_str_eq(s, "sum: ");
    cr_assert_eq(cf_config_require_str(&g_cfg, "hidden_size", &s, &err), CF_ERR_FORMAT);
    cr_assert_eq(cf_config_require_str(&g_cfg, "absent.key", &s, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, "'absent.key'"), "%s", err.message);
}

Test(config, checked_float_defaults_only_when_absent)
{
    cf_config c;
    cf_error err = {0};
    static const char json[] = "{\"layer_norm_eps\": \"1e-5\", \"rms_norm_eps\": 1e-06, \"norm_eps\": null}";
    cr_assert_eq(cf_config_parse(&c, json, strlen(json), "model/config.json", &err), CF_OK, "%s", err.message);
    double d = 0;
    cr_expect_eq(cf_config_float_checked(&c, "rms_norm_eps", 0.5, &d, &err), CF_OK);
    cr_expect_float_eq(d, 1e-6, 0);
    cr_expect_eq(cf_config_float_checked(&c, "norm_eps", 0.5, &d, &err), CF_OK);
    cr_expect_float_eq(d, 0.5, 0, "null reads as absent");
    cr_expect_eq(cf_config_float_checked(&c, "absent_eps", 0.25, &d, &err), CF_OK);
    cr_expect_float_eq(d, 0.25, 0);
    cr_expect_eq(cf_config_float_checked(&c, "layer_norm_eps", 0.5, &d, &err), CF_ERR_FORMAT);
    cr_expect_str_eq(err.message, "model/config.json: key 'layer_norm_eps' is a string (\"1e-5\"), expected a number");
    cf_config_free(&c);
}

Test(config, int_arrays)
{
    cf_error err = {0};
    int64_t *a = NULL;
    size_t n = 0;
    cr_assert_eq(cf_config_int_array(&g_cfg, "eos_token_id", &a, &n, &err), CF_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0], 2);
    free(a);
    cr_assert_eq(cf_config_int_array(&g_cfg, "bad_words", &a, &n, &err), CF_OK);
    cr_assert_eq(n, 3);
    cr_assert(a[0] == 3 && a[1] == 4 && a[2] == 5);
    free(a);
    cr_assert_eq(cf_config_int_array(&g_cfg, "mixed", &a, &n, &err), CF_ERR_FORMAT);
    cr_assert_null(a);
    cr_assert(strstr(err.message, "'mixed'[1] is a string"), "%s", err.message);
    cr_assert_eq(cf_config_int_array(&g_cfg, "model_type", &a, &n, &err), CF_ERR_FORMAT);
    cr_assert_eq(cf_config_int_array(&g_cfg, "absent", &a, &n, &err), CF_ERR_NOT_FOUND);
    cr_assert_eq(n, 0);
}

Test(config, labels_follow_id2label_then_num_labels)
{
    char buf[32];
    cr_assert_str_eq(cf_config_label(&g_cfg, 1, buf, sizeof buf), "POSITIVE");
    cr_assert_str_eq(cf_config_label(&g_cfg, 7, buf, sizeof buf), "LABEL_7");
    cr_assert_eq(cf_config_num_labels(&g_cfg), 3, "id2label wins over num_labels, as in transformers");

    cf_config c;
    cf_error err = {0};
    const char *only_num = "{\"num_labels\": 4}";
    cr_assert_eq(cf_config_parse(&c, only_num, strlen(only_num), "c.json", &err), CF_OK);
    cr_assert_eq(cf_config_num_labels(&c), 4);
    cr_assert_str_eq(cf_config_label(&c, 3, buf, sizeof buf), "LABEL_3");
    cf_config_free(&c);
    cr_assert_eq(cf_config_parse(&c, "{}", 2, "c.json", &err), CF_OK);
    cr_assert_eq(cf_config_num_labels(&c), 2, "transformers' default");
    cf_config_free(&c);
}

Test(config, malformed_json_names_file_and_position)
{
    struct {
        const char *text;
        const char *part;
    } cases[] = {
        {"{\"a\": 1,\n \"b\": }", "config.json: invalid JSON at line 2, column 7"},
        {"{\"a\": [1, 2", "config.json: JSON ends early"},
        {"", "config.json: empty"},
        {"   \n", "config.json: empty"},
        {"[1, 2]", "config.json: top level is an array, expected a JSON object"},
        {"\"text\"", "top level is a string"},
        {"{} {}", "config.json: unexpected text after the JSON value at line 1, column 4"},
        {"{\"a\": tru}", "invalid JSON at line 1, column 7"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cf_config c;
        cf_error err = {0};
        cr_assert_eq(cf_config_parse(&c, cases[i].text, strlen(cases[i].text), "config.json", &err), CF_ERR_FORMAT,
                     "case %zu accepted", i);
        cr_assert_null(c.root);
        cr_expect(strstr(err.message, cases[i].part), "case %zu: '%s' lacks '%s'", i, err.message, cases[i].part);
    }
}

Test(config, parse_does_not_read_past_len)
{
    /* Only the first len bytes count: the text after them would make this invalid. */
    const char text[] = "{\"a\": 1}GARBAGE";
    cf_config c;
    cf_error err = {0};
    cr_assert_eq(cf_config_parse(&c, text, 8, "x.json", &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_config_int(&c, "a", 0), 1);
    cf_config_free(&c);
}

Test(config, load_and_load_optional)
{
    char dir[] = "/tmp/cf_cfg_test_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cf_config c;
    cf_error err = {0};
    cr_assert_eq(cf_config_load_optional(&c, dir, "generation_config.json", &err), CF_OK, "%s", err.message);
    cr_assert_not_null(c.root, "an absent optional file is an empty config");
    cr_assert_eq(cf_config_int(&c, "max_length", 20), 20);
    cf_config_free(&c);

    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cr_assert_eq(cf_config_load(&c, path, &err), CF_ERR_NOT_FOUND);
    cr_assert(strstr(err.message, path), "%s", err.message);
    FILE *f = fopen(path, "w");
    fputs("{\"vocab_size\": 50257,", f);
    fclose(f);
    cr_assert_eq(cf_config_load(&c, path, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, path) && strstr(err.message, "ends early"), "%s", err.message);
    f = fopen(path, "w");
    fputs("{\"vocab_size\": 50257}", f);
    fclose(f);
    cr_assert_eq(cf_config_load_optional(&c, dir, "config.json", &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_config_int(&c, "vocab_size", 0), 50257);
    cr_assert_str_eq(c.path, path);
    cf_config_free(&c);
    unlink(path);
    rmdir(dir);
}

static size_t g_loaded;

/* Every config.json under the fixtures (walked, whatever the families are, 6 levels deep). */
static void load_configs_under(const char *path, const char *name, void *depth)
{
    if (cf_dir_exists(path)) {
        int below = *(const int *)depth + 1;
        if (below < 6)
            cf_test_each_entry(path, load_configs_under, &below);
    } else if (!strcmp(name, "config.json")) {
        cf_config c;
        cf_error err = {0};
        cr_assert_eq(cf_config_load(&c, path, &err), CF_OK, "%s", err.message);
        cr_assert(cf_config_has(&c, "model_type"), "%s has no model_type", path);
        cr_assert_gt(cf_config_num_labels(&c), 0);
        cf_config_free(&c);
        g_loaded++;
    }
}

Test(config, every_fixture_config_loads)
{
    g_loaded = 0;
    int depth = 0;
    cf_test_each_entry(cf_test_fixtures(), load_configs_under, &depth);
    cr_assert_gt(g_loaded, 0, "no config.json found under %s", cf_test_fixtures());
}
