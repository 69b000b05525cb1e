#include "json_compare.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct cmp {
    const cf_json_tolerance *tol;
    char *why;
    size_t size;
} cmp;

static bool fail(cmp *c, const char *path, const char *what, const cJSON *got, const cJSON *want)
{
    char *g = got ? cJSON_PrintUnformatted(got) : NULL, *w = want ? cJSON_PrintUnformatted(want) : NULL;
    snprintf(c->why, c->size, "%s: %s (got %.200s, want %.200s)", path, what, g ? g : "nothing", w ? w : "nothing");
    cJSON_free(g);
    cJSON_free(w);
    return false;
}

static bool is_score_key(const char *key) { return key && (!strcmp(key, "score") || !strcmp(key, "scores")); }

static bool match(cmp *c, const cJSON *got, const cJSON *want, const char *path, bool score);

static bool match_number(cmp *c, const cJSON *got, const cJSON *want, const char *path, bool score)
{
    if (!cJSON_IsNumber(got))
        return fail(c, path, "type differs", got, want);
    double g = got->valuedouble, w = want->valuedouble;
    bool integral = w == floor(w) && fabs(w) < 1e15 && !score;
    double tol = integral ? 0 : score ? c->tol->score_atol : c->tol->value_atol + c->tol->value_rtol * fabs(w);
    if (fabs(g - w) > tol) {
        char what[96];
        snprintf(what, sizeof what, "differs by %.3g (tolerance %.3g)", fabs(g - w), tol);
        return fail(c, path, what, got, want);
    }
    return true;
}

/* Pass 1: only score-bearing children; pass 2: everything. */
static bool match_object(cmp *c, const cJSON *got, const cJSON *want, const char *path)
{
    if (cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
        return fail(c, path, "different number of keys", got, want);
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *g = got->child, *w = want->child;
        for (; w; w = w->next, g = g->next) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s.%s", path, w->string);
            if (strcmp(g->string, w->string))
                return fail(c, sub, "key or key order differs", g, w);
            if ((pass == 0) != is_score_key(w->string))
                continue;
            if (!match(c, g, w, sub, is_score_key(w->string)))
                return false;
        }
    }
    return true;
}

static bool match_array(cmp *c, const cJSON *got, const cJSON *want, const char *path, bool score)
{
    if (cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
        return fail(c, path, "different length", got, want);
    /* scores of every element first */
    const cJSON *g = got->child, *w = want->child;
    for (int i = 0; w; w = w->next, g = g->next, i++) {
        const cJSON *ws = cJSON_IsObject(w) ? cJSON_GetObjectItemCaseSensitive(w, "score") : NULL;
        const cJSON *gs = cJSON_IsObject(g) ? cJSON_GetObjectItemCaseSensitive(g, "score") : NULL;
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%d].score", path, i);
        if (ws && !match(c, gs, ws, sub, true))
            return false;
    }
    g = got->child;
    w = want->child;
    for (int i = 0; w; w = w->next, g = g->next, i++) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        if (!match(c, g, w, sub, score))
            return false;
    }
    return true;
}

static bool match(cmp *c, const cJSON *got, const cJSON *want, const char *path, bool score)
{
    if (!got)
        return fail(c, path, "missing", got, want);
    if (cJSON_IsNumber(want))
        return match_number(c, got, want, path, score);
    if (cJSON_IsString(want)) {
        if (!cJSON_IsString(got) || strcmp(got->valuestring, want->valuestring))
            return fail(c, path, "string differs", got, want);
        return true;
    }
    if (cJSON_IsBool(want) || cJSON_IsNull(want)) {
        if ((got->type & 0xFF) != (want->type & 0xFF))
            return fail(c, path, "value differs", got, want);
        return true;
    }
    if (cJSON_IsArray(want))
        return cJSON_IsArray(got) ? match_array(c, got, want, path, score) : fail(c, path, "not a list", got, want);
    if (cJSON_IsObject(want))
        return cJSON_IsObject(got) ? match_object(c, got, want, path) : fail(c, path, "not an object", got, want);
    return fail(c, path, "unexpected JSON type", got, want);
}

bool cf_json_matches(const cJSON *got, const cJSON *want, const cf_json_tolerance *tol, char *why, size_t why_size)
{
    cmp c = {tol, why, why_size};
    if (why_size)
        why[0] = '\0';
    return match(&c, got, want, "$", false);
}
