/* Speech pipelines against the Python reference: every `calls` entry of every whisper/ and
 * wav2vec2/ fixture case is replayed through cf_pipeline_run_once (what `cformer run TASK -m DIR
 * --json PAYLOAD` does) with inputs = the case folder's audio file. Texts and labels must be
 * exact; scores within 1e-5 and timestamps within 1e-6 (they are rounded to 0.01 s).
 * Whisper's decoding rules are also checked directly: each stored generate_*.sequences is
 * regenerated from the stored input_features with the language, task and timestamp mode its
 * own forced tokens name. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_compare.h"
#include "common/testutil.h"
#include "generation/gen_config.h"
#include "generation/whisper_decode.h"
#include "io/safetensors.h"
#include "models/whisper.h"
#include "pipelines/pipeline.h"

static const cf_json_tolerance k_tol = {.score_atol = 1e-5, .value_atol = 1e-6, .value_rtol = 0};

/* {"inputs": "<case>/<args[0]>", "parameters": kwargs} */
static char *payload_of(const char *dir, const cJSON *call)
{
    const cJSON *args = cJSON_GetObjectItem(call, "args"), *kwargs = cJSON_GetObjectItem(call, "kwargs");
    const cJSON *file = cJSON_GetArrayItem(args, 0);
    cr_assert(cJSON_IsString(file), "%s: call without an audio file argument", dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file->valuestring);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "inputs", path);
    cJSON_AddItemToObject(p, "parameters", kwargs ? cJSON_Duplicate(kwargs, 1) : cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return s;
}

static size_t replay_case(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    cJSON *expected = cf_test_read_json(path);
    cr_assert(expected, "%s: unreadable expected.json", dir);
    size_t n = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
    {
        const cJSON *call = cJSON_GetObjectItem(entry, "call");
        const char *task = cJSON_GetObjectItem(call, "task")->valuestring;
        char *payload = payload_of(dir, call), *out = NULL;
        cf_error err = {0};
        cf_status s = cf_pipeline_run_once(task, dir, NULL, payload, &out, &err);
        cr_expect_eq(s, CF_OK, "%s: %s %s: %s", dir, task, payload, err.message);
        if (s == CF_OK) {
            cJSON *got = cJSON_Parse(out);
            char why[512];
            bool ok = cf_json_matches(got, cJSON_GetObjectItem(entry, "output"), &k_tol, why, sizeof why);
            cr_expect(ok, "%s: %s %s: %s\n got %s", dir, task, payload, why, out);
            cJSON_Delete(got);
        }
        free(out);
        free(payload);
        n++;
    }
    cJSON_Delete(expected);
    return n;
}

static void replay_family(const char *family)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "expected.json", &dirs), calls = 0;
    cr_assert_gt(n, 0, "no %s fixture cases under %s", family, cf_test_fixtures());
    for (size_t i = 0; i < n; i++)
        calls += replay_case(dirs[i]);
    cr_expect_gt(calls, 0, "%s: no pipeline calls replayed", family);
    cf_test_free_list(dirs, n);
}

Test(speech_pipelines, wav2vec2_calls) { replay_family("wav2vec2"); }

Test(speech_pipelines, whisper_calls) { replay_family("whisper"); }

/* ------------------------------------------------ Whisper's decoding rules ---- */

static void check_sequence(const char *dir, cf_whisper *m, const cf_whisper_gen_info *info, const cf_gen_config *base,
                           const float *features, const cf_tensor *t, const char *name)
{
    int64_t n = cf_tensor_numel(t);
    const int64_t *want = t->data;
    cr_assert_geq(n, 4, "%s: %s is too short to name its language and task", dir, name);
    const char *lang = cf_whisper_language_code(info, want[1]);
    cr_assert(lang, "%s: %s: token %lld at step 1 is no language", dir, name, (long long)want[1]);
    cf_whisper_request req = {.language = lang, .task = want[2] == info->translate_id ? "translate" : "transcribe",
                              .return_timestamps = want[3] != info->no_timestamps, .features = features,
                              .n_mels = cf_whisper_n_mels(m), .n_frames = cf_whisper_n_frames(m)};
    cf_gen_config g;
    cf_error err = {0};
    cr_assert_eq(cf_gen_config_copy(&g, base, &err), CF_OK);
    g.max_new_tokens = want[n - 1] == info->eos ? -1 : n - 1;
    cf_lm lm = cf_whisper_as_lm(m);
    int64_t *ids = NULL, got_n = 0;
    cr_assert_eq(cf_whisper_generate(&lm, info, &g, &req, &ids, &got_n, &err), CF_OK, "%s", err.message);
    cr_expect_eq(got_n, n, "%s: %s: %lld tokens, want %lld", dir, name, (long long)got_n, (long long)n);
    for (int64_t i = 0; i < n && i < got_n; i++)
        cr_expect_eq(ids[i], want[i], "%s: %s: token %lld is %lld, want %lld", dir, name, (long long)i,
                     (long long)ids[i], (long long)want[i]);
    free(ids);
    cf_gen_config_free(&g);
}

Test(speech_pipelines, whisper_generate_sequences)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("whisper", "expected.safetensors", &dirs), checked = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        cf_error err = {0};
        snprintf(path, sizeof path, "%s/expected.safetensors", dirs[i]);
        cf_safetensors *st = NULL;
        cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
        cf_config cfg;
        snprintf(path, sizeof path, "%s/config.json", dirs[i]);
        cr_assert_eq(cf_config_load(&cfg, path, &err), CF_OK, "%s", err.message);
        cf_whisper *m = NULL;
        cr_assert_eq(cf_whisper_load(dirs[i], &cfg, &m, &err), CF_OK, "%s", err.message);
        cf_whisper_gen_info info;
        cr_assert_eq(cf_whisper_gen_info_load(&info, dirs[i], &err), CF_OK, "%s", err.message);
        cf_gen_config base;
        cf_gen_config_defaults(&base);
        cr_assert_eq(cf_gen_config_load(&base, dirs[i], &cfg, NULL, &err), CF_OK, "%s", err.message);
        const cf_tensor *feat = cf_st_find(st, "input_features");
        cr_assert(feat && feat->dtype == CF_DTYPE_F32);
        for (size_t k = 0; k < cf_st_count(st); k++) {
            const char *name = cf_st_name(st, k);
            size_t len = strlen(name);
            if (len > 10 && !strcmp(name + len - 10, ".sequences") && cf_st_at(st, k)->dtype == CF_DTYPE_I64) {
                check_sequence(dirs[i], m, &info, &base, feat->data, cf_st_at(st, k), name);
                checked++;
            }
        }
        cf_gen_config_free(&base);
        cf_whisper_gen_info_free(&info);
        cf_whisper_free(m);
        cf_config_free(&cfg);
        cf_st_close(st);
    }
    cr_expect_gt(checked, 0, "no generate_*.sequences tensors found");
    cf_test_free_list(dirs, n);
}

/* ---------------------------------------------------------- bad requests ---- */

/* The first case of `family` whose config.json architectures mention `head`. */
static bool case_with_head(const char *family, const char *head, char *dir, size_t size)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "config.json", &dirs);
    bool found = false;
    for (size_t i = 0; i < n && !found; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/config.json", dirs[i]);
        cJSON *cfg = cf_test_read_json(path);
        const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
        if (cJSON_IsString(arch) && strstr(arch->valuestring, head)) {
            snprintf(dir, size, "%s", dirs[i]);
            found = true;
        }
        cJSON_Delete(cfg);
    }
    cf_test_free_list(dirs, n);
    return found;
}

static void expect_error(const char *family, const char *head, const char *task, const char *payload_fmt,
                         const char *needle)
{
    char dir[4096];
    cr_assert(case_with_head(family, head, dir, sizeof dir), "no %s case with a %s head", family, head);
    char payload[8192];
    snprintf(payload, sizeof payload, payload_fmt, dir);
    char *out = NULL;
    cf_error err = {0};
    cf_status s = cf_pipeline_run_once(task, dir, NULL, payload, &out, &err);
    cr_expect_neq(s, CF_OK, "%s should fail", payload);
    cr_expect(strstr(err.message, needle) != NULL, "%s: message '%s' should mention '%s'", payload, err.message,
              needle);
    free(out);
}

Test(speech_pipelines, bad_requests_name_the_problem)
{
    const char *asr = "automatic-speech-recognition", *w = "Whisper";
    expect_error("whisper", w, asr, "{\"inputs\": \"%s/no-such-file.wav\"}", "no-such-file.wav");
    expect_error("whisper", w, asr, "{\"inputs\": 5}", "path of an audio file");
    expect_error("whisper", w, asr, "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"top_k\": 3}}", "top_k");
    expect_error("whisper", w, asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"generate_kwargs\": {\"language\": \"xx\"}}}",
                 "xx");
    expect_error("whisper", w, asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"chunk_length_s\": 10, \"stride_length_s\": 5}}",
                 "chunk_length_s");
    expect_error("wav2vec2", "ForCTC", asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"return_timestamps\": true}}",
                 "return_timestamps");
    expect_error("wav2vec2", "ForCTC", "audio-classification", "{\"inputs\": \"%s/jfk.flac\"}",
                 "Wav2Vec2ForSequenceClassification");
    expect_error("wav2vec2", "ForSequenceClassification", "audio-classification", "{\"inputs\": \"%s/config.json\"}",
                 "config.json");
    expect_error("wav2vec2", "ForSequenceClassification", "audio-classification",
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"top_k\": 0}}", "top_k");
}
