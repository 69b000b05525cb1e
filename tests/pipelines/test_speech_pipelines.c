/* Speech pipelines against the Python reference: every `calls` entry of every whisper/ and
 * wav2vec2/ fixture case is replayed through cf_pipeline_run_once (what `cformer run TASK -m DIR
 * --json PAYLOAD` does) with inputs = the case folder's audio file. Texts and labels must be
 * exact; scores within 1e-5 and timestamps within 1e-6 (they are rounded to 0.01 s).
 * Whisper's decoding rules are also checked directly: each stored generate_*.sequences is
 * regenerated from the stored input_features with the language, task and timestamp mode its
 * own forced tokens name.
 * Calls respelled the ways 4.35.2 takes them must give the recorded output: a language as a name
 * ("english"), capitalised, or an upper-case token ("<|EN|>"); is_multilingual true (false
 * refuses a language/task as generate() does). return_language keeps the recorded text and
 * timestamps and names each chunk's language. CTC "char"/"word" timestamps have no recorded
 * output: their spans are checked to be whole frames, in order, spelling the text, words built
 * from characters. CTC windows batched without padding must equal batch_size 1. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ------------------------------------------- the same call, spelled otherwise ---- */

typedef void (*call_fn)(const char *dir, const cJSON *call, const cJSON *output);

/* f(dir, call, output) for every recorded call of every case of `family`. */
static size_t for_each_call(const char *family, call_fn f)
{
    char **dirs = NULL;
    size_t n = cf_test_cases(family, "expected.json", &dirs), calls = 0;
    cr_assert_gt(n, 0, "no %s fixture cases under %s", family, cf_test_fixtures());
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/expected.json", dirs[i]);
        cJSON *expected = cf_test_read_json(path);
        const cJSON *entry;
        cJSON_ArrayForEach(entry, cJSON_GetObjectItem(expected, "calls"))
        {
            f(dirs[i], cJSON_GetObjectItem(entry, "call"), cJSON_GetObjectItem(entry, "output"));
            calls++;
        }
        cJSON_Delete(expected);
    }
    cf_test_free_list(dirs, n);
    return calls;
}

/* Run `call` with its kwargs changed by edit(kwargs, ctx); *out parsed (NULL on error, err filled). */
static cJSON *run_edited(const char *dir, const cJSON *call, void (*edit)(cJSON *kwargs, const void *ctx),
                         const void *ctx, cf_error *err)
{
    cJSON *copy = cJSON_Duplicate(call, 1);
    cJSON *kwargs = cJSON_GetObjectItem(copy, "kwargs");
    if (!kwargs)
        kwargs = cJSON_AddObjectToObject(copy, "kwargs");
    edit(kwargs, ctx);
    char *payload = payload_of(dir, copy), *out = NULL;
    cf_status s = cf_pipeline_run_once(cJSON_GetObjectItem(call, "task")->valuestring, dir, NULL, payload, &out, err);
    cJSON *got = s == CF_OK ? cJSON_Parse(out) : NULL;
    free(out);
    free(payload);
    cJSON_Delete(copy);
    return got;
}

static const char *given_language(const cJSON *call)
{
    const cJSON *gk = cJSON_GetObjectItem(cJSON_GetObjectItem(call, "kwargs"), "generate_kwargs");
    const cJSON *lang = cJSON_GetObjectItem(gk, "language");
    return cJSON_IsString(lang) ? lang->valuestring : NULL;
}

static void set_language(cJSON *kwargs, const void *ctx)
{
    cJSON *gk = cJSON_GetObjectItem(kwargs, "generate_kwargs");
    cJSON_ReplaceItemInObject(gk, "language", cJSON_CreateString(ctx));
}

/* generate() lowercases the language and takes a lang_to_id token, a name or an alias, or a
 * code: every spelling of the recorded call's language must give the recorded output. */
static void check_language_spellings(const char *dir, const cJSON *call, const cJSON *output)
{
    const char *code = given_language(call);
    if (!code)
        return;
    const char *name = cf_whisper_language_name(code);
    cr_assert(name, "%s: recorded language \"%s\" has no Whisper name", dir, code);
    char capital[64], token[64];
    snprintf(capital, sizeof capital, "%s", name);
    capital[0] = (char)(capital[0] - 'a' + 'A');
    snprintf(token, sizeof token, "<|%s|>", code);
    for (char *p = token; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    const char *spellings[3] = {name, capital, token};
    for (int i = 0; i < 3; i++) {
        cf_error err = {0};
        cJSON *got = run_edited(dir, call, set_language, spellings[i], &err);
        cr_expect(got, "%s: language \"%s\": %s", dir, spellings[i], err.message);
        char why[512];
        cr_expect(!got || cf_json_matches(got, output, &k_tol, why, sizeof why), "%s: language \"%s\" (for \"%s\"): %s",
                  dir, spellings[i], code, why);
        cJSON_Delete(got);
    }
}

Test(speech_pipelines, whisper_language_names_codes_and_tokens)
{
    cr_expect_gt(for_each_call("whisper", check_language_spellings), 0);
}

static void add_return_language(cJSON *kwargs, const void *ctx)
{
    (void)ctx;
    cJSON_AddTrueToObject(kwargs, "return_language");
}

/* return_language: the same text; chunks (with their timestamps when asked) each name a
 * language, the forced one when the call gives it. */
static void check_return_language(const char *dir, const cJSON *call, const cJSON *output)
{
    cf_error err = {0};
    cJSON *got = run_edited(dir, call, add_return_language, NULL, &err);
    cr_assert(got, "%s: return_language: %s", dir, err.message);
    const char *text = cJSON_GetObjectItem(got, "text")->valuestring;
    cr_expect_str_eq(text, cJSON_GetObjectItem(output, "text")->valuestring, "%s: return_language changed the text",
                     dir);
    const cJSON *chunks = cJSON_GetObjectItem(got, "chunks"), *want = cJSON_GetObjectItem(output, "chunks"), *c;
    cr_assert(cJSON_IsArray(chunks), "%s: return_language gives no chunks", dir);
    if (want)
        cr_expect_eq(cJSON_GetArraySize(chunks), cJSON_GetArraySize(want), "%s: chunk count", dir);
    const char *forced = given_language(call);
    size_t len = 0;
    int i = 0;
    cJSON_ArrayForEach(c, chunks)
    {
        const cJSON *lang = cJSON_GetObjectItem(c, "language");
        cr_expect(cJSON_IsString(lang) || cJSON_IsNull(lang), "%s: chunk %d has no language", dir, i);
        if (forced)
            cr_expect(cJSON_IsString(lang) && !strcmp(lang->valuestring, cf_whisper_language_name(forced)),
                      "%s: chunk %d language should be %s", dir, i, cf_whisper_language_name(forced));
        const cJSON *w = cJSON_GetArrayItem(want, i);
        if (w) {
            char why[512];
            cr_expect(cf_json_matches(cJSON_GetObjectItem(c, "timestamp"), cJSON_GetObjectItem(w, "timestamp"), &k_tol,
                                      why, sizeof why), "%s: chunk %d timestamp: %s", dir, i, why);
            cr_expect_str_eq(cJSON_GetObjectItem(c, "text")->valuestring, cJSON_GetObjectItem(w, "text")->valuestring);
        } else {
            cr_expect_null(cJSON_GetObjectItem(c, "timestamp"), "%s: timestamps were not asked", dir);
        }
        len += strlen(cJSON_GetObjectItem(c, "text")->valuestring);
        i++;
    }
    cr_expect_eq(len, strlen(text), "%s: the chunks' texts do not add up to the text", dir);
    cJSON_Delete(got);
}

Test(speech_pipelines, whisper_return_language)
{
    cr_expect_gt(for_each_call("whisper", check_return_language), 0);
}

static void set_english_only(cJSON *kwargs, const void *ctx)
{
    cJSON *gk = cJSON_GetObjectItem(kwargs, "generate_kwargs");
    if (!gk)
        gk = cJSON_AddObjectToObject(kwargs, "generate_kwargs");
    cJSON_AddBoolToObject(gk, "is_multilingual", ctx != NULL);
}

/* is_multilingual false: a language or task is refused as generate() refuses it; without them the
 * prompt is the model's own forced_decoder_ids, as before. */
static void check_english_only(const char *dir, const cJSON *call, const cJSON *output)
{
    const cJSON *gk = cJSON_GetObjectItem(cJSON_GetObjectItem(call, "kwargs"), "generate_kwargs");
    bool told = cJSON_GetObjectItem(gk, "language") || cJSON_GetObjectItem(gk, "task");
    cf_error err = {0};
    cJSON *got = run_edited(dir, call, set_english_only, NULL, &err);
    if (told) {
        cr_expect_null(got, "%s: a language/task for an English-only model should fail", dir);
        cr_expect(strstr(err.message, "English-only") != NULL, "%s: %s", dir, err.message);
    } else {
        char why[512];
        cr_expect(got && cf_json_matches(got, output, &k_tol, why, sizeof why), "%s: is_multilingual false: %s", dir,
                  got ? why : err.message);
    }
    cJSON_Delete(got);
    got = run_edited(dir, call, set_english_only, "multilingual", &err); /* is_multilingual true: as recorded */
    char why[512];
    cr_expect(got && cf_json_matches(got, output, &k_tol, why, sizeof why), "%s: is_multilingual true: %s", dir,
              got ? why : err.message);
    cJSON_Delete(got);
}

Test(speech_pipelines, whisper_english_only_models)
{
    cr_expect_gt(for_each_call("whisper", check_english_only), 0);
}

/* ------------------------------------------------------ CTC timestamps ---- */

static void set_timestamps(cJSON *kwargs, const void *ctx)
{
    cJSON_AddStringToObject(kwargs, "return_timestamps", ctx);
}

static char *without_spaces(const char *s)
{
    char *o = malloc(strlen(s) + 1), *p = o;
    for (; *s; s++)
        if (*s != ' ')
            *p++ = *s;
    *p = '\0';
    return o;
}

/* Seconds per logits frame: the product of the conv strides over the sampling rate. */
static double frame_seconds(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *cfg = cf_test_read_json(path), *v;
    double ratio = 1;
    cJSON_ArrayForEach(v, cJSON_GetObjectItem(cfg, "conv_stride")) ratio *= v->valuedouble;
    cJSON_Delete(cfg);
    return ratio / 16000.0;
}

/* Spans of "char" (and "word") chunks: whole frames, in order, non-empty; their texts spell the
 * transcript (spaces aside: the text is stripped and cleaned up). Returns the chunks' texts joined. */
static char *check_spans(const char *dir, const char *mode, const cJSON *chunks, double frame)
{
    const cJSON *c;
    double last_end = 0;
    size_t len = 0;
    cJSON_ArrayForEach(c, chunks) len += strlen(cJSON_GetObjectItem(c, "text")->valuestring);
    char *joined = calloc(len + 1, 1);
    cJSON_ArrayForEach(c, chunks)
    {
        const cJSON *ts = cJSON_GetObjectItem(c, "timestamp");
        double a = cJSON_GetArrayItem(ts, 0)->valuedouble, b = cJSON_GetArrayItem(ts, 1)->valuedouble;
        cr_expect(a < b && a >= last_end - 1e-9, "%s: %s chunk [%g, %g] after %g", dir, mode, a, b, last_end);
        cr_expect(fabs(a / frame - nearbyint(a / frame)) < 1e-6 && fabs(b / frame - nearbyint(b / frame)) < 1e-6,
                  "%s: %s chunk [%g, %g] is not on %g s frames", dir, mode, a, b, frame);
        strcat(joined, cJSON_GetObjectItem(c, "text")->valuestring);
        last_end = b;
    }
    return joined;
}

static void check_ctc_timestamps(const char *dir, const cJSON *call, const cJSON *output)
{
    if (strcmp(cJSON_GetObjectItem(call, "task")->valuestring, "automatic-speech-recognition"))
        return;
    double frame = frame_seconds(dir);
    char *want = without_spaces(cJSON_GetObjectItem(output, "text")->valuestring);
    cJSON *per_mode[2] = {0};
    static const char *const modes[2] = {"char", "word"};
    for (int m = 0; m < 2; m++) {
        cf_error err = {0};
        cJSON *got = run_edited(dir, call, set_timestamps, modes[m], &err);
        cr_assert(got, "%s: return_timestamps %s: %s", dir, modes[m], err.message);
        cr_expect_str_eq(cJSON_GetObjectItem(got, "text")->valuestring, cJSON_GetObjectItem(output, "text")->valuestring,
                         "%s: return_timestamps %s changed the text", dir, modes[m]);
        char *joined = check_spans(dir, modes[m], cJSON_GetObjectItem(got, "chunks"), frame);
        char *spelled = without_spaces(joined);
        cr_expect_str_eq(spelled, want, "%s: %s chunks do not spell the text", dir, modes[m]);
        free(spelled);
        free(joined);
        per_mode[m] = got;
    }
    /* a word spans from its first character's start to its last character's end */
    const cJSON *w, *c;
    cJSON_ArrayForEach(w, cJSON_GetObjectItem(per_mode[1], "chunks"))
    {
        double a = cJSON_GetArrayItem(cJSON_GetObjectItem(w, "timestamp"), 0)->valuedouble;
        double b = cJSON_GetArrayItem(cJSON_GetObjectItem(w, "timestamp"), 1)->valuedouble;
        bool starts = false, ends = false;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(per_mode[0], "chunks"))
        {
            starts |= cJSON_GetArrayItem(cJSON_GetObjectItem(c, "timestamp"), 0)->valuedouble == a;
            ends |= cJSON_GetArrayItem(cJSON_GetObjectItem(c, "timestamp"), 1)->valuedouble == b;
        }
        cr_expect(starts && ends, "%s: word [%g, %g] does not start and end on characters", dir, a, b);
        cr_expect_null(strchr(cJSON_GetObjectItem(w, "text")->valuestring, ' '), "%s: a word holds a space", dir);
    }
    cJSON_Delete(per_mode[0]);
    cJSON_Delete(per_mode[1]);
    free(want);
}

Test(speech_pipelines, ctc_char_and_word_timestamps)
{
    cr_expect_gt(for_each_call("wav2vec2", check_ctc_timestamps), 0);
}

/* ---------------------------------------------------- CTC batches of windows ---- */

#include "media/audio.h"

/* A 16 kHz 16-bit mono WAV of the first n samples of the case's jfk.flac, in a temporary file. */
static void write_clip(const char *dir, size_t n, char *path, size_t size)
{
    char src[4096];
    snprintf(src, sizeof src, "%s/jfk.flac", dir);
    float *pcm = NULL;
    size_t have = 0;
    cf_error err = {0};
    cr_assert_eq(cf_audio_load_file(src, 16000, 0, &pcm, &have, &err), CF_OK, "%s", err.message);
    cr_assert_geq(have, n, "%s: jfk.flac is shorter than %zu samples", dir, n);
    snprintf(path, size, "/tmp/cf_speech_clip_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "wb");
    uint32_t data = (uint32_t)(n * 2), riff = 36 + data, fmt_size = 16, rate = 16000, byte_rate = 32000;
    uint16_t pcm_fmt = 1, channels = 1, align = 2, bits = 16;
    fwrite("RIFF", 1, 4, f), fwrite(&riff, 4, 1, f), fwrite("WAVEfmt ", 1, 8, f), fwrite(&fmt_size, 4, 1, f);
    fwrite(&pcm_fmt, 2, 1, f), fwrite(&channels, 2, 1, f), fwrite(&rate, 4, 1, f), fwrite(&byte_rate, 4, 1, f);
    fwrite(&align, 2, 1, f), fwrite(&bits, 2, 1, f), fwrite("data", 1, 4, f), fwrite(&data, 4, 1, f);
    for (size_t i = 0; i < n; i++) {
        float v = pcm[i] * 32767.0f;
        int16_t s = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        fwrite(&s, 2, 1, f);
    }
    fclose(f);
    free(pcm);
}

static char *run_payload(const char *dir, const char *fmt, const char *clip, int batch)
{
    char payload[8192];
    snprintf(payload, sizeof payload, fmt, clip, batch);
    char *out = NULL;
    cf_error err = {0};
    cr_assert_eq(cf_pipeline_run_once("automatic-speech-recognition", dir, NULL, payload, &out, &err), CF_OK, "%s: %s",
                 payload, err.message);
    return out;
}

/* chunk_iter windows of 1 s with a 0.2 s left stride and none on the right over 3 steps + 1 window:
 * every window is whole, so the pipeline's padded batches hold no padding and any batch_size
 * must give what batch_size 1 gives (text and char timestamps), for both kinds of model. */
Test(speech_pipelines, ctc_batched_windows_equal_unbatched)
{
    char **dirs = NULL;
    size_t n = cf_test_cases("wav2vec2", "expected.json", &dirs), checked = 0;
    const size_t step = 12800, window = 16000;
    const char *fmt = "{\"inputs\": \"%s\", \"parameters\": {\"chunk_length_s\": 1, \"stride_length_s\": [0.2, 0], "
                      "\"return_timestamps\": \"char\", \"batch_size\": %d}}";
    for (size_t i = 0; i < n; i++) {
        char cfg_path[4096];
        snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dirs[i]);
        cJSON *cfg = cf_test_read_json(cfg_path);
        const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItem(cfg, "architectures"), 0);
        bool ctc = cJSON_IsString(arch) && strstr(arch->valuestring, "ForCTC");
        cJSON_Delete(cfg);
        if (!ctc)
            continue;
        char clip[256];
        write_clip(dirs[i], 3 * step + window, clip, sizeof clip);
        char *one = run_payload(dirs[i], fmt, clip, 1);
        for (int b = 2; b <= 4; b++) {
            char *batched = run_payload(dirs[i], fmt, clip, b);
            cr_expect_str_eq(batched, one, "%s: batch_size %d differs from batch_size 1", dirs[i], b);
            free(batched);
        }
        free(one);
        remove(clip);
        checked++;
    }
    cr_expect_gt(checked, 0, "no CTC case");
    cf_test_free_list(dirs, n);
}

Test(speech_pipelines, timestamp_and_language_modes_are_checked)
{
    const char *asr = "automatic-speech-recognition", *w = "Whisper";
    expect_error("whisper", w, asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"return_timestamps\": \"char\"}}", "char");
    expect_error("whisper", w, asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"return_timestamps\": \"word\"}}", "word");
    expect_error("whisper", w, asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"generate_kwargs\": {\"task\": \"summarize\"}}}",
                 "summarize");
    expect_error("whisper", w, asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"generate_kwargs\": {\"language\": \"klingon\"}}}",
                 "klingon");
    expect_error("wav2vec2", "ForCTC", asr,
                 "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"return_timestamps\": \"segment\"}}",
                 "\"char\" or \"word\"");
    expect_error("wav2vec2", "ForCTC", asr, "{\"inputs\": \"%s/jfk.flac\", \"parameters\": {\"return_language\": true}}",
                 "return_language");
}

/* ---------------------------------------------- where forced_decoder_ids come from ---- */

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* generate() reads config.json's forced_decoder_ids (the legacy place) before
 * generation_config.json's; an English-only generation config refuses languages. */
Test(speech_pipelines, whisper_generation_settings_sources)
{
    char dir[] = "/tmp/cf_whisper_gen_XXXXXX";
    cr_assert(mkdtemp(dir));
    write_text(dir, "generation_config.json",
               "{\"decoder_start_token_id\": 50258, \"eos_token_id\": 50257, \"no_timestamps_token_id\": 50363, "
               "\"is_multilingual\": false, \"forced_decoder_ids\": [[1, null], [2, 50359]], "
               "\"lang_to_id\": {\"<|en|>\": 50259, \"<|fr|>\": 50265}, "
               "\"task_to_id\": {\"transcribe\": 50359, \"translate\": 50358}}");
    write_text(dir, "config.json", "{\"model_type\": \"whisper\", \"forced_decoder_ids\": [[1, 50259], [2, 50359], "
                                   "[3, 50363]]}");
    cf_whisper_gen_info info;
    cf_error err = {0};
    cr_assert_eq(cf_whisper_gen_info_load(&info, dir, &err), CF_OK, "%s", err.message);
    cr_expect_eq(info.n_forced, 3);
    cr_expect(info.n_forced == 3 && info.forced[0][1] == 50259 && info.forced[2][1] == 50363);
    cr_expect(info.english_only);
    int64_t id = -1;
    cr_expect_eq(cf_whisper_language_id(&info, "French", &id, &err), CF_OK, "%s", err.message);
    cr_expect_eq(id, 50265);
    cr_expect_eq(cf_whisper_language_id(&info, "german", &id, &err), CF_ERR_UNSUPPORTED);
    cr_expect(strstr(err.message, "<|de|>") != NULL, "%s", err.message);
    cr_expect_eq(cf_whisper_language_id(&info, "<|de|>", &id, &err), CF_ERR_INVALID_ARG);
    cf_whisper_gen_info_free(&info);
    char path[4096];
    snprintf(path, sizeof path, "%s/generation_config.json", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    rmdir(dir);
}
