/* Protobuf wire format reader for sentencepiece's ModelProto.
 *
 * Wire format: each field is a varint key (field_number << 3 | wire_type) followed by a
 * varint (type 0), 8 bytes (type 1), a varint length + bytes (type 2) or 4 bytes (type 5).
 * Nested messages are length-delimited, so every message is parsed within [pos, end). */
#include "tokenizers/spm_proto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "tokenizers/normalized.h"

enum { WIRE_VARINT = 0, WIRE_FIXED64 = 1, WIRE_LEN = 2, WIRE_SGROUP = 3, WIRE_EGROUP = 4, WIRE_FIXED32 = 5 };

/* A .model larger than this is certainly not a sentencepiece model. */
#define SPM_MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct pb_reader {
    const uint8_t *data;
    size_t pos, end;
    const char *name; /* file name for messages */
    const char *msg;  /* message being read, e.g. "trainer_spec" */
    cf_error *err;
} pb_reader;

/* One decoded field: number, wire type and its payload. */
typedef struct pb_field {
    uint32_t number;
    int wire;
    size_t at;      /* byte offset of the key */
    uint64_t value; /* varint / fixed payload */
    size_t len_pos; /* WIRE_LEN: payload start */
    size_t len;     /* WIRE_LEN: payload length */
} pb_field;

static cf_status pb_fail(pb_reader *r, size_t at, const char *what)
{
    return cf_fail(r->err, CF_ERR_FORMAT, "%s: %s at byte offset %zu (in %s): not a valid sentencepiece model",
                   r->name, what, at, r->msg);
}

static cf_status pb_varint(pb_reader *r, uint64_t *out)
{
    size_t start = r->pos;
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->pos >= r->end)
            return pb_fail(r, start, "truncated varint");
        uint8_t b = r->data[r->pos++];
        if (shift == 63 && b > 1)
            return pb_fail(r, start, "varint longer than 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return CF_OK;
        }
    }
    return pb_fail(r, start, "varint longer than 10 bytes");
}

static cf_status pb_fixed(pb_reader *r, size_t n, uint64_t *out)
{
    if (r->end - r->pos < n)
        return pb_fail(r, r->pos, n == 4 ? "truncated fixed32" : "truncated fixed64");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)r->data[r->pos + i] << (8 * i);
    r->pos += n;
    *out = v;
    return CF_OK;
}

/* Read the next field; its payload is consumed (length-delimited payloads are skipped and
 * described by len_pos/len). */
static cf_status pb_next(pb_reader *r, pb_field *f)
{
    memset(f, 0, sizeof *f);
    f->at = r->pos;
    uint64_t key;
    CF_TRY(pb_varint(r, &key));
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return pb_fail(r, f->at, "field number 0 or above 2^29");
    f->number = (uint32_t)(key >> 3);
    f->wire = (int)(key & 7);
    switch (f->wire) {
    case WIRE_VARINT:
        return pb_varint(r, &f->value);
    case WIRE_FIXED64:
        return pb_fixed(r, 8, &f->value);
    case WIRE_FIXED32:
        return pb_fixed(r, 4, &f->value);
    case WIRE_LEN: {
        uint64_t len;
        CF_TRY(pb_varint(r, &len));
        if (len > r->end - r->pos)
            return pb_fail(r, f->at, "length-delimited field runs past the end of its message");
        f->len_pos = r->pos;
        f->len = (size_t)len;
        r->pos += (size_t)len;
        return CF_OK;
    }
    case WIRE_SGROUP:
    case WIRE_EGROUP:
        return pb_fail(r, f->at, "group wire type (3/4), which sentencepiece never writes");
    default:
        return pb_fail(r, f->at, "invalid wire type 6 or 7");
    }
}

static cf_status pb_expect(pb_reader *r, const pb_field *f, int wire, const char *field_name)
{
    if (f->wire == wire)
        return CF_OK;
    static const char *const names[] = {"varint", "fixed64", "length-delimited", "group", "group", "fixed32"};
    return cf_fail(r->err, CF_ERR_FORMAT,
                   "%s: field %u '%s' of %s at byte offset %zu has wire type %d, expected %d (%s): not a "
                   "valid sentencepiece model",
                   r->name, f->number, field_name, r->msg, f->at, f->wire, wire, names[wire]);
}

/* A sub-reader over a length-delimited payload. */
static pb_reader pb_sub(const pb_reader *r, const pb_field *f, const char *msg)
{
    pb_reader s = *r;
    s.pos = f->len_pos;
    s.end = f->len_pos + f->len;
    s.msg = msg;
    return s;
}

static cf_status pb_string(pb_reader *r, const pb_field *f, const char *field_name, char **out)
{
    CF_TRY(pb_expect(r, f, WIRE_LEN, field_name));
    const char *s = (const char *)r->data + f->len_pos;
    size_t bad = cf_utf8_invalid_at(s, f->len);
    if (bad != f->len || memchr(s, 0, f->len))
        return cf_fail(r->err, CF_ERR_FORMAT, "%s: %s '%s' at byte offset %zu is not valid UTF-8 text (bad byte %zu)",
                       r->name, r->msg, field_name, f->at, f->len_pos + bad);
    char *copy = malloc(f->len + 1);
    if (!copy)
        return cf_fail(r->err, CF_ERR_NOMEM, "%s: out of memory", r->name);
    memcpy(copy, s, f->len);
    copy[f->len] = '\0';
    free(*out);
    *out = copy;
    return CF_OK;
}

static cf_status pb_bool(pb_reader *r, const pb_field *f, const char *field_name, bool *out)
{
    CF_TRY(pb_expect(r, f, WIRE_VARINT, field_name));
    *out = f->value != 0;
    return CF_OK;
}

/* proto int32: a varint holding the two's complement of the value (negatives take 10 bytes). */
static cf_status pb_int32(pb_reader *r, const pb_field *f, const char *field_name, int32_t *out)
{
    CF_TRY(pb_expect(r, f, WIRE_VARINT, field_name));
    int64_t v = (int64_t)f->value;
    if (v < INT32_MIN || v > INT32_MAX)
        return cf_fail(r->err, CF_ERR_FORMAT, "%s: %s '%s' at byte offset %zu = %lld is out of int32 range",
                       r->name, r->msg, field_name, f->at, (long long)v);
    *out = (int32_t)v;
    return CF_OK;
}

static float pb_as_float(uint64_t bits)
{
    uint32_t b = (uint32_t)bits;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static cf_status parse_piece(pb_reader *r, size_t index, cf_spm_piece *p)
{
    p->type = CF_SPM_NORMAL;
    size_t start = r->pos;
    while (r->pos < r->end) {
        pb_field f;
        CF_TRY(pb_next(r, &f));
        if (f.number == 1) {
            CF_TRY(pb_string(r, &f, "piece", &p->piece));
        } else if (f.number == 2) {
            CF_TRY(pb_expect(r, &f, WIRE_FIXED32, "score"));
            p->score = pb_as_float(f.value);
            if (!isfinite(p->score))
                return cf_fail(r->err, CF_ERR_FORMAT, "%s: piece %zu (byte offset %zu) has a non-finite score",
                               r->name, index, f.at);
        } else if (f.number == 3) {
            CF_TRY(pb_expect(r, &f, WIRE_VARINT, "type"));
            if (f.value < CF_SPM_NORMAL || f.value > CF_SPM_BYTE)
                return cf_fail(r->err, CF_ERR_FORMAT,
                               "%s: piece %zu (byte offset %zu) has type %llu; sentencepiece types are 1..6",
                               r->name, index, f.at, (unsigned long long)f.value);
            p->type = (cf_spm_piece_type)f.value;
        }
    }
    if (!p->piece || !p->piece[0])
        return cf_fail(r->err, CF_ERR_FORMAT, "%s: piece %zu (byte offset %zu) has an empty or missing 'piece' string",
                       r->name, index, start);
    return CF_OK;
}

static cf_status parse_trainer(pb_reader *r, cf_spm_trainer_spec *t)
{
    while (r->pos < r->end) {
        pb_field f;
        CF_TRY(pb_next(r, &f));
        int32_t model_type;
        switch (f.number) {
        case 3:
            CF_TRY(pb_int32(r, &f, "model_type", &model_type));
            if (model_type < CF_SPM_UNIGRAM || model_type > CF_SPM_CHAR)
                return cf_fail(r->err, CF_ERR_FORMAT, "%s: trainer_spec model_type %d is not 1..4", r->name,
                               model_type);
            t->model_type = (cf_spm_model_type)model_type;
            break;
        case 4: CF_TRY(pb_int32(r, &f, "vocab_size", &t->vocab_size)); break;
        case 21: CF_TRY(pb_bool(r, &f, "split_by_unicode_script", &t->split_by_unicode_script)); break;
        case 22: CF_TRY(pb_bool(r, &f, "split_by_whitespace", &t->split_by_whitespace)); break;
        case 23: CF_TRY(pb_bool(r, &f, "split_by_number", &t->split_by_number)); break;
        case 24: CF_TRY(pb_bool(r, &f, "treat_whitespace_as_suffix", &t->treat_whitespace_as_suffix)); break;
        case 25: CF_TRY(pb_bool(r, &f, "split_digits", &t->split_digits)); break;
        case 26: CF_TRY(pb_bool(r, &f, "allow_whitespace_only_pieces", &t->allow_whitespace_only_pieces)); break;
        case 35: CF_TRY(pb_bool(r, &f, "byte_fallback", &t->byte_fallback)); break;
        case 40: CF_TRY(pb_int32(r, &f, "unk_id", &t->unk_id)); break;
        case 41: CF_TRY(pb_int32(r, &f, "bos_id", &t->bos_id)); break;
        case 42: CF_TRY(pb_int32(r, &f, "eos_id", &t->eos_id)); break;
        case 43: CF_TRY(pb_int32(r, &f, "pad_id", &t->pad_id)); break;
        case 44: CF_TRY(pb_string(r, &f, "unk_surface", &t->unk_surface)); break;
        case 45: CF_TRY(pb_string(r, &f, "unk_piece", &t->unk_piece)); break;
        case 46: CF_TRY(pb_string(r, &f, "bos_piece", &t->bos_piece)); break;
        case 47: CF_TRY(pb_string(r, &f, "eos_piece", &t->eos_piece)); break;
        case 48: CF_TRY(pb_string(r, &f, "pad_piece", &t->pad_piece)); break;
        default: break; /* training-only settings */
        }
    }
    return CF_OK;
}

static cf_status parse_normalizer(pb_reader *r, cf_spm_normalizer_spec *n)
{
    n->present = true;
    while (r->pos < r->end) {
        pb_field f;
        CF_TRY(pb_next(r, &f));
        switch (f.number) {
        case 1: CF_TRY(pb_string(r, &f, "name", &n->name)); break;
        case 2:
            CF_TRY(pb_expect(r, &f, WIRE_LEN, "precompiled_charsmap"));
            free(n->precompiled_charsmap);
            n->precompiled_charsmap = NULL;
            n->charsmap_len = f.len;
            if (f.len) {
                n->precompiled_charsmap = malloc(f.len);
                if (!n->precompiled_charsmap)
                    return cf_fail(r->err, CF_ERR_NOMEM, "%s: out of memory for the charsmap", r->name);
                memcpy(n->precompiled_charsmap, r->data + f.len_pos, f.len);
            }
            break;
        case 3: CF_TRY(pb_bool(r, &f, "add_dummy_prefix", &n->add_dummy_prefix)); break;
        case 4: CF_TRY(pb_bool(r, &f, "remove_extra_whitespaces", &n->remove_extra_whitespaces)); break;
        case 5: CF_TRY(pb_bool(r, &f, "escape_whitespaces", &n->escape_whitespaces)); break;
        default: break;
        }
    }
    return CF_OK;
}

static char *dup_or_null(const char *s)
{
    return cf_strdup(s);
}

static bool set_defaults(cf_spm_model *m)
{
    cf_spm_trainer_spec *t = &m->trainer;
    t->model_type = CF_SPM_UNIGRAM;
    t->vocab_size = 8000;
    t->split_by_whitespace = t->split_by_number = t->split_by_unicode_script = true;
    t->unk_id = 0;
    t->bos_id = 1;
    t->eos_id = 2;
    t->pad_id = -1;
    t->unk_piece = dup_or_null("<unk>");
    t->bos_piece = dup_or_null("<s>");
    t->eos_piece = dup_or_null("</s>");
    t->pad_piece = dup_or_null("<pad>");
    t->unk_surface = dup_or_null(" \xE2\x81\x87 ");
    cf_spm_normalizer_spec *specs[2] = {&m->normalizer, &m->denormalizer};
    for (int i = 0; i < 2; i++) {
        specs[i]->name = dup_or_null("");
        specs[i]->add_dummy_prefix = specs[i]->remove_extra_whitespaces = specs[i]->escape_whitespaces = true;
        if (!specs[i]->name)
            return false;
    }
    return t->unk_piece && t->bos_piece && t->eos_piece && t->pad_piece && t->unk_surface;
}

static cf_status push_piece(pb_reader *r, cf_spm_model *m, size_t *cap, const pb_field *f)
{
    if (m->n_pieces == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        cf_spm_piece *np = realloc(m->pieces, ncap * sizeof *np);
        if (!np)
            return cf_fail(r->err, CF_ERR_NOMEM, "%s: out of memory for %zu pieces", r->name, ncap);
        m->pieces = np;
        *cap = ncap;
    }
    cf_spm_piece *p = &m->pieces[m->n_pieces++];
    memset(p, 0, sizeof *p);
    pb_reader s = pb_sub(r, f, "pieces");
    return parse_piece(&s, m->n_pieces - 1, p);
}

static cf_status parse_model(pb_reader *r, cf_spm_model *m)
{
    size_t cap = 0;
    while (r->pos < r->end) {
        pb_field f;
        CF_TRY(pb_next(r, &f));
        if (f.number >= 1 && f.number <= 5 && f.number != 4)
            CF_TRY(pb_expect(r, &f, WIRE_LEN, f.number == 1 ? "pieces" : f.number == 2 ? "trainer_spec"
                                                                  : f.number == 3   ? "normalizer_spec"
                                                                                    : "denormalizer_spec"));
        if (f.number == 1) {
            CF_TRY(push_piece(r, m, &cap, &f));
        } else if (f.number == 2) {
            pb_reader s = pb_sub(r, &f, "trainer_spec");
            CF_TRY(parse_trainer(&s, &m->trainer));
        } else if (f.number == 3) {
            pb_reader s = pb_sub(r, &f, "normalizer_spec");
            CF_TRY(parse_normalizer(&s, &m->normalizer));
        } else if (f.number == 5) {
            pb_reader s = pb_sub(r, &f, "denormalizer_spec");
            CF_TRY(parse_normalizer(&s, &m->denormalizer));
        }
    }
    if (m->n_pieces == 0)
        return cf_fail(r->err, CF_ERR_FORMAT, "%s: no pieces (ModelProto field 1): not a sentencepiece model", r->name);
    return CF_OK;
}

cf_status cf_spm_parse(const uint8_t *data, size_t len, const char *name, cf_spm_model *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!name)
        name = "sentencepiece model";
    if (!data && len)
        return cf_fail(err, CF_ERR_INVALID_ARG, "%s: NULL data", name);
    if (!set_defaults(out)) {
        cf_spm_model_free(out);
        return cf_fail(err, CF_ERR_NOMEM, "%s: out of memory", name);
    }
    pb_reader r = {.data = data, .pos = 0, .end = len, .name = name, .msg = "ModelProto", .err = err};
    cf_status st = parse_model(&r, out);
    if (st != CF_OK)
        cf_spm_model_free(out);
    return st;
}

cf_status cf_spm_load(const char *path, cf_spm_model *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t len = 0;
    CF_TRY(cf_read_file(path, SPM_MAX_FILE_BYTES, &data, &len, err));
    cf_status st = cf_spm_parse((const uint8_t *)data, len, path, out, err);
    free(data);
    return st;
}

static void free_normalizer(cf_spm_normalizer_spec *n)
{
    free(n->name);
    free(n->precompiled_charsmap);
}

void cf_spm_model_free(cf_spm_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_pieces; i++)
        free(m->pieces[i].piece);
    free(m->pieces);
    cf_spm_trainer_spec *t = &m->trainer;
    free(t->unk_piece);
    free(t->bos_piece);
    free(t->eos_piece);
    free(t->pad_piece);
    free(t->unk_surface);
    free_normalizer(&m->normalizer);
    free_normalizer(&m->denormalizer);
    memset(m, 0, sizeof *m);
}

const char *cf_spm_piece_type_name(cf_spm_piece_type t)
{
    static const char *const names[] = {"?", "NORMAL", "UNKNOWN", "CONTROL", "USER_DEFINED", "UNUSED", "BYTE"};
    return (t >= CF_SPM_NORMAL && t <= CF_SPM_BYTE) ? names[t] : "?";
}
