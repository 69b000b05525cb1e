#include "server/sse.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void cf_sse_data(cf_buf *out, const char *json)
{
    cf_buf_puts(out, "data:");
    cf_buf_puts(out, json);
    cf_buf_puts(out, "\n\n");
}

void cf_sse_token(cf_buf *out, int index, int64_t id, const char *text, size_t len, const char *generated_text)
{
    char *piece = malloc(len + 1);
    if (!piece)
        return;
    memcpy(piece, text, len);
    piece[len] = '\0';
    cJSON *ev = cJSON_CreateObject(), *tok = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "index", index);
    if (id >= 0)
        cJSON_AddNumberToObject(tok, "id", (double)id);
    else
        cJSON_AddNullToObject(tok, "id");
    cJSON_AddStringToObject(tok, "text", piece);
    cJSON_AddNullToObject(tok, "logprob");
    cJSON_AddFalseToObject(tok, "special");
    cJSON_AddItemToObject(ev, "token", tok);
    if (generated_text)
        cJSON_AddStringToObject(ev, "generated_text", generated_text);
    else
        cJSON_AddNullToObject(ev, "generated_text");
    cJSON_AddNullToObject(ev, "details");
    char *json = cJSON_PrintUnformatted(ev);
    if (json)
        cf_sse_data(out, json);
    cJSON_free(json);
    cJSON_Delete(ev);
    free(piece);
}

char *cf_sse_generated_text(const char *output_json)
{
    cJSON *root = cJSON_Parse(output_json);
    const cJSON *v = root;
    while (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, 0);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(v, "generated_text");
    char *out = cJSON_IsString(text) ? strdup(text->valuestring) : NULL;
    cJSON_Delete(root);
    return out;
}
