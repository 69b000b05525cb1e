/* Audio front end speed: Whisper log-mel for one 30 s window (80 and 128 bins, 1 and 2 threads;
 * goal <= 15 ms with 2 threads) and decode + resample to 16 kHz of the audio fixtures.
 * Usage: bench_audio [media_dir] (default ${CFORMER_FIXTURES:-../shared/fixtures}/audio/media). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bench_util.h"
#include "core/buf.h"
#include "io/config.h"
#include "core/threadpool.h"
#include "media/audio.h"
#include "media/features.h"

#define REPEATS 21

static int bench_log_mel(void)
{
    const int n = 30 * 16000;
    float *pcm = malloc((size_t)n * sizeof *pcm);
    unsigned seed = 1;
    for (int i = 0; i < n; i++) { /* a tone plus noise: every bin carries energy */
        seed = seed * 1664525u + 1013904223u;
        pcm[i] = 0.3f * sinf(0.0613f * (float)i) + 0.05f * ((float)(seed >> 8) / 16777216.0f - 0.5f);
    }
    printf("%-34s %8s %8s %10s %10s\n", "whisper log-mel, 30 s window", "threads", "mels", "median ms", "best ms");
    const int mels[] = {80, 128};
    for (int m = 0; m < 2; m++) {
        char json[64];
        snprintf(json, sizeof json, "{\"feature_size\": %d}", mels[m]);
        cf_config cfg;
        cf_error err = {0};
        cf_whisper_features fe;
        if (cf_config_parse(&cfg, json, strlen(json), "bench", &err) != CF_OK ||
            cf_whisper_features_init(&fe, &cfg, &err) != CF_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        float *out = malloc((size_t)fe.feature_size * (size_t)fe.n_frames * sizeof *out);
        for (int threads = 1; threads <= 2; threads++) {
            cf_threads_set(threads);
            double t[REPEATS];
            cf_whisper_log_mel(&fe, pcm, (size_t)n, out, &err); /* warm up */
            for (int r = 0; r < REPEATS; r++) {
                double t0 = bench_now_ms();
                cf_whisper_log_mel(&fe, pcm, (size_t)n, out, &err);
                t[r] = bench_now_ms() - t0;
            }
            double mid = bench_median(t, REPEATS); /* sorts t */
            printf("%-34s %8d %8d %10.2f %10.2f\n", "", threads, mels[m], mid, t[0]);
        }
        free(out);
        cf_whisper_features_free(&fe);
        cf_config_free(&cfg);
    }
    cf_threads_set(0);
    free(pcm);
    return 0;
}

static void bench_decode(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("\n(no media folder %s: decode not measured)\n", dir);
        return;
    }
    printf("\n%-34s %10s %10s %10s %10s\n", "decode + resample to 16 kHz", "audio s", "median ms", "x realtime",
           "in-memory");
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".md"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *bytes = NULL;
        size_t size = 0;
        cf_error err = {0};
        if (cf_read_file(path, CF_AUDIO_MAX_FILE_BYTES, &bytes, &size, &err) != CF_OK)
            continue;
        double t_file[7], t_mem[7];
        size_t n = 0;
        bool ok = true;
        for (int r = 0; r < 7 && ok; r++) {
            float *pcm = NULL;
            double t0 = bench_now_ms();
            ok = cf_audio_load_file(path, 16000, 0, &pcm, &n, &err) == CF_OK;
            t_file[r] = bench_now_ms() - t0;
            free(pcm);
            t0 = bench_now_ms();
            ok = ok && cf_audio_load_memory(bytes, size, e->d_name, 16000, 0, &pcm, &n, &err) == CF_OK;
            t_mem[r] = bench_now_ms() - t0;
            free(pcm);
        }
        free(bytes);
        if (!ok) {
            printf("%-34s %s\n", e->d_name, err.message);
            continue;
        }
        double ms = bench_median(t_file, 7), seconds = (double)n / 16000.0;
        printf("%-34s %10.2f %10.2f %10.0f %10.2f\n", e->d_name, seconds, ms, seconds * 1e3 / ms, bench_median(t_mem, 7));
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    char dir[4096];
    const char *fixtures = getenv("CFORMER_FIXTURES");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/audio/media", fixtures && *fixtures ? fixtures : "../shared/fixtures");
    if (bench_log_mel() != 0)
        return 1;
    bench_decode(dir);
    return 0;
}
