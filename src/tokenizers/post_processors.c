/* Post-processors of tokenizer.json: add the special tokens around one or two encoded
 * sequences (and their overflowing windows), set type ids and sequence ranges. */
#include <stdlib.h>
#include <string.h>

#include "tokenizers/tokenizer_internal.h"

static cf_status oom(cf_error *err) { return cf_fail(err, CF_ERR_NOMEM, "out of memory adding special tokens"); }

/* Sequence items through the generic list parser. */
static cf_status parse_item(const cJSON *j, void *item, cf_error *err) { return cf_post_parse(j, item, err); }
static void free_item(void *item) { cf_post_free(item); }

/* ------------------------------------------------------------ byte-level offset trimming */

static bool is_space_char(uint32_t c) { return c == 0x120 || cf_uc_is_whitespace(c); }

/* ByteLevel's process_offsets: offsets no longer cover the leading/trailing spaces of a token. */
static void trim_offsets(cf_enc *e, bool add_prefix_space)
{
    for (size_t i = 0; i < e->n; i++) {
        const char *t = e->tokens[i];
        size_t nchars, lead, trail;
        cf_uc_edge_runs(t, strlen(t), is_space_char, &nchars, &lead, &trail);
        if (lead == 0 && trail == 0)
            continue;
        int64_t *o = e->offsets[i];
        if (lead > 0) {
            bool is_first = i == 0 || o[0] == 0;
            if (is_first && add_prefix_space && lead == 1)
                lead = 0;
            o[0] = o[0] + (int64_t)lead < o[1] ? o[0] + (int64_t)lead : o[1];
        }
        if (trail > 0 && o[1] >= (int64_t)trail)
            o[1] = o[1] - (int64_t)trail > o[0] ? o[1] - (int64_t)trail : o[0];
    }
}

static void trim_all(cf_enc *e, bool add_prefix_space)
{
    trim_offsets(e, add_prefix_space);
    for (size_t i = 0; i < e->n_over; i++)
        trim_offsets(&e->over[i], add_prefix_space);
}

/* ------------------------------------------------------------ building blocks */

typedef struct special_tok {
    int64_t id;
    const char *token;
    int64_t type_id;
} special_tok;

/* Wraps `in` as before + in + after, with the given type id for its own tokens (or keeping
 * them when keep_types), recording `seq` as the range of in's tokens. */
static cf_status wrap(const cf_enc *in, const special_tok *before, size_t nb, const special_tok *after, size_t na,
                      int64_t type_id, bool keep_types, int seq, cf_enc *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < nb; i++)
        if (!cf_enc_push(out, before[i].id, before[i].type_id, before[i].token, 0, 0, 1, -1))
            return oom(err);
    size_t start = out->n;
    for (size_t i = 0; i < in->n; i++) {
        if (!cf_enc_push(out, in->ids[i], keep_types ? in->type_ids[i] : type_id, in->tokens[i], in->offsets[i][0],
                         in->offsets[i][1], in->special[i], in->words[i]))
            return oom(err);
        out->attn[out->n - 1] = in->attn[i];
    }
    out->ranges[seq] = (cf_seq_range){true, start, out->n};
    for (size_t i = 0; i < na; i++)
        if (!cf_enc_push(out, after[i].id, after[i].type_id, after[i].token, 0, 0, 1, -1))
            return oom(err);
    return CF_OK;
}

static cf_status wrap_all(cf_enc *in, const special_tok *before, size_t nb, const special_tok *after, size_t na,
                          int64_t type_id, bool keep_types, int seq, cf_error *err)
{
    cf_enc out;
    cf_status st = wrap(in, before, nb, after, na, type_id, keep_types, seq, &out, err);
    if (st == CF_OK && in->n_over) {
        out.over = calloc(in->n_over, sizeof *out.over);
        if (!out.over)
            st = oom(err);
        for (size_t i = 0; i < in->n_over && st == CF_OK; i++) {
            st = wrap(&in->over[i], before, nb, after, na, type_id, keep_types, seq, &out.over[i], err);
            out.n_over = i + 1;
        }
    }
    if (st != CF_OK) {
        cf_enc_free(&out);
        return st;
    }
    cf_enc_free(in);
    *in = out;
    return CF_OK;
}

static void set_types(cf_enc *e, int64_t type_id, bool recurse)
{
    for (size_t i = 0; i < e->n; i++)
        e->type_ids[i] = type_id;
    if (recurse)
        for (size_t i = 0; i < e->n_over; i++)
            set_types(&e->over[i], type_id, true);
}

/* ------------------------------------------------------------ processors */

static cf_status template_apply(const cf_post *p, cf_enc **enc, size_t n, bool add_special, cf_enc *parts,
                                size_t *n_parts, cf_error *err)
{
    const cf_template_piece *t = n == 2 ? p->pair : p->single;
    size_t nt = n == 2 ? p->n_pair : p->n_single;
    for (size_t i = 0; i < nt; i++) {
        cf_enc *out = &parts[*n_parts];
        memset(out, 0, sizeof *out);
        if (t[i].is_sequence) {
            cf_enc *src = enc[t[i].seq < (int)n ? t[i].seq : 0];
            set_types(src, t[i].type_id, false);
            cf_enc_set_sequence(src, t[i].seq < (int)n ? t[i].seq : 0);
            CF_TRY(cf_enc_copy(out, src, err));
            (*n_parts)++;
            continue;
        }
        if (!add_special)
            continue;
        const cf_special_def *def = NULL;
        for (size_t k = 0; k < p->n_specials; k++)
            if (!strcmp(p->specials[k].name, t[i].special))
                def = &p->specials[k];
        if (!def)
            return cf_fail(err, CF_ERR_FORMAT, "TemplateProcessing: special token \"%s\" is not defined", t[i].special);
        for (size_t k = 0; k < def->n; k++)
            if (!cf_enc_push(out, def->ids[k], t[i].type_id, def->tokens[k], 0, 0, 1, -1))
                return oom(err);
        (*n_parts)++;
    }
    return CF_OK;
}

static cf_status process_encodings(const cf_post *p, cf_enc **enc, size_t n, bool add_special, cf_enc *parts,
                                   size_t *n_parts, cf_error *err)
{
    switch (p->kind) {
    case CF_POST_TEMPLATE:
        return template_apply(p, enc, n, add_special, parts, n_parts, err);
    case CF_POST_BYTE_LEVEL:
        for (size_t i = 0; i < n; i++) {
            if (p->trim_offsets)
                trim_all(enc[i], p->add_prefix_space);
            cf_enc_set_sequence(enc[i], (int)i);
        }
        return CF_OK;
    case CF_POST_BERT:
        if (add_special) {
            special_tok cls = {p->cls_id, p->cls, 0}, sep0 = {p->sep_id, p->sep, 0}, sep1 = {p->sep_id, p->sep, 1};
            CF_TRY(wrap_all(enc[0], &cls, 1, &sep0, 1, 0, true, 0, err));
            if (n == 2)
                CF_TRY(wrap_all(enc[1], NULL, 0, &sep1, 1, 1, true, 1, err));
        }
        return CF_OK;
    case CF_POST_ROBERTA:
        for (size_t i = 0; i < n; i++) {
            if (p->trim_offsets)
                trim_all(enc[i], p->add_prefix_space);
            set_types(enc[i], 0, false);
        }
        if (add_special) {
            special_tok cls = {p->cls_id, p->cls, 0}, sep = {p->sep_id, p->sep, 0};
            CF_TRY(wrap_all(enc[0], &cls, 1, &sep, 1, 0, false, 0, err));
            if (n == 2)
                CF_TRY(wrap_all(enc[1], &sep, 1, &sep, 1, 0, false, 1, err));
        }
        return CF_OK;
    case CF_POST_SEQUENCE:
        /* Each processor rewrites the encodings in turn; a template splits them into parts,
         * after which nothing else can apply. */
        for (size_t k = 0; k < p->n_items && *n_parts == 0; k++)
            CF_TRY(process_encodings(&p->items[k], enc, n, add_special, parts, n_parts, err));
        return CF_OK;
    }
    return CF_OK;
}

cf_status cf_post_process(const cf_post *p, cf_enc *a, cf_enc *b, bool add_special_tokens, cf_enc *out,
                          cf_error *err)
{
    cf_enc *enc[2] = {a, b};
    size_t n = b ? 2 : 1;
    for (size_t i = 0; i < n; i++)
        cf_enc_set_sequence(enc[i], (int)i);
    size_t max_parts = 2 + (p->n_single > p->n_pair ? p->n_single : p->n_pair);
    for (size_t i = 0; i < p->n_items; i++)
        if (p->items[i].kind == CF_POST_TEMPLATE)
            max_parts += p->items[i].n_single + p->items[i].n_pair;
    cf_enc *parts = calloc(max_parts, sizeof *parts);
    if (!parts)
        return oom(err);
    size_t n_parts = 0;
    cf_status st = process_encodings(p, enc, n, add_special_tokens, parts, &n_parts, err);
    for (size_t i = 0; st == CF_OK && n_parts == 0 && i < n; i++) { /* the encodings are the parts */
        parts[i] = *enc[i];
        memset(enc[i], 0, sizeof *enc[i]);
    }
    if (st == CF_OK && n_parts == 0)
        n_parts = n;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n_parts && st == CF_OK; i++)
        st = cf_enc_merge_owned(out, &parts[i], err);
    for (size_t i = 0; i < max_parts; i++)
        cf_enc_free(&parts[i]);
    free(parts);
    return st;
}

cf_status cf_post_default(cf_enc *a, cf_enc *b, cf_enc *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (!b) {
        *out = *a;
        memset(a, 0, sizeof *a);
        return CF_OK;
    }
    cf_enc_set_sequence(a, 0);
    CF_TRY(cf_enc_merge(out, a, err));
    cf_enc_set_sequence(b, 1);
    return cf_enc_merge(out, b, err);
}

size_t cf_post_added_tokens(const cf_post *p, bool is_pair)
{
    switch (p->kind) {
    case CF_POST_BERT:
        return is_pair ? 3 : 2;
    case CF_POST_ROBERTA:
        return is_pair ? 4 : 2;
    case CF_POST_BYTE_LEVEL:
        return 0;
    case CF_POST_TEMPLATE: {
        size_t total = 0, nt = is_pair ? p->n_pair : p->n_single;
        const cf_template_piece *t = is_pair ? p->pair : p->single;
        for (size_t i = 0; i < nt; i++) {
            if (t[i].is_sequence)
                continue;
            for (size_t k = 0; k < p->n_specials; k++)
                if (!strcmp(p->specials[k].name, t[i].special))
                    total += p->specials[k].n;
        }
        return total;
    }
    case CF_POST_SEQUENCE: {
        size_t total = 0;
        for (size_t i = 0; i < p->n_items; i++)
            total += cf_post_added_tokens(&p->items[i], is_pair);
        return total;
    }
    }
    return 0;
}

/* ------------------------------------------------------------ parsing */

static cf_status parse_pair_token(const cJSON *j, const char *key, const char *where, char **tok, int64_t *id,
                                  cf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    const cJSON *t = cJSON_GetArrayItem(v, 0), *i = cJSON_GetArrayItem(v, 1);
    if (!cJSON_IsArray(v) || !cJSON_IsString(t) || !cJSON_IsNumber(i) || i->valuedouble < 0)
        return cf_fail(err, CF_ERR_FORMAT, "%s: \"%s\" must be [token, id]", where, key);
    *tok = strdup(t->valuestring);
    *id = (int64_t)i->valuedouble;
    return *tok ? CF_OK : oom(err);
}

/* One template piece: {"Sequence": {"id": "A", "type_id": 0}} / {"SpecialToken": {...}} or "$A:0" / "[CLS]:0". */
static cf_status parse_piece(const cJSON *j, cf_template_piece *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (cJSON_IsString(j)) {
        const char *s = j->valuestring;
        const char *colon = strrchr(s, ':');
        size_t len = colon ? (size_t)(colon - s) : strlen(s);
        if (colon)
            out->type_id = strtoll(colon + 1, NULL, 10);
        if (len >= 1 && s[0] == '$') {
            out->is_sequence = true;
            out->seq = (len == 2 && (s[1] == 'B' || s[1] == '1')) ? 1 : 0;
            return CF_OK;
        }
        out->special = strndup(s, len);
        return out->special ? CF_OK : oom(err);
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(j, "Sequence");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "SpecialToken");
    const cJSON *body = seq ? seq : sp;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "id");
    const cJSON *type_id = cJSON_GetObjectItemCaseSensitive(body, "type_id");
    if (!body || !cJSON_IsString(id))
        return cf_fail(err, CF_ERR_FORMAT, "TemplateProcessing: a template piece must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    out->type_id = cJSON_IsNumber(type_id) ? (int64_t)type_id->valuedouble : 0;
    if (seq) {
        out->is_sequence = true;
        out->seq = !strcmp(id->valuestring, "B") ? 1 : 0;
        return CF_OK;
    }
    out->special = strdup(id->valuestring);
    return out->special ? CF_OK : oom(err);
}

static cf_status parse_template(const cJSON *j, const char *key, cf_template_piece **out, size_t *n, cf_error *err)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key);
    if (cJSON_IsString(arr)) {
        /* "[CLS]:0 $A:0 [SEP]:0" */
        cJSON *list = cJSON_CreateArray();
        char *copy = strdup(arr->valuestring);
        if (!list || !copy) {
            cJSON_Delete(list);
            free(copy);
            return oom(err);
        }
        for (char *save, *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
            cJSON_AddItemToArray(list, cJSON_CreateString(tok));
        free(copy);
        cf_status st;
        size_t k = (size_t)cJSON_GetArraySize(list);
        *out = calloc(k ? k : 1, sizeof **out);
        *n = 0;
        st = *out ? CF_OK : oom(err);
        const cJSON *it;
        cJSON_ArrayForEach(it, list)
        {
            if (st == CF_OK)
                st = parse_piece(it, &(*out)[(*n)++], err);
        }
        cJSON_Delete(list);
        return st;
    }
    if (!cJSON_IsArray(arr))
        return cf_fail(err, CF_ERR_FORMAT, "TemplateProcessing: \"%s\" must be a list of pieces", key);
    size_t k = (size_t)cJSON_GetArraySize(arr);
    *out = calloc(k ? k : 1, sizeof **out);
    if (!*out)
        return oom(err);
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        CF_TRY(parse_piece(it, &(*out)[*n], err));
        (*n)++;
    }
    return CF_OK;
}

cf_status cf_post_parse(const cJSON *j, cf_post *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    const char *type;
    CF_TRY(cf_json_type(j, "tokenizer.json post_processor", &type, err));
    const char *w = type;
    if (!strcmp(type, "Sequence")) {
        out->kind = CF_POST_SEQUENCE;
        return cf_json_sequence_parse(j, "processors", w, sizeof *out->items, parse_item, (void **)&out->items,
                                      &out->n_items, err);
    }
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        bool roberta = type[0] == 'R';
        out->kind = roberta ? CF_POST_ROBERTA : CF_POST_BERT;
        CF_TRY(parse_pair_token(j, "sep", w, &out->sep, &out->sep_id, err));
        CF_TRY(parse_pair_token(j, "cls", w, &out->cls, &out->cls_id, err));
        out->trim_offsets = out->add_prefix_space = roberta;
        CF_TRY(cf_json_bool(j, "trim_offsets", w, &out->trim_offsets, err));
        return cf_json_bool(j, "add_prefix_space", w, &out->add_prefix_space, err);
    }
    if (!strcmp(type, "ByteLevel")) {
        out->kind = CF_POST_BYTE_LEVEL;
        out->trim_offsets = out->add_prefix_space = true;
        CF_TRY(cf_json_bool(j, "trim_offsets", w, &out->trim_offsets, err));
        return cf_json_bool(j, "add_prefix_space", w, &out->add_prefix_space, err);
    }
    if (!strcmp(type, "TemplateProcessing")) {
        out->kind = CF_POST_TEMPLATE;
        CF_TRY(parse_template(j, "single", &out->single, &out->n_single, err));
        CF_TRY(parse_template(j, "pair", &out->pair, &out->n_pair, err));
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(j, "special_tokens");
        if (sp && !cJSON_IsObject(sp))
            return cf_fail(err, CF_ERR_FORMAT, "TemplateProcessing: \"special_tokens\" must be an object");
        size_t n = sp ? (size_t)cJSON_GetArraySize(sp) : 0;
        out->specials = calloc(n ? n : 1, sizeof *out->specials);
        if (!out->specials)
            return oom(err);
        const cJSON *it;
        cJSON_ArrayForEach(it, sp)
        {
            cf_special_def *d = &out->specials[out->n_specials++];
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(it, "ids");
            const cJSON *toks = cJSON_GetObjectItemCaseSensitive(it, "tokens");
            if (!(d->name = strdup(it->string)))
                return oom(err);
            if (!cJSON_IsArray(ids) || !cJSON_IsArray(toks) || cJSON_GetArraySize(ids) != cJSON_GetArraySize(toks))
                return cf_fail(err, CF_ERR_FORMAT,
                               "TemplateProcessing: special token \"%s\" needs \"ids\" and \"tokens\" of equal length",
                               it->string);
            size_t k = (size_t)cJSON_GetArraySize(ids);
            d->ids = calloc(k ? k : 1, sizeof *d->ids);
            d->tokens = calloc(k ? k : 1, sizeof *d->tokens);
            if (!d->ids || !d->tokens)
                return oom(err);
            for (size_t i = 0; i < k; i++) {
                const cJSON *id = cJSON_GetArrayItem(ids, (int)i), *t = cJSON_GetArrayItem(toks, (int)i);
                if (!cJSON_IsNumber(id) || id->valuedouble < 0 || !cJSON_IsString(t))
                    return cf_fail(err, CF_ERR_FORMAT, "TemplateProcessing: special token \"%s\" has a bad id or token",
                                   it->string);
                d->ids[i] = (int64_t)id->valuedouble;
                if (!(d->tokens[i] = strdup(t->valuestring)))
                    return oom(err);
                d->n = i + 1;
            }
        }
        for (size_t i = 0; i < out->n_single + out->n_pair; i++) {
            const cf_template_piece *t = i < out->n_single ? &out->single[i] : &out->pair[i - out->n_single];
            if (t->is_sequence)
                continue;
            bool found = false;
            for (size_t k = 0; k < out->n_specials; k++)
                found |= !strcmp(out->specials[k].name, t->special);
            if (!found)
                return cf_fail(err, CF_ERR_FORMAT, "TemplateProcessing: the template uses \"%s\", which is not in special_tokens",
                               t->special);
        }
        return CF_OK;
    }
    return cf_fail(err, CF_ERR_UNSUPPORTED, "tokenizer.json: post_processor type \"%s\" is not supported", type);
}

void cf_post_free(cf_post *p)
{
    cf_json_sequence_free(p->items, p->n_items, sizeof *p->items, free_item);
    free(p->sep);
    free(p->cls);
    for (size_t i = 0; i < p->n_single; i++)
        free(p->single[i].special);
    for (size_t i = 0; i < p->n_pair; i++)
        free(p->pair[i].special);
    free(p->single);
    free(p->pair);
    for (size_t i = 0; i < p->n_specials; i++) {
        free(p->specials[i].name);
        free(p->specials[i].ids);
        for (size_t k = 0; k < p->specials[i].n; k++)
            free(p->specials[i].tokens[k]);
        free(p->specials[i].tokens);
    }
    free(p->specials);
    memset(p, 0, sizeof *p);
}
