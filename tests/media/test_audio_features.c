/* Feature extraction against transformers 4.35.2: Whisper log-mel input_features (80 and 128 bins)
 * and Wav2Vec2 input_values, from the 16 kHz waveforms stored with the audio fixtures.
 * Tolerances: log-mel atol 1e-4 (the reference runs the FFT in float64 and rounds to complex64; we run
 * it in float32); Wav2Vec2 atol 1e-5 on unit-variance values (float32 vs numpy's float32 mean/var);
 * raw input_values and the attention mask exactly. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fixture_case.h"
#include "common/testutil.h"
#include "core/buf.h"
#include "io/safetensors.h"
#include "media/audio.h"
#include "media/features.h"
#include "media/mel.h"

#define LOG_MEL_ATOL 1e-4
#define W2V2_ATOL 1e-5

typedef struct fixture {
    char dir[4096];
    cJSON *expected;
    cf_safetensors *st;
} fixture;

static size_t load_fixtures(fixture **out)
{
    char **cases = NULL;
    size_t n = cf_test_cases("audio", "expected.json", &cases);
    fixture *list = calloc(n ? n : 1, sizeof *list);
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/expected.safetensors", cases[i]);
        if (!cf_file_exists(path))
            continue;
        fixture *f = &list[used++];
        snprintf(f->dir, sizeof f->dir, "%s", cases[i]);
        cf_error err = {0};
        cr_assert_eq(cf_st_open(path, &f->st, &err), CF_OK, "%s", err.message);
        snprintf(path, sizeof path, "%s/expected.json", cases[i]);
        f->expected = cf_test_read_json(path);
        cr_assert(f->expected);
    }
    cf_test_free_list(cases, n);
    *out = list;
    return used;
}

static void free_fixtures(fixture *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cf_st_close(list[i].st);
        cJSON_Delete(list[i].expected);
    }
    free(list);
}

/* The stored waveform "<input>.waveform_16k" for an input name. */
static float *waveform(const fixture *f, const char *input, size_t *n)
{
    char name[512];
    snprintf(name, sizeof name, "%s.waveform_16k", input);
    const cf_tensor *t = cf_st_find(f->st, name);
    cr_assert(t, "%s: no tensor %s", f->dir, name);
    float *x = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_get_f32(f->st, name, 1, (int64_t[]){-1}, &x, &err), CF_OK, "%s", err.message);
    *n = (size_t)t->shape[0];
    return x;
}

/* The waveform whose length is n (the inputs a batch row was made from). */
static const char *input_with_length(const fixture *f, size_t n, char *buf, size_t size)
{
    for (size_t t = 0; t < cf_st_count(f->st); t++) {
        const char *name = cf_st_name(f->st, t);
        const char *dot = strstr(name, ".waveform_16k");
        if (dot && (size_t)cf_st_at(f->st, t)->shape[0] == n) {
            snprintf(buf, size, "%.*s", (int)(dot - name), name);
            return buf;
        }
    }
    cr_assert_fail("%s: no stored waveform has %zu samples", f->dir, n);
    return NULL;
}

static void parse_config(cf_config *cfg, const char *json)
{
    cf_error err = {0};
    cr_assert_eq(cf_config_parse(cfg, json, strlen(json), "preprocessor_config.json", &err), CF_OK, "%s",
                 err.message);
}

/* ----------------------------------------------------------------- Whisper ---- */

static int json_int(const cJSON *obj, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}

Test(whisper_features, log_mel_matches_transformers)
{
    fixture *fx = NULL;
    size_t n_fx = load_fixtures(&fx);
    size_t checked = 0;
    for (size_t c = 0; c < n_fx; c++) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(fx[c].expected, "whisper");
        int n_fft = json_int(w, "n_fft", 400), hop = json_int(w, "hop_length", 160);
        int chunk = json_int(w, "chunk_length", 30);
        for (size_t t = 0; t < cf_st_count(fx[c].st); t++) {
            /* "<input>.whisper_<mels>.input_features" */
            const char *name = cf_st_name(fx[c].st, t);
            const char *dot = strstr(name, ".whisper_");
            int mels = 0;
            if (!dot || sscanf(dot, ".whisper_%d.", &mels) != 1 || !strstr(dot, ".input_features"))
                continue;
            char input[256], json[512];
            snprintf(input, sizeof input, "%.*s", (int)(dot - name), name);
            snprintf(json, sizeof json,
                     "{\"feature_size\": %d, \"sampling_rate\": 16000, \"n_fft\": %d, \"hop_length\": %d, "
                     "\"chunk_length\": %d, \"padding_value\": 0.0}",
                     mels, n_fft, hop, chunk);
            cf_config cfg;
            parse_config(&cfg, json);
            cf_whisper_features fe;
            cf_error err = {0};
            cr_assert_eq(cf_whisper_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
            const cf_tensor *ref_t = cf_st_at(fx[c].st, t);
            cr_assert_eq(ref_t->ndim, 2);
            cr_assert_eq(ref_t->shape[0], fe.feature_size, "%s: %lld mel rows", name, (long long)ref_t->shape[0]);
            cr_assert_eq(ref_t->shape[1], fe.n_frames, "%s: %lld frames", name, (long long)ref_t->shape[1]);
            float *ref = NULL;
            cr_assert_eq(cf_st_get_f32(fx[c].st, name, 2, ref_t->shape, &ref, &err), CF_OK, "%s", err.message);

            size_t n = 0;
            float *pcm = waveform(&fx[c], input, &n);
            size_t total = (size_t)fe.feature_size * (size_t)fe.n_frames;
            float *out = malloc(total * sizeof *out);
            cr_assert_eq(cf_whisper_log_mel(&fe, pcm, n, out, &err), CF_OK, "%s", err.message);
            double worst = 0;
            size_t at = 0;
            bool ok = cf_test_allclose(out, ref, total, LOG_MEL_ATOL, 0, &worst, &at);
            cr_log_info("%s: max |diff| %.3g at mel %zu frame %zu", name, worst, at / (size_t)fe.n_frames,
                        at % (size_t)fe.n_frames);
            cr_expect(ok, "%s: max |diff| %g at %zu (tolerance %g)", name, worst, at, LOG_MEL_ATOL);
            free(out);
            free(pcm);
            free(ref);
            cf_whisper_features_free(&fe);
            cf_config_free(&cfg);
            checked++;
        }
    }
    free_fixtures(fx, n_fx);
    cr_assert_gt(checked, 0, "no whisper input_features in %s/audio", cf_test_fixtures());
}

/* Every Whisper model fixture's preprocessor_config.json builds an extractor with its values. */
static void check_whisper_preprocessor(const char *dir)
{
    cf_config cfg;
    cf_test_load_config(&cfg, dir, "preprocessor_config.json");
    cf_error err = {0};
    cf_whisper_features fe;
    cr_assert_eq(cf_whisper_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
    cr_assert_eq(fe.feature_size, cf_config_int(&cfg, "feature_size", -1));
    cr_assert_eq(fe.n_samples, cf_config_int(&cfg, "n_samples", fe.n_samples));
    cr_assert_eq(fe.n_frames, cf_config_int(&cfg, "nb_max_frames", fe.n_frames));
    cf_whisper_features_free(&fe);
    cf_config_free(&cfg);
}

Test(whisper_features, reads_model_preprocessor_configs)
{
    cf_test_run_cases("whisper", "preprocessor_config.json", check_whisper_preprocessor);
}

Test(whisper_features, silence_and_long_input)
{
    cf_config cfg;
    parse_config(&cfg, "{\"feature_size\": 80}");
    cf_whisper_features fe;
    cf_error err = {0};
    cr_assert_eq(cf_whisper_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
    cr_assert_eq(fe.n_frames, 3000);
    size_t total = (size_t)80 * 3000;
    float *out = malloc(total * sizeof *out);
    /* All zeros: log10(1e-10) = -10 everywhere, then (-10 + 4) / 4. */
    float zero = 0.0f;
    cr_assert_eq(cf_whisper_log_mel(&fe, &zero, 1, out, &err), CF_OK, "%s", err.message);
    for (size_t i = 0; i < total; i++)
        cr_assert_float_eq(out[i], -1.5f, 1e-6, "at %zu: %f", i, (double)out[i]);
    /* Input past 30 s is cut: 40 s of a tone gives the same as its first 30 s. */
    size_t n = 40 * 16000;
    float *tone = malloc(n * sizeof *tone);
    for (size_t i = 0; i < n; i++)
        tone[i] = 0.1f * sinf(2.0f * (float)M_PI * 440.0f * (float)i / 16000.0f);
    float *cut = malloc(total * sizeof *cut);
    cr_assert_eq(cf_whisper_log_mel(&fe, tone, n, out, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_whisper_log_mel(&fe, tone, 30 * 16000, cut, &err), CF_OK, "%s", err.message);
    cr_assert_eq(memcmp(out, cut, total * sizeof *out), 0);
    free(tone);
    free(cut);
    free(out);
    cf_whisper_features_free(&fe);
    cf_config_free(&cfg);
}

Test(whisper_features, bad_configs)
{
    const char *bad[] = {"{\"feature_size\": 0}", "{\"n_fft\": 401}", "{\"hop_length\": -3}",
                         "{\"sampling_rate\": 0}", "{\"chunk_length\": 0}", "{\"feature_size\": 100000}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cf_config cfg;
        parse_config(&cfg, bad[i]);
        cf_whisper_features fe;
        cf_error err = {0};
        cr_expect_neq(cf_whisper_features_init(&fe, &cfg, &err), CF_OK, "%s accepted", bad[i]);
        cr_expect(strstr(err.message, "preprocessor_config.json"), "%s: %s", bad[i], err.message);
        cf_whisper_features_free(&fe);
        cf_config_free(&cfg);
    }
}

/* Slaney mel scale round trip and a known value (1 kHz is 15 mels on Slaney's scale). */
Test(whisper_features, mel_scales)
{
    cr_assert_float_eq(cf_hertz_to_mel(1000.0, CF_MEL_SLANEY), 15.0, 1e-12);
    cr_assert_float_eq(cf_hertz_to_mel(1000.0, CF_MEL_HTK), 1000.0, 0.1);
    for (double hz = 0; hz < 20000; hz += 777)
        for (int s = 0; s < 3; s++)
            cr_assert_float_eq(cf_mel_to_hertz(cf_hertz_to_mel(hz, (cf_mel_scale)s), (cf_mel_scale)s), hz, 1e-7);
}

/* ---------------------------------------------------------------- Wav2Vec2 ---- */

/* The description expected.json gives a "wav2vec2_<kind>" tensor group, e.g. "raw": "..., do_normalize False". */
static bool group_normalizes(const fixture *f, const char *group)
{
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(f->expected, "wav2vec2");
    const char *kind = strchr(group, '_') ? strchr(group, '_') + 1 : group;
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(w, kind);
    return !(cJSON_IsString(desc) && strstr(desc->valuestring, "do_normalize False"));
}

Test(wav2vec2_features, input_values_match_transformers)
{
    fixture *fx = NULL;
    size_t n_fx = load_fixtures(&fx);
    size_t checked = 0;
    for (size_t c = 0; c < n_fx; c++) {
        for (size_t t = 0; t < cf_st_count(fx[c].st); t++) {
            const char *name = cf_st_name(fx[c].st, t);
            const char *dot = strstr(name, ".input_values");
            if (strncmp(name, "wav2vec2", 8) != 0 || !dot)
                continue;
            char group[256], mask_name[300];
            snprintf(group, sizeof group, "%.*s", (int)(dot - name), name);
            snprintf(mask_name, sizeof mask_name, "%s.attention_mask", group);
            const cf_tensor *ref_t = cf_st_at(fx[c].st, t);
            const cf_tensor *mask_t = cf_st_find(fx[c].st, mask_name);
            size_t batch = ref_t->ndim == 2 ? (size_t)ref_t->shape[0] : 1;
            size_t len = (size_t)ref_t->shape[ref_t->ndim - 1];

            /* Row lengths: from the attention mask, else the whole row. */
            size_t lengths[16];
            const float *clips[16];
            float *owned[16];
            cr_assert_leq(batch, 16);
            for (size_t b = 0; b < batch; b++) {
                lengths[b] = len;
                if (mask_t) {
                    cr_assert_eq(mask_t->dtype, CF_DTYPE_I32);
                    const int32_t *m = (const int32_t *)mask_t->data + b * len;
                    lengths[b] = 0;
                    for (size_t i = 0; i < len; i++)
                        lengths[b] += m[i] != 0;
                }
                char input[256];
                size_t n = 0;
                owned[b] = waveform(&fx[c], input_with_length(&fx[c], lengths[b], input, sizeof input), &n);
                clips[b] = owned[b];
            }
            char json[256];
            snprintf(json, sizeof json, "{\"do_normalize\": %s, \"return_attention_mask\": %s}",
                     group_normalizes(&fx[c], group) ? "true" : "false", mask_t ? "true" : "false");
            cf_config cfg;
            parse_config(&cfg, json);
            cf_wav2vec2_features fe;
            cf_error err = {0};
            cr_assert_eq(cf_wav2vec2_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
            float *values = NULL;
            int32_t *mask = NULL;
            size_t out_len = 0;
            cr_assert_eq(cf_wav2vec2_batch(&fe, clips, lengths, batch, &values, &mask, &out_len, &err), CF_OK, "%s",
                         err.message);
            cr_assert_eq(out_len, len);
            float *ref = NULL;
            cr_assert_eq(cf_st_get_f32(fx[c].st, name, ref_t->ndim, ref_t->shape, &ref, &err), CF_OK, "%s",
                         err.message);
            double worst = 0;
            size_t at = 0;
            double atol = fe.do_normalize ? W2V2_ATOL : 0.0;
            bool ok = cf_test_allclose(values, ref, batch * len, atol, 0, &worst, &at);
            cr_log_info("%s (do_normalize %d, mask %d): max |diff| %.3g", name, fe.do_normalize, mask != NULL, worst);
            cr_expect(ok, "%s: max |diff| %g at %zu (tolerance %g)", name, worst, at, atol);
            if (mask_t)
                cr_expect_eq(memcmp(mask, mask_t->data, batch * len * sizeof *mask), 0, "%s differs", mask_name);
            else
                cr_expect_null(mask);
            free(values);
            free(mask);
            free(ref);
            for (size_t b = 0; b < batch; b++)
                free(owned[b]);
            cf_config_free(&cfg);
            checked++;
        }
    }
    free_fixtures(fx, n_fx);
    cr_assert_gt(checked, 0, "no wav2vec2 input_values in %s/audio", cf_test_fixtures());
}

static void check_wav2vec2_preprocessor(const char *dir)
{
    cf_config cfg;
    cf_test_load_config(&cfg, dir, "preprocessor_config.json");
    cf_error err = {0};
    cf_wav2vec2_features fe;
    cr_assert_eq(cf_wav2vec2_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
    cr_assert_eq(fe.return_attention_mask, cf_config_bool(&cfg, "return_attention_mask", false));
    cr_assert_eq(fe.do_normalize, cf_config_bool(&cfg, "do_normalize", true));
    cr_assert_eq(fe.sampling_rate, cf_config_int(&cfg, "sampling_rate", -1));
    cf_config_free(&cfg);
}

Test(wav2vec2_features, reads_model_preprocessor_configs)
{
    cr_assert_gt(cf_test_run_cases("wav2vec2", "preprocessor_config.json", check_wav2vec2_preprocessor), 0);
}

/* Without an attention mask transformers normalizes the padded row, zeros included. */
Test(wav2vec2_features, padding_without_mask_normalizes_whole_row)
{
    cf_config cfg;
    parse_config(&cfg, "{\"do_normalize\": true, \"return_attention_mask\": false}");
    cf_wav2vec2_features fe;
    cf_error err = {0};
    cr_assert_eq(cf_wav2vec2_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
    const float a[4] = {1, 2, 3, 4}, b[2] = {1, 3};
    const float *clips[2] = {a, b};
    size_t lengths[2] = {4, 2}, len = 0;
    float *values = NULL;
    int32_t *mask = NULL;
    cr_assert_eq(cf_wav2vec2_batch(&fe, clips, lengths, 2, &values, &mask, &len, &err), CF_OK, "%s", err.message);
    cr_assert_eq(len, 4);
    cr_assert_null(mask);
    float row[4] = {1, 3, 0, 0}; /* mean 1, variance 1.5 */
    for (int i = 0; i < 4; i++)
        cr_assert_float_eq(values[4 + i], (row[i] - 1.0f) / sqrtf(1.5f + 1e-7f), 1e-6);
    free(values);
    cr_assert_eq(cf_wav2vec2_batch(&fe, clips, (size_t[]){4, 0}, 2, &values, &mask, &len, &err), CF_ERR_INVALID_ARG);
    cf_config_free(&cfg);
    parse_config(&cfg, "{\"padding_side\": \"left\"}");
    cr_assert_eq(cf_wav2vec2_features_init(&fe, &cfg, &err), CF_ERR_UNSUPPORTED);
    cf_config_free(&cfg);
}

/* ------------------------------------------------- model fixtures, end to end ---- */

/* Features from the audio file a model case names (inputs.json "audio"), computed as its
 * preprocessor_config.json says, against the tensor the model was run on. */
static bool check_model_case(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    cJSON *inputs = cf_file_exists(path) ? cf_test_read_json(path) : NULL;
    const cJSON *audio = cJSON_GetObjectItemCaseSensitive(inputs, "audio");
    snprintf(path, sizeof path, "%s/expected.safetensors", dir);
    if (!cJSON_IsString(audio) || !cf_file_exists(path)) {
        cJSON_Delete(inputs);
        return false;
    }
    cf_safetensors *st = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
    cf_config cfg;
    snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
    cr_assert_eq(cf_config_load(&cfg, path, &err), CF_OK, "%s", err.message);
    const char *type = cf_config_str(&cfg, "feature_extractor_type", "");
    bool whisper = strcmp(type, "WhisperFeatureExtractor") == 0;
    const char *tensor = whisper ? "input_features" : "input_values";
    const cf_tensor *ref_t = cf_st_find(st, tensor);
    if (ref_t) {
        int rate = (int)cf_config_int(&cfg, "sampling_rate", 16000);
        snprintf(path, sizeof path, "%s/%s", dir, audio->valuestring);
        float *pcm = NULL;
        size_t n = 0;
        cr_assert_eq(cf_audio_load_file(path, rate, 0, &pcm, &n, &err), CF_OK, "%s", err.message);
        float *ref = NULL;
        cr_assert_eq(cf_st_get_f32(st, tensor, ref_t->ndim, ref_t->shape, &ref, &err), CF_OK, "%s", err.message);
        size_t total = (size_t)cf_tensor_numel(ref_t);
        float *out = NULL;
        double atol;
        if (whisper) {
            cf_whisper_features fe;
            cr_assert_eq(cf_whisper_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
            cr_assert_eq(total, (size_t)fe.feature_size * (size_t)fe.n_frames);
            out = malloc(total * sizeof *out);
            cr_assert_eq(cf_whisper_log_mel(&fe, pcm, n, out, &err), CF_OK, "%s", err.message);
            cf_whisper_features_free(&fe);
            atol = LOG_MEL_ATOL;
        } else {
            cf_wav2vec2_features fe;
            cr_assert_eq(cf_wav2vec2_features_init(&fe, &cfg, &err), CF_OK, "%s", err.message);
            int32_t *mask = NULL;
            size_t len = 0;
            const float *clip = pcm;
            cr_assert_eq(cf_wav2vec2_batch(&fe, &clip, &n, 1, &out, &mask, &len, &err), CF_OK, "%s", err.message);
            cr_assert_eq(len, total, "%s: %zu samples decoded, the model saw %zu", path, len, total);
            free(mask);
            atol = W2V2_ATOL;
        }
        double worst = 0;
        bool ok = cf_test_allclose(out, ref, total, atol, 0, &worst, NULL);
        cr_log_info("%s -> %s/%s: max |diff| %.3g", audio->valuestring, dir, tensor, worst);
        cr_expect(ok, "%s: %s from %s differs by %g (tolerance %g)", dir, tensor, audio->valuestring, worst, atol);
        free(out);
        free(ref);
        free(pcm);
    }
    cf_config_free(&cfg);
    cf_st_close(st);
    cJSON_Delete(inputs);
    return ref_t != NULL;
}

Test(model_fixtures, features_from_audio_files)
{
    const char *families[] = {"whisper", "wav2vec2"};
    size_t checked = 0;
    for (size_t f = 0; f < 2; f++) {
        char **cases = NULL;
        size_t n = cf_test_cases(families[f], "preprocessor_config.json", &cases);
        for (size_t i = 0; i < n; i++)
            checked += check_model_case(cases[i]);
        cf_test_free_list(cases, n);
    }
    cr_assert_gt(checked, 0, "no whisper/wav2vec2 case with inputs.json \"audio\" and its input tensor");
}
