/* Decode with libavformat/libavcodec and convert with one libswresample context, as the ffmpeg
 * command line does for `-ac 1 -ar R -f f32le` (see audio.h). */
#include "media/audio.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "core/buf.h"
#include "core/log.h"

#define AVIO_BUFFER_SIZE 32768 /* what the pipe: protocol reads at a time */
#define MAX_SAMPLE_RATE 768000  /* the highest rate audio gear uses */
/* The resampler's filter grows with the downsampling ratio (taps = 32 * ratio, per phase). */
#define MAX_DOWNSAMPLING 256

/* ------------------------------------------------------------------ logging ---- */

/* FFmpeg's own messages go to our log at debug level and are dropped otherwise; the last error
 * FFmpeg reported on this thread is kept to explain a failure ("Invalid sample rate: 0"). */
static _Thread_local char t_av_last_error[256];

static void forward_av_log(void *avcl, int level, const char *fmt, va_list args)
{
    bool keep = level <= AV_LOG_ERROR;
    bool show = level <= AV_LOG_VERBOSE && cf_log_level_get() >= CF_LOG_DEBUG;
    if (!keep && !show)
        return;
    char line[1024];
    int print_prefix = 0;
    av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &print_prefix);
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (!len)
        return;
    if (keep)
        snprintf(t_av_last_error, sizeof t_av_last_error, "%s", line);
    if (show)
        cf_log_debug("ffmpeg: %s", line);
}

static pthread_once_t g_av_log_once = PTHREAD_ONCE_INIT;
static void install_av_log(void) { av_log_set_callback(forward_av_log); }

/* "Invalid data found when processing input; Invalid sample rate: 0": the error code's text and
 * what FFmpeg last logged about it. */
static const char *av_err(int code, char *buf, size_t size)
{
    char text[128];
    if (av_strerror(code, text, sizeof text) < 0)
        snprintf(text, sizeof text, "error %d", code);
    if (t_av_last_error[0])
        snprintf(buf, size, "%s; %s", text, t_av_last_error);
    else
        snprintf(buf, size, "%s", text);
    return buf;
}

/* --------------------------------------------------------------- converter ---- */

/* One swresample context from the decoder's frames to mono float at the target rate, and the
 * growing output. Recreated (after draining) if the stream changes format mid-way, as the
 * command line reconfigures its filter graph. */
typedef struct converter {
    const char *name;
    int target_rate;
    double max_seconds;
    size_t max_samples;
    SwrContext *swr;
    int in_format, in_rate;
    AVChannelLayout in_layout;
    double in_seconds; /* input consumed so far */
    float *out;
    size_t n, cap;
} converter;

static cf_status too_long(converter *c, double seconds, cf_error *err)
{
    return cf_fail(err, CF_ERR_INVALID_ARG, "%s: audio is longer than the limit of %g s (at least %.2f s)", c->name,
                   c->max_seconds, seconds);
}

static cf_status converter_drain(converter *c, cf_error *err);

/* `bad` is the status for a rate out of range: the file's fault or the caller's. */
static cf_status check_rate(const char *name, int rate, int target_rate, cf_status bad, cf_error *err)
{
    if (rate <= 0 || rate > MAX_SAMPLE_RATE)
        return cf_fail(err, bad, "%s: sample rate is %d Hz; 1..%d Hz is supported", name, rate,
                       MAX_SAMPLE_RATE);
    if (rate / MAX_DOWNSAMPLING > target_rate)
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: resampling %d Hz to %d Hz is more than %dx downsampling", name,
                       rate, target_rate, MAX_DOWNSAMPLING);
    return CF_OK;
}

static cf_status converter_setup(converter *c, const AVChannelLayout *layout_in, int format, int rate, cf_error *err)
{
    char msg[512];
    CF_TRY(check_rate(c->name, rate, c->target_rate, CF_ERR_FORMAT, err));
    if (layout_in->nb_channels <= 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: stream has %d channels", c->name, layout_in->nb_channels);
    AVChannelLayout layout = {0};
    if (layout_in->order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&layout, layout_in->nb_channels); /* the command line guesses the same way */
    else if (av_channel_layout_copy(&layout, layout_in) < 0)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", c->name);

    bool same = c->swr && c->in_format == format && c->in_rate == rate &&
                av_channel_layout_compare(&c->in_layout, &layout) == 0;
    if (same) {
        av_channel_layout_uninit(&layout);
        return CF_OK;
    }
    if (c->swr) {
        cf_status st = converter_drain(c, err);
        swr_free(&c->swr);
        if (st != CF_OK) {
            av_channel_layout_uninit(&layout);
            return st;
        }
    }
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    int ret = swr_alloc_set_opts2(&c->swr, &mono, AV_SAMPLE_FMT_FLT, c->target_rate, &layout, format, rate, 0, NULL);
    if (ret >= 0)
        ret = swr_init(c->swr);
    if (ret < 0) {
        char desc[128] = "?";
        av_channel_layout_describe(&layout, desc, sizeof desc);
        av_channel_layout_uninit(&layout);
        swr_free(&c->swr);
        return cf_fail(err, CF_ERR_UNSUPPORTED, "%s: cannot convert %s %s at %d Hz to mono float at %d Hz: %s", c->name,
                       desc, av_get_sample_fmt_name(format) ? av_get_sample_fmt_name(format) : "?", rate,
                       c->target_rate, av_err(ret, msg, sizeof msg));
    }
    av_channel_layout_uninit(&c->in_layout);
    c->in_layout = layout;
    c->in_format = format;
    c->in_rate = rate;
    return CF_OK;
}

/* Convert nb input samples (NULL = drain the resampler's tail) and append the output. */
static cf_status converter_run(converter *c, const uint8_t **data, int nb, cf_error *err)
{
    if (data) {
        c->in_seconds += (double)nb / c->in_rate;
        if (c->in_seconds > c->max_seconds + 1.0)
            return too_long(c, c->in_seconds, err);
    }
    for (;;) {
        int room = swr_get_out_samples(c->swr, data ? nb : 0);
        if (room < 0)
            return cf_fail(err, CF_ERR_INTERNAL, "%s: resampler state is invalid", c->name);
        room += 64;
        if (c->cap - c->n < (size_t)room) {
            size_t cap = c->cap ? c->cap : 16384;
            while (cap - c->n < (size_t)room)
                cap *= 2;
            float *grown = realloc(c->out, cap * sizeof *grown);
            if (!grown)
                return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for %zu samples", c->name, cap);
            c->out = grown;
            c->cap = cap;
        }
        uint8_t *dst = (uint8_t *)(c->out + c->n);
        int got = swr_convert(c->swr, &dst, room, data, data ? nb : 0);
        if (got < 0) {
            char msg[512];
            return cf_fail(err, CF_ERR_FORMAT, "%s: resampling failed: %s", c->name, av_err(got, msg, sizeof msg));
        }
        c->n += (size_t)got;
        if (c->n > c->max_samples)
            return too_long(c, (double)c->n / c->target_rate, err);
        /* All input is consumed in one call when there is room; draining ends when nothing comes out. */
        if (data || got == 0)
            return CF_OK;
    }
}

static cf_status converter_drain(converter *c, cf_error *err)
{
    return c->swr ? converter_run(c, NULL, 0, err) : CF_OK;
}

static void converter_init(converter *c, const char *name, int target_rate, double max_seconds)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->target_rate = target_rate;
    c->max_seconds = max_seconds > 0 ? max_seconds : CF_AUDIO_DEFAULT_MAX_SECONDS;
    double max_samples = ceil(c->max_seconds * target_rate);
    c->max_samples = max_samples < (double)(SIZE_MAX / 8) ? (size_t)max_samples : SIZE_MAX / 8;
}

static void converter_free(converter *c)
{
    swr_free(&c->swr);
    av_channel_layout_uninit(&c->in_layout);
    free(c->out);
    c->out = NULL;
}

/* Hand the samples to the caller, refusing NaN or infinite values (a float WAV can hold them). */
static cf_status converter_finish(converter *c, float **pcm, size_t *n, cf_error *err)
{
    if (c->n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: no audio samples could be decoded (empty or corrupt file)", c->name);
    for (size_t i = 0; i < c->n; i++)
        if (!isfinite(c->out[i]))
            return cf_fail(err, CF_ERR_FORMAT, "%s: sample %zu is %f; audio must be finite", c->name, i,
                           (double)c->out[i]);
    *pcm = c->out;
    *n = c->n;
    c->out = NULL;
    return CF_OK;
}

static cf_status check_target(const char *name, int target_rate, cf_error *err)
{
    if (target_rate <= 0 || target_rate > MAX_SAMPLE_RATE)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: target sample rate %d Hz is not in 1..%d", name, target_rate,
                       MAX_SAMPLE_RATE);
    return CF_OK;
}

/* ------------------------------------------------------------ memory input ---- */

typedef struct mem_reader {
    const uint8_t *data;
    size_t size, pos;
} mem_reader;

static int mem_read(void *opaque, uint8_t *buf, int buf_size)
{
    mem_reader *r = opaque;
    size_t left = r->size - r->pos;
    if (left == 0)
        return AVERROR_EOF;
    size_t take = left < (size_t)buf_size ? left : (size_t)buf_size;
    memcpy(buf, r->data + r->pos, take);
    r->pos += take;
    return (int)take;
}

static int64_t mem_seek(void *opaque, int64_t offset, int whence)
{
    mem_reader *r = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)r->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)r->pos; break;
    case SEEK_END: base = (int64_t)r->size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset > INT64_MAX - base || base + offset < 0 || (uint64_t)(base + offset) > r->size)
        return AVERROR(EINVAL);
    r->pos = (size_t)(base + offset);
    return (int64_t)r->pos;
}

/* ------------------------------------------------------------------ decode ---- */

typedef struct decoder {
    mem_reader reader;
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *codec;
    AVPacket *packet;
    AVFrame *frame;
    int stream;
    int damaged; /* packets the decoder rejected (skipped, as the command line does) */
} decoder;

static void decoder_close(decoder *d)
{
    av_frame_free(&d->frame);
    av_packet_free(&d->packet);
    avcodec_free_context(&d->codec);
    avformat_close_input(&d->fmt);
    if (d->io) {
        av_freep(&d->io->buffer);
        avio_context_free(&d->io);
    }
}

/* Open the container over the bytes. Non-seekable, as `-i pipe:0` reads, unless `seekable`. */
static cf_status decoder_open(decoder *d, const void *data, size_t size, bool seekable, const char *name,
                              int target_rate, cf_error *err)
{
    char msg[512];
    t_av_last_error[0] = '\0';
    d->reader = (mem_reader){data, size, 0};
    uint8_t *buffer = av_malloc(AVIO_BUFFER_SIZE);
    if (buffer)
        d->io = avio_alloc_context(buffer, AVIO_BUFFER_SIZE, 0, &d->reader, mem_read, NULL,
                                   seekable ? mem_seek : NULL);
    d->fmt = avformat_alloc_context();
    d->packet = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!buffer || !d->io || !d->fmt || !d->packet || !d->frame) {
        if (!d->io)
            av_free(buffer);
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory opening the audio", name);
    }
    d->io->seekable = seekable ? AVIO_SEEKABLE_NORMAL : 0;
    d->fmt->pb = d->io;
    d->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    int ret = avformat_open_input(&d->fmt, "", NULL, NULL);
    if (ret < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: not a readable audio file (%s)", name, av_err(ret, msg, sizeof msg));
    ret = avformat_find_stream_info(d->fmt, NULL);
    if (ret < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: cannot read the stream parameters (%s)", name,
                       av_err(ret, msg, sizeof msg));
    const AVCodec *codec = NULL;
    d->stream = av_find_best_stream(d->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (d->stream < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: no %saudio stream found (container %s)", name,
                       d->stream == AVERROR_DECODER_NOT_FOUND ? "decodable " : "",
                       d->fmt->iformat ? d->fmt->iformat->name : "?");
    AVStream *st = d->fmt->streams[d->stream];
    CF_TRY(check_rate(name, st->codecpar->sample_rate, target_rate, CF_ERR_FORMAT, err));
    d->codec = avcodec_alloc_context3(codec);
    if (!d->codec)
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory opening the decoder", name);
    ret = avcodec_parameters_to_context(d->codec, st->codecpar);
    if (ret >= 0) {
        d->codec->pkt_timebase = st->time_base;
        ret = avcodec_open2(d->codec, codec, NULL);
    }
    if (ret < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: cannot open the %s decoder (%s)", name, codec->name,
                       av_err(ret, msg, sizeof msg));
    return CF_OK;
}

static cf_status convert_frame(converter *c, const AVFrame *frame, cf_error *err)
{
    if (frame->nb_samples <= 0)
        return CF_OK;
    CF_TRY(converter_setup(c, &frame->ch_layout, frame->format, frame->sample_rate, err));
    return converter_run(c, (const uint8_t **)frame->extended_data, frame->nb_samples, err);
}

/* Pull every frame the decoder has ready. */
static cf_status receive_frames(decoder *d, converter *c, cf_error *err)
{
    for (;;) {
        int ret = avcodec_receive_frame(d->codec, d->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return CF_OK;
        if (ret < 0) {
            d->damaged++;
            return CF_OK;
        }
        cf_status st = convert_frame(c, d->frame, err);
        av_frame_unref(d->frame);
        CF_TRY(st);
    }
}

static cf_status decode_all(decoder *d, converter *c, cf_error *err)
{
    int ret;
    while ((ret = av_read_frame(d->fmt, d->packet)) >= 0) {
        cf_status st = CF_OK;
        if (d->packet->stream_index == d->stream) {
            if (avcodec_send_packet(d->codec, d->packet) < 0)
                d->damaged++; /* the command line reports and skips such packets */
            st = receive_frames(d, c, err);
        }
        av_packet_unref(d->packet);
        CF_TRY(st);
    }
    /* A read error ends the input as end of file does; what was decoded so far is kept. */
    if (ret != AVERROR_EOF) {
        char msg[512];
        cf_log_warn("%s: reading stopped early: %s", c->name, av_err(ret, msg, sizeof msg));
    }
    avcodec_send_packet(d->codec, NULL);
    CF_TRY(receive_frames(d, c, err));
    return converter_drain(c, err);
}

static void fill_info(const decoder *d, cf_audio_info *info)
{
    const AVCodecParameters *par = d->fmt->streams[d->stream]->codecpar;
    info->sample_rate = par->sample_rate;
    info->channels = par->ch_layout.nb_channels;
    snprintf(info->codec, sizeof info->codec, "%s", d->codec->codec ? d->codec->codec->name : "?");
    snprintf(info->format, sizeof info->format, "%s", d->fmt->iformat ? d->fmt->iformat->name : "?");
}

static cf_status decode_pass(const void *data, size_t size, bool seekable, converter *c, cf_audio_info *info,
                             cf_error *err)
{
    decoder d = {0};
    cf_status st = decoder_open(&d, data, size, seekable, c->name, c->target_rate, err);
    if (st == CF_OK)
        st = decode_all(&d, c, err);
    if (st == CF_OK && d.damaged)
        cf_log_warn("%s: %d damaged packet(s) skipped while decoding", c->name, d.damaged);
    if (st == CF_OK && info)
        fill_info(&d, info);
    decoder_close(&d);
    return st;
}

cf_status cf_audio_decode(const void *data, size_t size, const char *name, int target_rate, double max_seconds,
                          float **pcm, size_t *n, cf_audio_info *info, cf_error *err)
{
    name = name ? name : "audio";
    *pcm = NULL;
    *n = 0;
    CF_TRY(check_target(name, target_rate, err));
    if (!data || size == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: audio file is empty (0 bytes)", name);
    if (size > CF_AUDIO_MAX_FILE_BYTES)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: %zu bytes is larger than the %zu-byte limit for audio files", name,
                       size, CF_AUDIO_MAX_FILE_BYTES);
    pthread_once(&g_av_log_once, install_av_log);

    converter c;
    converter_init(&c, name, target_rate, max_seconds);
    cf_status st = decode_pass(data, size, false, &c, info, err);
    if (st == CF_OK)
        st = converter_finish(&c, pcm, n, err);
    /* Containers that need seeking (an MP4 with its index at the end) get a second, seekable pass;
     * when that fails too, the first error stands. */
    if (st == CF_ERR_FORMAT && c.n == 0) {
        converter_free(&c);
        converter_init(&c, name, target_rate, max_seconds);
        if (decode_pass(data, size, true, &c, info, NULL) == CF_OK && converter_finish(&c, pcm, n, NULL) == CF_OK) {
            cf_error_clear(err);
            st = CF_OK;
        }
    }
    converter_free(&c);
    return st;
}

cf_status cf_audio_load_memory(const void *data, size_t size, const char *name, int target_rate,
                               double max_seconds, float **pcm, size_t *n, cf_error *err)
{
    return cf_audio_decode(data, size, name, target_rate, max_seconds, pcm, n, NULL, err);
}

cf_status cf_audio_load_file(const char *path, int target_rate, double max_seconds, float **pcm, size_t *n,
                             cf_error *err)
{
    *pcm = NULL;
    *n = 0;
    char *bytes = NULL;
    size_t size = 0;
    /* The whole file is read first: the pipeline hands ffmpeg the bytes through a pipe, and the
     * demuxers behave the same only on the same non-seekable stream. */
    CF_TRY(cf_read_file(path, CF_AUDIO_MAX_FILE_BYTES, &bytes, &size, err));
    cf_status st = cf_audio_decode(bytes, size, path, target_rate, max_seconds, pcm, n, NULL, err);
    free(bytes);
    return st;
}

cf_status cf_audio_from_f32(const float *interleaved, size_t frames, int channels, int rate, int target_rate,
                            double max_seconds, float **pcm, size_t *n, cf_error *err)
{
    const char *name = "raw float32 audio";
    *pcm = NULL;
    *n = 0;
    CF_TRY(check_target(name, target_rate, err));
    if (channels <= 0 || channels > 64)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: %d channels; 1..64 are supported", name, channels);
    CF_TRY(check_rate(name, rate, target_rate, CF_ERR_INVALID_ARG, err));
    if (!interleaved || frames == 0)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: no samples", name);
    pthread_once(&g_av_log_once, install_av_log);

    converter c;
    converter_init(&c, name, target_rate, max_seconds);
    if ((double)frames / rate > c.max_seconds) {
        cf_status st = too_long(&c, (double)frames / rate, err);
        converter_free(&c);
        return st;
    }
    AVChannelLayout layout = {0};
    av_channel_layout_default(&layout, channels);
    cf_status st = converter_setup(&c, &layout, AV_SAMPLE_FMT_FLT, rate, err);
    av_channel_layout_uninit(&layout);
    /* swr_convert takes an int count: feed long buffers in slices. */
    const size_t slice = 1 << 20;
    for (size_t at = 0; st == CF_OK && at < frames; at += slice) {
        const uint8_t *src = (const uint8_t *)(interleaved + at * (size_t)channels);
        int count = (int)(frames - at < slice ? frames - at : slice);
        st = converter_run(&c, &src, count, err);
    }
    if (st == CF_OK)
        st = converter_drain(&c, err);
    if (st == CF_OK)
        st = converter_finish(&c, pcm, n, err);
    converter_free(&c);
    return st;
}
