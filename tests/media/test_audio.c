/* Audio in: decoding and resampling must give the waveform the Python pipeline's
 * `ffmpeg -i pipe:0 -ac 1 -ar R -f f32le` gives, sample for sample (tolerance 0), for the audio
 * fixtures and for the format corpus in tests/data/audio/formats; bad files get clear errors. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/buf.h"
#include "io/safetensors.h"
#include "media/audio.h"

#define RATE 16000

static const char *const k_audio_ext[] = {".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".webm"};

static bool has_audio_ext(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof k_audio_ext / sizeof *k_audio_ext; i++) {
        size_t el = strlen(k_audio_ext[i]);
        if (len > el && strcmp(name + len - el, k_audio_ext[i]) == 0)
            return true;
    }
    return false;
}

/* Largest |a - b| over n samples. */
static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0;
    (void)cf_test_allclose(a, b, n, 0, 0, &worst, NULL);
    return worst;
}

static float *read_f32(const char *path, size_t *n)
{
    char *bytes = NULL;
    size_t len = 0;
    cf_error err = {0};
    cr_assert_eq(cf_read_file(path, (size_t)1 << 30, &bytes, &len, &err), CF_OK, "%s", err.message);
    *n = len / sizeof(float);
    float *out = malloc(len ? len : 1);
    memcpy(out, bytes, len);
    free(bytes);
    return out;
}

/* Decode from the path and from the bytes; both must equal `expect` exactly. */
static void check_decode_exact(const char *path, int rate, const float *expect, size_t n_expect)
{
    float *pcm = NULL;
    size_t n = 0;
    cf_error err = {0};
    cr_assert_eq(cf_audio_load_file(path, rate, 0, &pcm, &n, &err), CF_OK, "%s", err.message);
    cr_assert_eq(n, n_expect, "%s: %zu samples, reference has %zu", path, n, n_expect);
    double diff = max_abs_diff(pcm, expect, n);
    cr_log_info("%s @ %d Hz: %zu samples, max |diff| %g", path, rate, n, diff);
    cr_expect_eq(diff, 0.0, "%s: waveform differs from ffmpeg's by up to %g (tolerance 0)", path, diff);
    free(pcm);

    char *bytes = NULL;
    size_t size = 0;
    cr_assert_eq(cf_read_file(path, CF_AUDIO_MAX_FILE_BYTES, &bytes, &size, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_audio_load_memory(bytes, size, path, rate, 0, &pcm, &n, &err), CF_OK, "%s", err.message);
    cr_assert_eq(n, n_expect);
    cr_expect_eq(max_abs_diff(pcm, expect, n), 0.0, "%s: decoding from memory differs", path);
    free(pcm);
    free(bytes);
}

/* Audio files an inputs.json entry names ("media/x.wav (from y.flac via ffmpeg)"), resolved
 * against the case folder, its media/ sibling, or its parent. */
static size_t resolve_inputs(const char *case_dir, const char *text, char paths[][4096], size_t max)
{
    size_t count = 0;
    char *copy = cf_strdup(text);
    for (char *tok = strtok(copy, " \t()[],;"); tok && count < max; tok = strtok(NULL, " \t()[],;")) {
        if (!has_audio_ext(tok))
            continue;
        const char *bases[] = {"%s/%s", "%s/../media/%s", "%s/../%s"};
        for (size_t b = 0; b < 3; b++) {
            snprintf(paths[count], 4096, bases[b], case_dir, tok);
            if (cf_file_exists(paths[count])) {
                count++;
                break;
            }
        }
    }
    free(copy);
    return count;
}

Test(audio, fixture_waveforms_match_ffmpeg)
{
    char **cases = NULL;
    size_t n_cases = cf_test_cases("audio", "expected.json", &cases);
    size_t checked = 0;
    for (size_t c = 0; c < n_cases; c++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/inputs.json", cases[c]);
        if (!cf_file_exists(path))
            continue;
        cJSON *inputs = cf_test_read_json(path);
        cr_assert(inputs);
        snprintf(path, sizeof path, "%s/expected.safetensors", cases[c]);
        cf_safetensors *st = NULL;
        cf_error err = {0};
        cr_assert_eq(cf_st_open(path, &st, &err), CF_OK, "%s", err.message);
        for (size_t t = 0; t < cf_st_count(st); t++) {
            /* "<input>.waveform_<R>k": the input decoded to R kHz. */
            const char *name = cf_st_name(st, t);
            const char *dot = strstr(name, ".waveform_");
            int khz = 0;
            if (!dot || sscanf(dot, ".waveform_%dk", &khz) != 1 || khz <= 0)
                continue;
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(dot - name), name);
            const cJSON *desc = cJSON_GetObjectItemCaseSensitive(inputs, key);
            cr_assert(cJSON_IsString(desc), "%s: inputs.json has no entry for %s", cases[c], key);
            float *ref = NULL;
            cr_assert_eq(cf_st_get_f32(st, name, 1, (int64_t[]){-1}, &ref, &err), CF_OK, "%s", err.message);
            size_t n_ref = (size_t)cf_st_at(st, t)->shape[0];
            char files[8][4096];
            size_t n_files = resolve_inputs(cases[c], desc->valuestring, files, 8);
            cr_assert_gt(n_files, 0, "%s: no audio file found for %s (\"%s\")", cases[c], key, desc->valuestring);
            for (size_t f = 0; f < n_files; f++, checked++)
                check_decode_exact(files[f], khz * 1000, ref, n_ref);
            free(ref);
        }
        cf_st_close(st);
        cJSON_Delete(inputs);
    }
    cf_test_free_list(cases, n_cases);
    cr_assert_gt(checked, 0, "no waveform fixtures found under %s/audio", cf_test_fixtures());
}

/* tests/data/audio/formats: every <file> with <file>.16k.f32 (ffmpeg's output for its bytes). */
Test(audio, format_corpus_matches_ffmpeg)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/audio/formats", cf_test_data());
    DIR *d = opendir(dir);
    cr_assert(d, "cannot open %s", dir);
    size_t checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_audio_ext(e->d_name))
            continue;
        char path[4096], ref_path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(ref_path, sizeof ref_path, "%s.16k.f32", path);
        if (!cf_file_exists(ref_path))
            continue;
        size_t n_ref = 0;
        float *ref = read_f32(ref_path, &n_ref);
        check_decode_exact(path, RATE, ref, n_ref);
        free(ref);
        checked++;
    }
    closedir(d);
    cr_assert_geq(checked, 10, "format corpus in %s has %zu files", dir, checked);
}

/* When the ffmpeg command line is installed, decode every fixture clip at several rates both ways. */
Test(audio, cross_check_with_ffmpeg_cli)
{
    if (system("ffmpeg -version >/dev/null 2>&1") != 0) {
        cr_log_warn("ffmpeg command line not installed: cross-check not run (the corpus tests cover decoding)");
        return;
    }
    char media[4096];
    snprintf(media, sizeof media, "%s/audio/media", cf_test_fixtures());
    DIR *d = opendir(media);
    cr_assert(d, "cannot open %s", media);
    const int rates[] = {16000, 8000, 22050, 48000};
    size_t checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!has_audio_ext(e->d_name) || strchr(e->d_name, '\'') || strchr(media, '\''))
            continue;
        for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
            char cmd[8400], out[4200];
            snprintf(out, sizeof out, "/tmp/cf_audio_cli_%d.f32", (int)getpid());
            snprintf(cmd, sizeof cmd,
                     "ffmpeg -i pipe:0 -ac 1 -ar %d -f f32le -hide_banner -loglevel quiet pipe:1 < '%s/%s' > %s",
                     rates[r], media, e->d_name, out);
            cr_assert_eq(system(cmd), 0, "%s failed", cmd);
            size_t n_ref = 0;
            float *ref = read_f32(out, &n_ref);
            remove(out);
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", media, e->d_name);
            check_decode_exact(path, rates[r], ref, n_ref);
            free(ref);
            checked++;
        }
    }
    closedir(d);
    cr_assert_gt(checked, 0);
}

/* Every file in tests/data/bad/audio fails with an error that names it, from a path and from memory. */
Test(audio, bad_corpus_gives_clear_errors)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bad/audio", cf_test_data());
    DIR *d = opendir(dir);
    cr_assert(d, "cannot open %s", dir);
    size_t checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        float *pcm = NULL;
        size_t n = 0;
        cf_error err = {0};
        cf_status st = cf_audio_load_file(path, RATE, 0, &pcm, &n, &err);
        cr_expect_neq(st, CF_OK, "%s decoded to %zu samples; expected an error", e->d_name, n);
        cr_expect_null(pcm);
        cr_expect(strstr(err.message, e->d_name), "error for %s does not name it: %s", e->d_name, err.message);
        cr_log_info("%s -> %s: %s", e->d_name, cf_status_name(st), err.message);
        free(pcm);

        char *bytes = NULL;
        size_t size = 0;
        cr_assert_eq(cf_read_file(path, CF_AUDIO_MAX_FILE_BYTES, &bytes, &size, &err), CF_OK, "%s", err.message);
        cf_error_clear(&err);
        st = cf_audio_load_memory(bytes, size, "upload", RATE, 0, &pcm, &n, &err);
        cr_expect_neq(st, CF_OK, "%s from memory decoded to %zu samples", e->d_name, n);
        cr_expect(strstr(err.message, "upload"), "%s", err.message);
        free(pcm);
        free(bytes);
        checked++;
    }
    closedir(d);
    cr_assert_geq(checked, 10);
}

static void first_format_file(char *path, size_t size)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/audio/formats", cf_test_data());
    snprintf(path, size, "%s/s16_44k_stereo.flac", dir);
    cr_assert(cf_file_exists(path), "%s missing", path);
}

Test(audio, clip_longer_than_limit)
{
    char path[4096];
    first_format_file(path, sizeof path); /* 0.25 s */
    float *pcm = NULL;
    size_t n = 0;
    cf_error err = {0};
    cr_assert_eq(cf_audio_load_file(path, RATE, 0.1, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert(strstr(err.message, "longer than the limit of 0.1 s"), "%s", err.message);
    cr_assert_null(pcm);
    cr_assert_eq(cf_audio_load_file(path, RATE, 0.25, &pcm, &n, &err), CF_OK, "exactly at the limit: %s",
                 err.message);
    cr_assert_eq(n, 4000);
    free(pcm);
}

Test(audio, bad_arguments)
{
    char path[4096];
    first_format_file(path, sizeof path);
    float *pcm = NULL;
    size_t n = 0;
    cf_error err = {0};
    cr_assert_eq(cf_audio_load_file(path, 0, 0, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert(strstr(err.message, "target sample rate 0"), "%s", err.message);
    cr_assert_neq(cf_audio_load_file("/nonexistent/speech.flac", RATE, 0, &pcm, &n, &err), CF_OK);
    cr_assert(strstr(err.message, "/nonexistent/speech.flac"), "%s", err.message);
    cr_assert_eq(cf_audio_load_memory(NULL, 0, "empty.wav", RATE, 0, &pcm, &n, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "empty"), "%s", err.message);
    float x[4] = {0};
    cr_assert_eq(cf_audio_from_f32(x, 4, 1, 0, RATE, 0, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert(strstr(err.message, "sample rate is 0"), "%s", err.message);
    cr_assert_eq(cf_audio_from_f32(x, 4, 0, RATE, RATE, 0, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_audio_from_f32(x, 0, 1, RATE, RATE, 0, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert_eq(cf_audio_from_f32(x, 4, 1, RATE, RATE, 1e-4, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert(strstr(err.message, "longer than the limit"), "%s", err.message);
    cr_assert_eq(cf_audio_from_f32(x, 4, 1, 768000, 1000, 0, &pcm, &n, &err), CF_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, "downsampling"), "%s", err.message);
    cr_assert_eq(cf_audio_from_f32(x, 4, 1, 16000, 800000, 0, &pcm, &n, &err), CF_ERR_INVALID_ARG);
    x[2] = NAN;
    cr_assert_eq(cf_audio_from_f32(x, 4, 1, RATE, RATE, 0, &pcm, &n, &err), CF_ERR_FORMAT);
    cr_assert(strstr(err.message, "finite"), "%s", err.message);
}

/* Raw float PCM goes through the same converter: equal to decoding a float WAV with those samples. */
Test(audio, raw_f32_matches_decoded_float_wav)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/audio/formats/f32_44k_stereo.wav", cf_test_data());
    float *native = NULL, *via_file = NULL, *via_raw = NULL;
    size_t n_native = 0, n_file = 0, n_raw = 0;
    cf_audio_info info = {0};
    cf_error err = {0};
    char *bytes = NULL;
    size_t size = 0;
    cr_assert_eq(cf_read_file(path, CF_AUDIO_MAX_FILE_BYTES, &bytes, &size, &err), CF_OK, "%s", err.message);
    cr_assert_eq(cf_audio_decode(bytes, size, path, RATE, 0, &via_file, &n_file, &info, &err), CF_OK, "%s",
                 err.message);
    cr_assert_eq(info.sample_rate, 44100);
    cr_assert_eq(info.channels, 2);
    cr_assert_str_eq(info.format, "wav");
    /* The WAV's interleaved float samples, straight from its data chunk. */
    const char *data = memmem(bytes, size, "data", 4);
    cr_assert(data);
    uint32_t data_size;
    memcpy(&data_size, data + 4, 4);
    n_native = data_size / (2 * sizeof(float));
    native = malloc(data_size);
    memcpy(native, data + 8, data_size);
    cr_assert_eq(cf_audio_from_f32(native, n_native, 2, 44100, RATE, 0, &via_raw, &n_raw, &err), CF_OK, "%s",
                 err.message);
    cr_assert_eq(n_raw, n_file);
    cr_assert_eq(max_abs_diff(via_raw, via_file, n_raw), 0.0);
    free(native);
    free(via_file);
    free(via_raw);
    free(bytes);
}

/* A FLAC file from the fixtures' media folder large enough to cut in half mid-stream. */
static bool find_long_flac(char *path, size_t size)
{
    char media[4096];
    snprintf(media, sizeof media, "%s/audio/media", cf_test_fixtures());
    DIR *d = opendir(media);
    bool found = false;
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        snprintf(path, size, "%s/%s", media, e->d_name);
        FILE *f = len > 5 && strcmp(e->d_name + len - 5, ".flac") == 0 ? fopen(path, "rb") : NULL;
        if (f) {
            fseek(f, 0, SEEK_END);
            found = ftell(f) > 100000;
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    return found;
}

/* A FLAC cut mid-stream decodes what is there, as the ffmpeg command line does (with a warning). */
Test(audio, truncated_stream_keeps_decoded_part)
{
    char path[4096];
    cr_assert(find_long_flac(path, sizeof path), "no FLAC over 100 kB in %s/audio/media", cf_test_fixtures());
    char *bytes = NULL;
    size_t size = 0;
    cf_error err = {0};
    cr_assert_eq(cf_read_file(path, CF_AUDIO_MAX_FILE_BYTES, &bytes, &size, &err), CF_OK, "%s", err.message);
    float *full = NULL, *part = NULL;
    size_t n_full = 0, n_part = 0;
    cr_assert_eq(cf_audio_load_memory(bytes, size, "full", RATE, 0, &full, &n_full, &err), CF_OK, "%s",
                 err.message);
    cr_assert_eq(cf_audio_load_memory(bytes, size / 2, "half", RATE, 0, &part, &n_part, &err), CF_OK, "%s",
                 err.message);
    cr_assert(n_part > n_full / 4 && n_part < n_full, "%zu of %zu samples", n_part, n_full);
    free(full);
    free(part);
    free(bytes);
}
