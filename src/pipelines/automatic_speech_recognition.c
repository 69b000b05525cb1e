/* automatic-speech-recognition, as transformers 4.35.2 AutomaticSpeechRecognitionPipeline:
 *   the file decoded and resampled to the feature extractor's rate (ffmpeg_read);
 *   with chunk_length_s, chunk_iter's overlapping windows (stride_length_s, default
 *   chunk_length_s / 6 each side; CTC windows aligned to the model's inputs_to_logits_ratio);
 *   Wav2Vec2ForCTC: argmax per frame, each window's strided frames cut off, the tokenizer's CTC
 *   decoding of the concatenation (special tokens kept, as the pipeline asks);
 *   Whisper: one generate() per 30 s window (whisper_decode.h), then _decode_asr
 *   (asr_merge.h) for the text and, with return_timestamps, the chunks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generation/gen_config.h"
#include "generation/whisper_decode.h"
#include "media/features.h"
#include "models/wav2vec2.h"
#include "models/whisper.h"
#include "pipelines/asr_merge.h"
#include "pipelines/audio_common.h"

typedef struct asr_state {
    bool whisper;
    int rate;
    cf_tokenizer *tok;
    cf_wav2vec2 *ctc;
    cf_wav2vec2_features ctc_fe;
    cf_whisper *wm;
    cf_whisper_features wfe;
    cf_gen_config gen; /* generation_config.json over config.json */
    cf_whisper_gen_info info;
} asr_state;

typedef struct asr_params {
    double chunk_s, stride_s[2];
    bool timestamps;
    const char *language, *task;
    cf_gen_config gen;
} asr_params;

/* One window of chunk_iter: samples [start, start + len) and its strides in samples. */
typedef struct asr_chunk {
    size_t start, len, left, right;
} asr_chunk;

static void asr_close(cf_pipeline *p)
{
    asr_state *s = p->state;
    if (!s)
        return;
    cf_tokenizer_free(s->tok);
    cf_wav2vec2_free(s->ctc);
    cf_whisper_free(s->wm);
    if (s->whisper) {
        cf_whisper_features_free(&s->wfe);
        cf_gen_config_free(&s->gen);
        cf_whisper_gen_info_free(&s->info);
    }
    free(s);
    p->state = NULL;
}

static cf_status open_whisper(cf_pipeline *p, asr_state *s, const cf_config *pre, cf_error *err)
{
    s->whisper = true;
    CF_TRY(cf_whisper_features_init(&s->wfe, pre, err));
    s->rate = s->wfe.sampling_rate;
    cf_gen_config_defaults(&s->gen);
    CF_TRY(cf_gen_config_load(&s->gen, p->model_dir, &p->config, NULL, err));
    CF_TRY(cf_whisper_gen_info_load(&s->info, p->model_dir, err));
    CF_TRY(cf_whisper_load(p->model_dir, &p->config, &s->wm, err));
    if (cf_whisper_n_mels(s->wm) != s->wfe.feature_size)
        return cf_fail(err, CF_ERR_FORMAT, "%s: the model takes %d mel bins, preprocessor_config.json makes %d",
                       p->model_dir, cf_whisper_n_mels(s->wm), s->wfe.feature_size);
    return CF_OK;
}

static cf_status asr_open(cf_pipeline *p, cf_error *err)
{
    bool whisper = cf_whisper_supports(&p->config);
    if (!whisper && !cf_wav2vec2_supports(&p->config))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: automatic-speech-recognition supports whisper and wav2vec2 "
                       "(CTC) models, not model_type \"%s\"", p->config.path,
                       cf_config_str(&p->config, "model_type", "?"));
    asr_state *s = calloc(1, sizeof *s);
    if (!s)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    p->state = s;
    cf_config pre;
    CF_TRY(cf_config_load_optional(&pre, p->model_dir, "preprocessor_config.json", err));
    cf_status st = whisper ? open_whisper(p, s, &pre, err) : cf_wav2vec2_features_init(&s->ctc_fe, &pre, err);
    cf_config_free(&pre);
    CF_TRY(st);
    if (!whisper) {
        if (cf_wav2vec2_head_from_config(&p->config) != CF_WAV2VEC2_CTC)
            return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: speech recognition needs a Wav2Vec2ForCTC model; "
                           "\"architectures\" names another head", p->config.path);
        s->rate = s->ctc_fe.sampling_rate;
        CF_TRY(cf_wav2vec2_load(p->model_dir, &p->config, CF_WAV2VEC2_CTC, &s->ctc, err));
    }
    return cf_tokenizer_load(p->model_dir, &s->tok, err);
}

/* ------------------------------------------------------------ parameters ---- */

static cf_status param_number(const cJSON *params, const char *key, double *out, cf_error *err)
{
    const cJSON *v = cf_param(params, key);
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter '%s' must be a positive number of seconds", key);
    *out = v->valuedouble;
    return CF_OK;
}

static cf_status parse_stride(const cJSON *params, asr_params *ap, cf_error *err)
{
    const cJSON *v = cf_param(params, "stride_length_s");
    ap->stride_s[0] = ap->stride_s[1] = ap->chunk_s / 6;
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (cJSON_IsNumber(v) && v->valuedouble >= 0) {
        ap->stride_s[0] = ap->stride_s[1] = v->valuedouble;
        return CF_OK;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2 && cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) &&
        cJSON_IsNumber(cJSON_GetArrayItem(v, 1))) {
        ap->stride_s[0] = cJSON_GetArrayItem(v, 0)->valuedouble;
        ap->stride_s[1] = cJSON_GetArrayItem(v, 1)->valuedouble;
        if (ap->stride_s[0] >= 0 && ap->stride_s[1] >= 0)
            return CF_OK;
    }
    return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'stride_length_s' must be seconds, or [left, right] seconds");
}

static cf_status parse_timestamps(const asr_state *s, const cJSON *params, asr_params *ap, cf_error *err)
{
    const cJSON *v = cf_param(params, "return_timestamps");
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v))
        return CF_OK;
    if (!cJSON_IsTrue(v))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "parameter 'return_timestamps': only true (segment timestamps) is "
                       "supported");
    if (!s->whisper)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "parameter 'return_timestamps' is supported for Whisper models; "
                       "CTC models have no \"char\"/\"word\" offsets here");
    ap->timestamps = true;
    return CF_OK;
}

/* generate_kwargs (and the pipeline's max_new_tokens): language and task are Whisper's, the rest
 * are generate() settings. */
static cf_status parse_generate(const asr_state *s, const cJSON *params, asr_params *ap, cf_error *err)
{
    const cJSON *gk = cf_param(params, "generate_kwargs");
    if (gk && !cJSON_IsNull(gk) && !cJSON_IsObject(gk))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'generate_kwargs' must be an object");
    bool given = (gk && cJSON_IsObject(gk) && gk->child) || cf_param(params, "max_new_tokens");
    if (given && !s->whisper)
        return cf_fail(err, CF_ERR_INVALID_ARG, "generate_kwargs / max_new_tokens apply to Whisper, not CTC models");
    if (!s->whisper)
        return CF_OK;
    CF_TRY(cf_gen_config_copy(&ap->gen, &s->gen, err));
    cJSON *rest = gk && cJSON_IsObject(gk) ? cJSON_Duplicate(gk, 1) : cJSON_CreateObject();
    const cJSON *mnt = cf_param(params, "max_new_tokens");
    if (mnt)
        cJSON_AddItemToObject(rest, "max_new_tokens", cJSON_Duplicate(mnt, 1));
    static const char *const own[2] = {"language", "task"};
    const char **dst[2] = {&ap->language, &ap->task};
    cf_status st = CF_OK;
    for (int i = 0; i < 2 && st == CF_OK; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(gk, own[i]);
        if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
            st = cf_fail(err, CF_ERR_INVALID_ARG, "generate_kwargs.%s must be a string", own[i]);
        *dst[i] = cJSON_IsString(v) ? v->valuestring : NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(rest, own[i]);
    }
    if (st == CF_OK)
        st = cf_gen_config_apply_json(&ap->gen, rest, true, "generate_kwargs", err);
    cJSON_Delete(rest);
    return st;
}

static cf_status parse_params(const asr_state *s, const cJSON *params, asr_params *ap, cf_error *err)
{
    static const char *const allowed[] = {"chunk_length_s", "stride_length_s", "return_timestamps",
                                          "generate_kwargs", "max_new_tokens", "batch_size", NULL};
    CF_TRY(cf_params_check(params, "automatic-speech-recognition", allowed, err));
    int64_t batch;
    CF_TRY(cf_param_int(params, "batch_size", 1, 1, &batch, err)); /* windows run one at a time: same output */
    CF_TRY(param_number(params, "chunk_length_s", &ap->chunk_s, err));
    CF_TRY(parse_stride(params, ap, err));
    CF_TRY(parse_timestamps(s, params, ap, err));
    return parse_generate(s, params, ap, err);
}

/* ------------------------------------------------------------ chunk_iter ---- */

static size_t py_round(double x) { return (size_t)nearbyint(x); } /* half to even, as Python's round */

/* chunk_iter over n samples: windows of chunk_len starting every chunk_len - left - right. */
static cf_status chunk_windows(const asr_params *ap, size_t n, int rate, size_t align, asr_chunk **out,
                               size_t *count, cf_error *err)
{
    size_t chunk = py_round(ap->chunk_s * rate / (double)align) * align;
    size_t left = py_round(ap->stride_s[0] * rate / (double)align) * align;
    size_t right = py_round(ap->stride_s[1] * rate / (double)align) * align;
    if (chunk < left + right || chunk == 0 || chunk == left + right)
        return cf_fail(err, CF_ERR_INVALID_ARG, "chunk_length_s (%g) must be longer than the two strides "
                       "(stride_length_s %g + %g)", ap->chunk_s, ap->stride_s[0], ap->stride_s[1]);
    size_t step = chunk - left - right;
    *out = malloc((n / step + 2) * sizeof **out);
    if (!*out)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    *count = 0;
    for (size_t start = 0; start < n; start += step) {
        size_t end = start + chunk;
        bool last = right > 0 ? end > n : end >= n;
        (*out)[(*count)++] = (asr_chunk){.start = start, .len = (end < n ? end : n) - start,
                                         .left = start ? left : 0, .right = last ? 0 : right};
        if (last)
            break;
    }
    return CF_OK;
}

/* The whole clip as one window (no chunking). */
static cf_status windows_for(const asr_params *ap, size_t n, int rate, size_t align, asr_chunk **out,
                             size_t *count, cf_error *err)
{
    if (ap->chunk_s > 0)
        return chunk_windows(ap, n, rate, align, out, count, err);
    *out = malloc(sizeof **out);
    if (!*out)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    **out = (asr_chunk){.len = n};
    *count = 1;
    return CF_OK;
}

/* ------------------------------------------------------------------- CTC ---- */

/* Argmax ids of one window's frames, without its strided frames, appended to ids. */
static cf_status ctc_window(asr_state *s, const float *pcm, const asr_chunk *c, int64_t *ids, size_t *n_ids,
                            cf_error *err)
{
    const float *clip = pcm + c->start;
    float *values = NULL;
    int32_t *mask = NULL;
    size_t len = 0;
    CF_TRY(cf_wav2vec2_batch(&s->ctc_fe, &clip, &c->len, 1, &values, &mask, &len, err));
    cf_wav2vec2_output o;
    cf_status st = cf_wav2vec2_forward(s->ctc, values, (int64_t)len, NULL, NULL, &o, err);
    free(values);
    free(mask);
    CF_TRY(st);
    /* rescale_stride: samples -> logits frames */
    double ratio = 1.0 / (double)cf_wav2vec2_inputs_to_logits_ratio(s->ctc);
    size_t token_n = py_round((double)c->len * ratio);
    size_t left = py_round((double)c->left / (double)c->len * (double)token_n);
    size_t right = py_round((double)c->right / (double)c->len * (double)token_n);
    size_t stop = token_n > right ? token_n - right : 0;
    stop = stop < (size_t)o.rows ? stop : (size_t)o.rows;
    for (size_t t = left; t < stop; t++) {
        const float *row = o.logits + t * (size_t)o.cols;
        int64_t best = 0;
        for (int64_t v = 1; v < o.cols; v++)
            best = row[v] > row[best] ? v : best;
        ids[(*n_ids)++] = best;
    }
    return CF_OK;
}

static cf_status run_ctc(asr_state *s, const float *pcm, size_t n, const asr_chunk *w, size_t nw, cJSON **out,
                         cf_error *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < nw; i++)
        cap += (size_t)cf_wav2vec2_frames(s->ctc, (int64_t)w[i].len) + 1;
    int64_t *ids = malloc(cap * sizeof *ids);
    if (!ids)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    size_t n_ids = 0;
    cf_status st = CF_OK;
    for (size_t i = 0; i < nw && st == CF_OK; i++) {
        cf_audio_progress("automatic-speech-recognition", i, nw, (double)n / s->rate);
        st = ctc_window(s, pcm, &w[i], ids, &n_ids, err);
    }
    char *text = NULL;
    if (st == CF_OK)
        st = cf_tokenizer_decode(s->tok, ids, n_ids, 0, &text, err);
    if (st == CF_OK) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "text", text);
    }
    free(text);
    free(ids);
    return st;
}

/* --------------------------------------------------------------- Whisper ---- */

static const char *language_of(const void *ctx, int64_t id) { return cf_whisper_language_code(ctx, id); }

static cf_status whisper_window(asr_state *s, const asr_params *ap, const float *pcm, const asr_chunk *c,
                                float *features, cf_asr_window *win, cf_error *err)
{
    CF_TRY(cf_whisper_log_mel(&s->wfe, pcm + c->start, c->len, features, err));
    cf_lm lm = cf_whisper_as_lm(s->wm);
    cf_whisper_request req = {.language = ap->language, .task = ap->task, .return_timestamps = ap->timestamps,
                              .features = features, .n_mels = s->wfe.feature_size, .n_frames = s->wfe.n_frames};
    int64_t *ids = NULL, n = 0;
    CF_TRY(cf_whisper_generate(&lm, &s->info, &ap->gen, &req, &ids, &n, err));
    *win = (cf_asr_window){.ids = ids, .n = (size_t)n, .has_stride = ap->chunk_s > 0,
                           .chunk_len = (double)c->len / s->rate, .stride_left = (double)c->left / s->rate,
                           .stride_right = (double)c->right / s->rate};
    return CF_OK;
}

static cf_status run_whisper(asr_state *s, const asr_params *ap, const float *pcm, size_t n, const asr_chunk *w,
                             size_t nw, cJSON **out, cf_error *err)
{
    if (s->wfe.n_frames != cf_whisper_n_frames(s->wm))
        return cf_fail(err, CF_ERR_FORMAT, "whisper: the feature extractor makes %lld frames, the encoder takes %lld",
                       (long long)s->wfe.n_frames, (long long)cf_whisper_n_frames(s->wm));
    float *features = malloc((size_t)(s->wfe.feature_size * s->wfe.n_frames) * sizeof(float));
    cf_asr_window *wins = calloc(nw, sizeof *wins);
    cf_status st = features && wins ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nw && st == CF_OK; i++) {
        cf_audio_progress("automatic-speech-recognition", i, nw, (double)n / s->rate);
        st = whisper_window(s, ap, pcm, &w[i], features, &wins[i], err);
    }
    char *text = NULL;
    cJSON *chunks = NULL;
    cf_asr_decode_opts opt = {.return_timestamps = ap->timestamps,
                              .time_precision = (double)s->wfe.chunk_length / (double)cf_whisper_enc_len(s->wm),
                              .timestamp_begin = s->info.no_timestamps + 1, .language_of = language_of,
                              .language_ctx = &s->info};
    if (st == CF_OK)
        st = cf_asr_decode_whisper(s->tok, wins, nw, &opt, &text, &chunks, err);
    if (st == CF_OK) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "text", text);
        if (chunks)
            cJSON_AddItemToObject(*out, "chunks", chunks);
    }
    free(text);
    for (size_t i = 0; wins && i < nw; i++)
        free((void *)wins[i].ids);
    free(wins);
    free(features);
    return st;
}

static cf_status asr_run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    asr_state *s = p->state;
    asr_params ap = {0};
    cf_gen_config_defaults(&ap.gen);
    float *pcm = NULL;
    size_t n = 0, nw = 0;
    asr_chunk *w = NULL;
    cf_status st = parse_params(s, params, &ap, err);
    if (st == CF_OK)
        st = cf_audio_input(inputs, s->rate, &pcm, &n, err);
    size_t align = s->whisper ? 1 : (size_t)cf_wav2vec2_inputs_to_logits_ratio(s->ctc);
    if (st == CF_OK)
        st = windows_for(&ap, n, s->rate, align, &w, &nw, err);
    if (st == CF_OK)
        st = s->whisper ? run_whisper(s, &ap, pcm, n, w, nw, out, err) : run_ctc(s, pcm, n, w, nw, out, err);
    cf_gen_config_free(&ap.gen);
    free(w);
    free(pcm);
    return st;
}

const cf_task cf_task_automatic_speech_recognition = {
    .name = "automatic-speech-recognition",
    .default_model = "facebook/wav2vec2-base-960h",
    .open = asr_open,
    .run = asr_run,
    .close = asr_close,
};
