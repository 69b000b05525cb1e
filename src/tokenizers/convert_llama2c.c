/* llama2.c tokenizer files -> sentencepiece BPE model -> tokenizer.json tree (see convert_llama2c.h). */
#include "tokenizers/convert_llama2c.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/config.h"
#include "tokenizers/convert_spm.h"
#include "tokenizers/normalized.h"

#define SPACE_SYMBOL "\xE2\x96\x81" /* ▁ */
#define MAX_FILE_BYTES ((size_t)1 << 28)
#define MAX_TOKENS ((size_t)1 << 22)
#define MAX_TOKEN_BYTES 65536

static uint32_t read_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int32_t read_i32le(const uint8_t *p) { return (int32_t)read_u32le(p); }

static float read_f32le(const uint8_t *p)
{
    uint32_t u = read_u32le(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The exported token text back to its sentencepiece piece: ' ' -> "▁", and the bos/eos
 * markers to their pieces. */
static char *piece_from_token(const uint8_t *bytes, size_t len)
{
    if (len == 5 && !memcmp(bytes, "\n<s>\n", 5))
        return strdup("<s>");
    if (len == 6 && !memcmp(bytes, "\n</s>\n", 6))
        return strdup("</s>");
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++)
        spaces += bytes[i] == ' ';
    char *out = malloc(len + 2 * spaces + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (bytes[i] == ' ') {
            memcpy(out + o, SPACE_SYMBOL, 3);
            o += 3;
        } else {
            out[o++] = (char)bytes[i];
        }
    }
    out[o] = '\0';
    return out;
}

static bool is_byte_piece(const char *p)
{
    return strlen(p) == 6 && !strncmp(p, "<0x", 3) && p[5] == '>';
}

static cf_spm_piece_type piece_type(const char *p)
{
    if (!strcmp(p, "<unk>"))
        return CF_SPM_UNKNOWN;
    if (!strcmp(p, "<s>") || !strcmp(p, "</s>"))
        return CF_SPM_CONTROL;
    return is_byte_piece(p) ? CF_SPM_BYTE : CF_SPM_NORMAL;
}

/* Check one token record at `pos`; *len gets its byte length. */
static cf_status check_record(const uint8_t *data, size_t size, size_t pos, size_t index, int32_t max_len,
                              const char *name, size_t *len, cf_error *err)
{
    if (size - pos < 8)
        return cf_fail(err, CF_ERR_FORMAT, "%s: token %zu at byte %zu: truncated record (%zu bytes left, need 8 "
                       "for score and length)", name, index, pos, size - pos);
    float score = read_f32le(data + pos);
    int32_t n = read_i32le(data + pos + 4);
    if (!isfinite(score))
        return cf_fail(err, CF_ERR_FORMAT, "%s: token %zu at byte %zu: score is not a finite number", name, index, pos);
    if (n <= 0 || n > max_len)
        return cf_fail(err, CF_ERR_FORMAT, "%s: token %zu at byte %zu: length %d outside [1, max_token_length %d]",
                       name, index, pos, n, max_len);
    if ((size_t)n > size - pos - 8)
        return cf_fail(err, CF_ERR_FORMAT, "%s: token %zu at byte %zu: length %d runs past the end of the file "
                       "(%zu bytes left)", name, index, pos, n, size - pos - 8);
    const char *text = (const char *)data + pos + 8;
    if (memchr(text, '\0', (size_t)n) || cf_utf8_invalid_at(text, (size_t)n) != (size_t)n)
        return cf_fail(err, CF_ERR_FORMAT, "%s: token %zu at byte %zu: text is not valid UTF-8 without NUL bytes",
                       name, index, pos);
    *len = (size_t)n;
    return CF_OK;
}

static cf_status count_tokens(const uint8_t *data, size_t size, int32_t max_len, const char *name, size_t *count,
                              cf_error *err)
{
    size_t n = 0;
    for (size_t pos = 4, len = 0; pos < size; pos += 8 + len, n++) {
        if (n == MAX_TOKENS)
            return cf_fail(err, CF_ERR_FORMAT, "%s: more than %zu tokens", name, MAX_TOKENS);
        CF_TRY(check_record(data, size, pos, n, max_len, name, &len, err));
    }
    if (n == 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: no tokens after the max_token_length header", name);
    *count = n;
    return CF_OK;
}

static void set_trainer(cf_spm_model *m)
{
    cf_spm_trainer_spec *t = &m->trainer;
    t->model_type = CF_SPM_BPE;
    t->vocab_size = (int32_t)m->n_pieces;
    t->byte_fallback = true;
    t->split_by_whitespace = true;
    t->unk_id = 0;
    t->bos_id = t->eos_id = t->pad_id = -1;
    for (size_t i = m->n_pieces; i-- > 0;) {
        const char *p = m->pieces[i].piece;
        if (!strcmp(p, "<unk>"))
            t->unk_id = (int32_t)i;
        else if (!strcmp(p, "<s>"))
            t->bos_id = (int32_t)i;
        else if (!strcmp(p, "</s>"))
            t->eos_id = (int32_t)i;
    }
    /* llama2.c's encoder adds the dummy prefix and keeps whitespace as it is */
    m->normalizer.add_dummy_prefix = true;
    m->normalizer.escape_whitespaces = true;
}

cf_status cf_llama2c_tokenizer_parse(const uint8_t *data, size_t len, const char *name, cf_spm_model *out,
                                     cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!data || len < 4)
        return cf_fail(err, CF_ERR_FORMAT, "%s: %zu bytes, too short for a llama2.c tokenizer (int32 "
                       "max_token_length, then the tokens)", name, data ? len : 0);
    int32_t max_len = read_i32le(data);
    if (max_len <= 0 || max_len > MAX_TOKEN_BYTES)
        return cf_fail(err, CF_ERR_FORMAT, "%s: max_token_length %d is outside [1, %d]; not a llama2.c tokenizer",
                       name, max_len, MAX_TOKEN_BYTES);
    size_t n = 0;
    CF_TRY(count_tokens(data, len, max_len, name, &n, err));
    out->pieces = calloc(n, sizeof *out->pieces);
    out->trainer.unk_piece = strdup("<unk>");
    if (!out->pieces || !out->trainer.unk_piece) {
        cf_spm_model_free(out);
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory for %zu tokens", name, n);
    }
    size_t pos = 4;
    for (size_t i = 0; i < n; i++) {
        size_t tlen = (size_t)read_i32le(data + pos + 4);
        cf_spm_piece *p = &out->pieces[out->n_pieces];
        p->score = read_f32le(data + pos);
        if (!(p->piece = piece_from_token(data + pos + 8, tlen))) {
            cf_spm_model_free(out);
            return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", name);
        }
        p->type = piece_type(p->piece);
        out->n_pieces++;
        pos += 8 + tlen;
    }
    set_trainer(out);
    return CF_OK;
}

cf_status cf_llama2c_tokenizer_convert(const char *path, cJSON **tokenizer_json, cf_error *err)
{
    *tokenizer_json = NULL;
    char *data = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(path, MAX_FILE_BYTES, &data, &len, err));
    cf_spm_model m;
    cf_status st = cf_llama2c_tokenizer_parse((const uint8_t *)data, len, path, &m, err);
    free(data);
    if (st != CF_OK)
        return st;
    cf_config cfg = {0}; /* no tokenizer_config.json: the Llama defaults (legacy, add bos) */
    st = cf_spm_convert_bpe_model(&m, &cfg, tokenizer_json, err);
    cf_spm_model_free(&m);
    if (st != CF_OK)
        cf_error_prefix(err, "%s: ", path);
    return st;
}
