/* automatic-speech-recognition, as transformers 4.35.2 AutomaticSpeechRecognitionPipeline:
 *   the file decoded and resampled to the feature extractor's rate (ffmpeg_read);
 *   with chunk_length_s, chunk_iter's overlapping windows (stride_length_s, default
 *   chunk_length_s / 6 each side; CTC windows aligned to the model's inputs_to_logits_ratio);
 *   Wav2Vec2ForCTC: batch_size windows at a time, each normalised alone and padded to the
 *   longest as the pipeline's collate does (with the attention mask when the feature extractor
 *   returns one), argmax per frame, each window's strided frames cut off, the tokenizer's CTC
 *   decoding of the concatenation (special tokens kept, as the pipeline asks); return_timestamps
 *   "char"/"word" from the CTC decoder's offsets (frame * inputs_to_logits_ratio / rate);
 *   Whisper: one generate() per 30 s window (whisper_decode.h: language as a name, code or token,
 *   task, is_multilingual; batching windows changes nothing, so they run one at a time), then
 *   _decode_asr (asr_merge.h) for the text and, with return_timestamps or return_language, the
 *   chunks. */
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
    char *word_delimiter, *replace_char; /* tokenizer_config.json: "|" and what it becomes, " " */
    cf_whisper *wm;
    cf_whisper_features wfe;
    cf_gen_config gen; /* generation_config.json over config.json */
    cf_whisper_gen_info info;
} asr_state;

typedef enum ctc_offsets { CTC_NO_OFFSETS = 0, CTC_CHAR, CTC_WORD } ctc_offsets;

typedef struct asr_params {
    double chunk_s, stride_s[2];
    int64_t batch_size;
    bool timestamps, return_language;
    ctc_offsets ctc_timestamps; /* return_timestamps "char" / "word" of a CTC model */
    const char *language, *task;
    int multilingual; /* generate_kwargs is_multilingual: 0 unset, 1 true, -1 false */
    cf_gen_config gen;
} asr_params;

/* One window of chunk_iter: samples [start, start + len) and its strides in samples. */
typedef struct asr_chunk {
    size_t start, len, left, right;
    bool strided; /* from chunk_iter: the window's logits are cut to its strides */
} asr_chunk;

static void asr_close(cf_pipeline *p)
{
    asr_state *s = p->state;
    if (!s)
        return;
    cf_tokenizer_free(s->tok);
    cf_wav2vec2_free(s->ctc);
    free(s->word_delimiter);
    free(s->replace_char);
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

/* Wav2Vec2CTCTokenizer's word_delimiter_token and replace_word_delimiter_char (for char offsets). */
static cf_status read_ctc_tokens(const cf_pipeline *p, asr_state *s, cf_error *err)
{
    cf_config tc;
    CF_TRY(cf_config_load_optional(&tc, p->model_dir, "tokenizer_config.json", err));
    s->word_delimiter = strdup(cf_config_str(&tc, "word_delimiter_token", "|"));
    s->replace_char = strdup(cf_config_str(&tc, "replace_word_delimiter_char", " "));
    cf_config_free(&tc);
    if (!s->word_delimiter || !s->replace_char)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
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
        CF_TRY(read_ctc_tokens(p, s, err));
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

/* return_timestamps as _sanitize_parameters checks it: CTC takes "char" or "word"; Whisper takes
 * true (segments), not "char" ("word" needs cross-attention alignment heads, not supported). */
static cf_status parse_timestamps(const asr_state *s, const cJSON *params, asr_params *ap, cf_error *err)
{
    const cJSON *v = cf_param(params, "return_timestamps");
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    const char *mode = cJSON_IsString(v) ? v->valuestring : NULL;
    if (!s->whisper) {
        if (!mode || (strcmp(mode, "char") && strcmp(mode, "word")))
            return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'return_timestamps': CTC models predict \"char\" or "
                           "\"word\" timestamps; set return_timestamps to one of those");
        ap->ctc_timestamps = !strcmp(mode, "char") ? CTC_CHAR : CTC_WORD;
        return CF_OK;
    }
    if (mode && !strcmp(mode, "char"))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'return_timestamps': Whisper cannot return \"char\" "
                       "timestamps, only segment timestamps (true)");
    if (mode && !strcmp(mode, "word"))
        return cf_fail(err, CF_ERR_UNSUPPORTED, "parameter 'return_timestamps': Whisper \"word\" timestamps are not "
                       "supported; use true for segment timestamps");
    if (!cJSON_IsBool(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'return_timestamps' must be true or false for Whisper");
    ap->timestamps = cJSON_IsTrue(v);
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
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(gk, "is_multilingual");
    if (ml && !cJSON_IsNull(ml) && !cJSON_IsBool(ml) && st == CF_OK)
        st = cf_fail(err, CF_ERR_INVALID_ARG, "generate_kwargs.is_multilingual must be true or false");
    ap->multilingual = cJSON_IsBool(ml) ? (cJSON_IsTrue(ml) ? 1 : -1) : 0;
    cJSON_DeleteItemFromObjectCaseSensitive(rest, "is_multilingual");
    if (st == CF_OK)
        st = cf_gen_config_apply_json(&ap->gen, rest, true, "generate_kwargs", err);
    cJSON_Delete(rest);
    return st;
}

/* return_language: Whisper only; chunks then name each one's language. */
static cf_status parse_return_language(const asr_state *s, const cJSON *params, asr_params *ap, cf_error *err)
{
    const cJSON *v = cf_param(params, "return_language");
    if (!v || cJSON_IsNull(v))
        return CF_OK;
    if (!cJSON_IsBool(v))
        return cf_fail(err, CF_ERR_INVALID_ARG, "parameter 'return_language' must be true or false");
    if (!s->whisper)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "parameter 'return_language': only Whisper can return the language");
    ap->return_language = cJSON_IsTrue(v);
    return CF_OK;
}

static cf_status parse_params(const asr_state *s, const cJSON *params, asr_params *ap, cf_error *err)
{
    static const char *const allowed[] = {"chunk_length_s", "stride_length_s", "return_timestamps", "return_language",
                                          "generate_kwargs", "max_new_tokens", "batch_size", NULL};
    CF_TRY(cf_params_check(params, "automatic-speech-recognition", allowed, err));
    CF_TRY(cf_param_int(params, "batch_size", 1, 1, &ap->batch_size, err));
    CF_TRY(param_number(params, "chunk_length_s", &ap->chunk_s, err));
    CF_TRY(parse_stride(params, ap, err));
    CF_TRY(parse_timestamps(s, params, ap, err));
    CF_TRY(parse_return_language(s, params, ap, err));
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
        size_t end = start + chunk, len = (end < n ? end : n) - start;
        bool last = right > 0 ? end > n : end >= n;
        if (len > (start ? left : 0)) /* a tail that lies inside the left stride adds nothing */
            (*out)[(*count)++] = (asr_chunk){.start = start, .len = len, .left = start ? left : 0,
                                             .right = last ? 0 : right, .strided = true};
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

/* A batch of windows as the pipeline's collate builds it: each window normalised on its own,
 * padded on the right with padding_value to the longest; *valid = real samples per window when
 * the feature extractor returns an attention mask, else NULL (the padding runs as audio). */
static cf_status ctc_inputs(const asr_state *s, const float *pcm, const asr_chunk *w, size_t nb, float **values,
                            int64_t **valid, size_t *width, cf_error *err)
{
    *width = 0;
    for (size_t i = 0; i < nb; i++)
        *width = w[i].len > *width ? w[i].len : *width;
    *values = malloc(nb * *width * sizeof **values);
    *valid = s->ctc_fe.return_attention_mask ? malloc(nb * sizeof **valid) : NULL;
    if (!*values || (s->ctc_fe.return_attention_mask && !*valid))
        return cf_fail(err, CF_ERR_NOMEM, "out of memory for a batch of %zu windows", nb);
    for (size_t i = 0; i < nb; i++) {
        const float *clip = pcm + w[i].start;
        float *one = NULL, *row = *values + i * *width;
        int32_t *mask = NULL;
        size_t len = 0;
        CF_TRY(cf_wav2vec2_batch(&s->ctc_fe, &clip, &w[i].len, 1, &one, &mask, &len, err));
        memcpy(row, one, len * sizeof *row);
        for (size_t k = len; k < *width; k++)
            row[k] = s->ctc_fe.padding_value;
        if (*valid)
            (*valid)[i] = (int64_t)len;
        free(one);
        free(mask);
    }
    return CF_OK;
}

/* Argmax per frame of one window's logits [frames, V]; a chunk_iter window keeps only the frames
 * between its strides, rescaled to logits as rescale_stride does. */
static void ctc_argmax(const asr_state *s, const asr_chunk *c, const float *logits, int64_t frames, int64_t V,
                       int64_t *ids, size_t *n_ids)
{
    size_t first = 0, stop = (size_t)frames;
    if (c->strided) {
        double ratio = 1.0 / (double)cf_wav2vec2_inputs_to_logits_ratio(s->ctc);
        size_t token_n = py_round((double)c->len * ratio);
        size_t left = py_round((double)c->left / (double)c->len * (double)token_n);
        size_t right = py_round((double)c->right / (double)c->len * (double)token_n);
        first = left;
        stop = token_n > right ? token_n - right : 0;
        stop = stop < (size_t)frames ? stop : (size_t)frames;
    }
    for (size_t t = first; t < stop; t++) {
        const float *row = logits + t * (size_t)V;
        int64_t best = 0;
        for (int64_t v = 1; v < V; v++)
            best = row[v] > row[best] ? v : best;
        ids[(*n_ids)++] = best;
    }
}

/* One batch of windows through the model; their kept frames' ids appended to ids. */
static cf_status ctc_batch(asr_state *s, const float *pcm, const asr_chunk *w, size_t nb, int64_t *ids,
                           size_t *n_ids, cf_error *err)
{
    float *values = NULL;
    int64_t *valid = NULL;
    size_t width = 0;
    cf_wav2vec2_output o;
    cf_status st = ctc_inputs(s, pcm, w, nb, &values, &valid, &width, err);
    if (st == CF_OK)
        st = cf_wav2vec2_forward_batch(s->ctc, values, (int64_t)nb, (int64_t)width, valid, NULL, NULL, &o, err);
    for (size_t i = 0; st == CF_OK && i < nb; i++)
        ctc_argmax(s, &w[i], o.logits + i * (size_t)(o.frames * o.cols), o.frames, o.cols, ids, n_ids);
    free(values);
    free(valid);
    return st;
}

/* Wav2Vec2CTCTokenizer char offsets: runs of one id grouped (start, end in frames), blanks
 * dropped, the word delimiter spelled as replace_word_delimiter_char. */
typedef struct ctc_char {
    const char *text;
    size_t start, end;
} ctc_char;

static size_t ctc_char_offsets(const asr_state *s, const int64_t *ids, size_t n, ctc_char *out)
{
    const char *pad = cf_tokenizer_special_token(s->tok, "pad_token");
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ids[j] == ids[i])
            j++;
        const char *tok = cf_tokenizer_id_to_token(s->tok, ids[i]);
        tok = tok ? tok : "";
        if (!pad || strcmp(tok, pad))
            out[count++] = (ctc_char){.text = !strcmp(tok, s->word_delimiter) ? s->replace_char : tok, .start = i,
                                      .end = j};
        i = j;
    }
    return count;
}

static void add_offset_chunk(const asr_state *s, cJSON *chunks, const char *text, size_t start, size_t end)
{
    double per_frame = (double)cf_wav2vec2_inputs_to_logits_ratio(s->ctc);
    cJSON *c = cJSON_CreateObject(), *ts = cJSON_CreateArray();
    cJSON_AddStringToObject(c, "text", text);
    cJSON_AddItemToArray(ts, cJSON_CreateNumber((double)start * per_frame / s->rate));
    cJSON_AddItemToArray(ts, cJSON_CreateNumber((double)end * per_frame / s->rate));
    cJSON_AddItemToObject(c, "timestamp", ts);
    cJSON_AddItemToArray(chunks, c);
}

/* _get_word_offsets: words are the runs of characters between delimiter characters. */
static cf_status add_word_chunks(const asr_state *s, const ctc_char *chars, size_t n, cJSON *chunks, cf_error *err)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(chars[i].text);
    char *word = malloc(total);
    if (!word)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n;) {
        if (!strcmp(chars[i].text, s->replace_char)) {
            i++;
            continue;
        }
        size_t len = 0, j = i;
        for (; j < n && strcmp(chars[j].text, s->replace_char); j++) {
            size_t l = strlen(chars[j].text);
            memcpy(word + len, chars[j].text, l);
            len += l;
        }
        word[len] = '\0';
        add_offset_chunk(s, chunks, word, chars[i].start, chars[j - 1].end);
        i = j;
    }
    free(word);
    return CF_OK;
}

/* "chunks": [{"text", "timestamp": [start, end]}], times = offset * inputs_to_logits_ratio / rate. */
static cf_status ctc_chunks(const asr_state *s, ctc_offsets mode, const int64_t *ids, size_t n, cJSON *out,
                            cf_error *err)
{
    ctc_char *chars = malloc((n + 1) * sizeof *chars);
    if (!chars)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    size_t count = ctc_char_offsets(s, ids, n, chars);
    cJSON *chunks = cJSON_AddArrayToObject(out, "chunks");
    cf_status st = CF_OK;
    if (mode == CTC_CHAR)
        for (size_t i = 0; i < count; i++)
            add_offset_chunk(s, chunks, chars[i].text, chars[i].start, chars[i].end);
    else
        st = add_word_chunks(s, chars, count, chunks, err);
    free(chars);
    return st;
}

static cf_status run_ctc(asr_state *s, const asr_params *ap, const float *pcm, size_t n, const asr_chunk *w,
                         size_t nw, cJSON **out, cf_error *err)
{
    size_t widest = 0, batch = (size_t)ap->batch_size;
    for (size_t i = 0; i < nw; i++)
        widest = w[i].len > widest ? w[i].len : widest;
    size_t cap = nw * ((size_t)cf_wav2vec2_frames(s->ctc, (int64_t)widest) + 1) + 1; /* frames of padded windows */
    int64_t *ids = malloc(cap * sizeof *ids);
    if (!ids)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    size_t n_ids = 0;
    cf_status st = CF_OK;
    for (size_t i = 0; i < nw && st == CF_OK; i += batch) {
        cf_audio_progress("automatic-speech-recognition", i, nw, (double)n / s->rate);
        st = ctc_batch(s, pcm, &w[i], nw - i < batch ? nw - i : batch, ids, &n_ids, err);
    }
    char *text = NULL;
    if (st == CF_OK)
        st = cf_tokenizer_decode(s->tok, ids, n_ids, 0, &text, err);
    if (st == CF_OK) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "text", text);
        if (ap->ctc_timestamps)
            st = ctc_chunks(s, ap->ctc_timestamps, ids, n_ids, *out, err);
    }
    free(text);
    free(ids);
    return st;
}

/* --------------------------------------------------------------- Whisper ---- */

/* _decode_asr's LANGUAGES.get(decode([token])[2:-2]) for a special token. */
static const char *language_of(const void *ctx, int64_t id)
{
    const char *token = cf_tokenizer_id_to_token(ctx, id);
    char code[16];
    size_t len = token ? strlen(token) : 0;
    if (len < 5 || len - 4 >= sizeof code)
        return NULL;
    memcpy(code, token + 2, len - 4);
    code[len - 4] = '\0';
    return cf_whisper_language_name(code);
}

static cf_status whisper_window(asr_state *s, const asr_params *ap, const float *pcm, const asr_chunk *c,
                                float *features, cf_asr_window *win, cf_error *err)
{
    CF_TRY(cf_whisper_log_mel(&s->wfe, pcm + c->start, c->len, features, err));
    cf_lm lm = cf_whisper_as_lm(s->wm);
    cf_whisper_request req = {.language = ap->language, .task = ap->task, .multilingual = ap->multilingual,
                              .return_timestamps = ap->timestamps,
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
    cf_asr_decode_opts opt = {.return_timestamps = ap->timestamps, .return_language = ap->return_language,
                              .time_precision = (double)s->wfe.chunk_length / (double)cf_whisper_enc_len(s->wm),
                              .timestamp_begin = s->info.no_timestamps + 1, .language_of = language_of,
                              .language_ctx = s->tok};
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
        st = s->whisper ? run_whisper(s, &ap, pcm, n, w, nw, out, err) : run_ctc(s, &ap, pcm, n, w, nw, out, err);
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
