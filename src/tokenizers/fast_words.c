/* Direct pre-tokenize + model paths for the two most common tokenizer.json shapes, producing
 * exactly what the general split machinery (pre_tokenizers.c, pretokenized.c) produces but
 * without building one normalized string per word:
 *
 *  - ByteLevel (GPT-2 regex, no prefix space) + BPE: a hand-written matcher of the GPT-2
 *    pattern on ASCII text that hands over to PCRE2 (JIT) wherever a non-ASCII char could
 *    change the match; each word is mapped to the byte alphabet in a scratch buffer and
 *    goes through the BPE word cache.
 *  - BertPreTokenizer + WordPiece on ASCII splits: whitespace removed, punctuation isolated.
 *
 * Token offsets are in the split's normalized bytes; a byte-level token covers the source
 * chars its bytes come from, as the alignments of the byte-level transform say. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory tokenizing text"); }

cf_fast_kind cf_fast_kind_of(const cf_pretokenizer *pt, bool has_pretok, const cf_model *m)
{
    if (!has_pretok)
        return CF_FAST_NONE;
    if (pt->kind == CF_PRE_BYTE_LEVEL && pt->use_regex && !pt->add_prefix_space && m->kind == CF_MODEL_BPE)
        return CF_FAST_BYTE_LEVEL;
    if (pt->kind == CF_PRE_BERT && m->kind == CF_MODEL_WORDPIECE)
        return CF_FAST_BERT;
    return CF_FAST_NONE;
}

/* ------------------------------------------------------------ the GPT-2 pattern on ASCII */

static bool is_letter(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
/* PCRE2 \s on ASCII: space, \t \n \v \f \r. */
static bool is_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }
static bool is_other(unsigned char c) { return c < 0x80 && !is_letter(c) && !is_digit(c) && !is_space(c); }

/* End of the match of 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * at `i`, or 0 when a non-ASCII char takes part (the caller asks PCRE2 then). */
static size_t gpt2_ascii_match(const unsigned char *s, size_t len, size_t i)
{
    unsigned char c = s[i];
    if (c >= 0x80)
        return 0;
    if (c == '\'' && i + 1 < len) {
        unsigned char a = s[i + 1], b = i + 2 < len ? s[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd')
            return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return i + 3;
    }
    size_t j = i + (c == ' ' && i + 1 < len && !is_space(s[i + 1]));
    if (j < len && s[j] >= 0x80)
        return 0; /* " " + a non-ASCII char: letter, number or other? */
    bool (*run)(unsigned char) = NULL;
    if (j < len && is_letter(s[j]))
        run = is_letter;
    else if (j < len && is_digit(s[j]))
        run = is_digit;
    else if (j < len && is_other(s[j]))
        run = is_other;
    if (run) {
        while (j < len && run(s[j]))
            j++;
        return j < len && s[j] >= 0x80 ? 0 : j; /* the run could go on with a non-ASCII char */
    }
    /* whitespace: \s+(?!\S) keeps the last space for the next word, else \s+ */
    size_t k = i;
    while (k < len && is_space(s[k]))
        k++;
    if (k == len)
        return k;
    if (s[k] >= 0x80)
        return 0; /* non-ASCII whitespace would extend the run */
    return k - 1 > i ? k - 1 : k;
}

/* ------------------------------------------------------------ ByteLevel + BPE */

/* A byte's char in the byte-level alphabet, as UTF-8. */
typedef struct mapped_byte {
    char utf8[4];
    size_t len;
} mapped_byte;

typedef struct scratch {
    mapped_byte alphabet[256];
    char *mapped;    /* the word in the byte alphabet */
    uint32_t *src;   /* per mapped byte: its byte in the word */
    size_t cap;
    cf_toks toks;    /* the model's tokens of one word */
} scratch;

static bool scratch_reserve(scratch *sc, size_t need)
{
    if (need <= sc->cap)
        return true;
    size_t cap = sc->cap ? sc->cap : 256;
    while (cap < need)
        cap *= 2;
    char *m = realloc(sc->mapped, cap);
    if (!m)
        return false;
    sc->mapped = m;
    uint32_t *s = realloc(sc->src, cap * sizeof *s);
    if (!s)
        return false;
    sc->src = s;
    sc->cap = cap;
    return true;
}

static void scratch_free(scratch *sc)
{
    free(sc->mapped);
    free(sc->src);
    free(sc->toks.v);
}

/* Byte-level BPE of text[ws, we); appends tokens (offsets in text) tagged with `word`. */
static cf_status byte_level_word(const cf_model *m, const char *text, size_t ws, size_t we, uint32_t word,
                                 scratch *sc, cf_toks *out, cf_error *err)
{
    if (!scratch_reserve(sc, 2 * (we - ws) + 1))
        return oom(err);
    size_t n = 0;
    for (size_t i = ws; i < we; i++) {
        const mapped_byte *mb = &sc->alphabet[(uint8_t)text[i]];
        for (size_t b = 0; b < mb->len; b++) {
            sc->mapped[n] = mb->utf8[b];
            sc->src[n++] = (uint32_t)i;
        }
    }
    sc->toks.n = 0;
    CF_TRY(cf_bpe_tokenize(m, sc->mapped, n, &sc->toks, err));
    for (size_t t = 0; t < sc->toks.n; t++) {
        const cf_tok *x = &sc->toks.v[t];
        /* a token covers whole source chars: from the char of its first byte to that of its last */
        size_t a = sc->src[x->start], b = sc->src[x->end - 1];
        while (a > ws && ((unsigned char)text[a] & 0xC0) == 0x80)
            a--;
        b++;
        while (b < we && ((unsigned char)text[b] & 0xC0) == 0x80)
            b++;
        if (!cf_toks_push(out, x->id, a, b))
            return oom(err);
        out->v[out->n - 1].word = word;
    }
    return CF_OK;
}

static cf_status byte_level_split(const cf_tokenizer *tok, const cf_normalized *ns, size_t budget, cf_toks *out,
                                  size_t *n_words, bool *stopped, cf_error *err)
{
    const unsigned char *s = (const unsigned char *)ns->text;
    size_t len = ns->len, i = 0;
    void *md = NULL;
    scratch sc = {0};
    for (int b = 0; b < 256; b++)
        sc.alphabet[b].len = cf_utf8_encode(cf_byte_to_char((uint8_t)b), sc.alphabet[b].utf8);
    cf_status st = CF_OK;
    while (i < len && st == CF_OK) {
        size_t end = gpt2_ascii_match(s, len, i), ms;
        if (!end && !(cf_regex_next(tok->pretok.regex, &md, ns->text, len, i, &ms, &end) && ms == i)) {
            st = cf_fail(err, CF_ERR_INTERNAL, "byte-level pre-tokenizer: no match at byte %zu", i);
            break;
        }
        st = byte_level_word(&tok->model, ns->text, i, end, (uint32_t)*n_words, &sc, out, err);
        (*n_words)++;
        i = end;
        if (budget && out->n >= budget) {
            *stopped = true;
            break;
        }
    }
    cf_regex_match_data_free(md);
    scratch_free(&sc);
    return st;
}

/* ------------------------------------------------------------ BertPreTokenizer + WordPiece */

static bool ascii_only(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return false;
    return true;
}

static bool is_bert_punct(unsigned char c) { return cf_uc_is_punctuation(c); }

static cf_status bert_split(const cf_tokenizer *tok, const cf_normalized *ns, size_t budget, cf_toks *out,
                            size_t *n_words, bool *stopped, cf_error *err)
{
    const char *s = ns->text;
    size_t len = ns->len, i = 0;
    cf_toks word = {0};
    cf_status st = CF_OK;
    while (i < len && st == CF_OK) {
        unsigned char c = (unsigned char)s[i];
        if (cf_uc_is_whitespace(c)) {
            i++;
            continue;
        }
        size_t end = i + 1;
        if (!is_bert_punct(c))
            while (end < len && !cf_uc_is_whitespace((unsigned char)s[end]) && !is_bert_punct((unsigned char)s[end]))
                end++;
        word.n = 0;
        st = cf_wordpiece_tokenize(&tok->model, s + i, end - i, &word, err);
        for (size_t k = 0; k < word.n && st == CF_OK; k++) {
            if (!cf_toks_push(out, word.v[k].id, i + word.v[k].start, i + word.v[k].end))
                st = oom(err);
            else
                out->v[out->n - 1].word = (uint32_t)*n_words;
        }
        (*n_words)++;
        i = end;
        if (budget && out->n >= budget) {
            *stopped = true;
            break;
        }
    }
    free(word.v);
    return st;
}

cf_status cf_fast_tokenize_split(const cf_tokenizer *tok, const cf_normalized *ns, size_t budget, cf_toks *out,
                                 size_t *n_words, bool *handled, bool *stopped, cf_error *err)
{
    *handled = false;
    *stopped = false;
    *n_words = 0;
    switch (tok->fast) {
    case CF_FAST_BYTE_LEVEL:
        *handled = true;
        return byte_level_split(tok, ns, budget, out, n_words, stopped, err);
    case CF_FAST_BERT:
        if (!ascii_only(ns->text, ns->len))
            return CF_OK;
        *handled = true;
        return bert_split(tok, ns, budget, out, n_words, stopped, err);
    case CF_FAST_NONE:
        break;
    }
    return CF_OK;
}
