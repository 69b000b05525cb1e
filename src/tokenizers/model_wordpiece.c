/* WordPiece: greedy longest-match-first over each word, "##" marking continuations. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

cf_status cf_wordpiece_parse(const cJSON *j, cf_model *m, cf_error *err)
{
    const char *w = "tokenizer.json WordPiece model";
    CF_TRY(cf_model_parse_vocab_object(cJSON_GetObjectItemCaseSensitive(j, "vocab"), w, &m->vocab, err));
    const char *unk = "[UNK]", *prefix = "##";
    int64_t max_chars = 100;
    CF_TRY(cf_json_string(j, "unk_token", w, &unk, err));
    CF_TRY(cf_json_string(j, "continuing_subword_prefix", w, &prefix, err));
    CF_TRY(cf_json_int(j, "max_input_chars_per_word", w, &max_chars, err));
    if (max_chars < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: max_input_chars_per_word must be >= 0", w);
    m->unk_token = strdup(unk);
    m->continuing_subword_prefix = strdup(prefix);
    if (!m->unk_token || !m->continuing_subword_prefix)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    m->max_input_chars_per_word = (size_t)max_chars;
    m->unk_id = cf_vocab_find(&m->vocab, unk, strlen(unk));
    return CF_OK;
}

static cf_status push_unk(const cf_model *m, size_t len, cf_toks *out, cf_error *err)
{
    if (m->unk_id < 0)
        return cf_fail(err, CF_ERR_FORMAT, "WordPiece: the unknown token \"%s\" is not in the vocabulary",
                       m->unk_token);
    return cf_toks_push(out, m->unk_id, 0, len) ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
}

cf_status cf_wordpiece_tokenize(const cf_model *m, const char *s, size_t len, cf_toks *out, cf_error *err)
{
    size_t nchars = 0;
    for (size_t i = 0; i < len; i++)
        nchars += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (nchars > m->max_input_chars_per_word)
        return push_unk(m, len, out, err);
    size_t plen = strlen(m->continuing_subword_prefix);
    char stackbuf[512];
    char *buf = len + plen <= sizeof stackbuf ? stackbuf : malloc(len + plen);
    if (!buf)
        return cf_fail(err, CF_ERR_NOMEM, "out of memory");
    memcpy(buf, m->continuing_subword_prefix, plen);
    size_t first = out->n, start = 0;
    cf_status st = CF_OK;
    while (start < len) {
        size_t end = len;
        int64_t id = -1;
        while (start < end) {
            if (start == 0) {
                id = cf_vocab_find(&m->vocab, s, end);
            } else {
                memcpy(buf + plen, s + start, end - start);
                id = cf_vocab_find(&m->vocab, buf, plen + end - start);
            }
            if (id >= 0)
                break;
            do /* back off one char */
                end--;
            while (end > start && ((unsigned char)s[end] & 0xC0) == 0x80);
        }
        if (id < 0) {
            out->n = first;
            st = push_unk(m, len, out, err);
            break;
        }
        if (!cf_toks_push(out, id, start, end)) {
            st = cf_fail(err, CF_ERR_NOMEM, "out of memory");
            break;
        }
        start = end;
    }
    if (buf != stackbuf)
        free(buf);
    return st;
}
