#include "server/batch.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static bool strings_only(const cJSON *list)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        if (!cJSON_IsString(item))
            return false;
    }
    return true;
}

bool cf_batch_key(const cJSON *root, char **group, size_t *n_inputs)
{
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    /* A one-item list is left alone: some pipelines answer it unwrapped. */
    bool ok = cJSON_IsString(inputs) ||
              (cJSON_IsArray(inputs) && cJSON_GetArraySize(inputs) >= 2 && strings_only(inputs));
    if (!ok)
        return false;
    cJSON *rest = cJSON_Duplicate(root, true);
    cJSON_DeleteItemFromObjectCaseSensitive(rest, "inputs");
    *group = rest ? cJSON_PrintUnformatted(rest) : NULL;
    cJSON_Delete(rest);
    *n_inputs = cJSON_IsString(inputs) ? 1 : (size_t)cJSON_GetArraySize(inputs);
    return *group != NULL;
}

char *cf_batch_payload(const char *group, const cJSON *const *inputs, size_t n)
{
    cJSON *root = cJSON_Parse(group), *all = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        if (cJSON_IsString(inputs[i])) {
            cJSON_AddItemToArray(all, cJSON_Duplicate(inputs[i], true));
            continue;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, inputs[i]) cJSON_AddItemToArray(all, cJSON_Duplicate(item, true));
    }
    char *text = NULL;
    if (root && cJSON_AddItemToObject(root, "inputs", all))
        text = cJSON_PrintUnformatted(root);
    else
        cJSON_Delete(all);
    cJSON_Delete(root);
    return text;
}

/* transformers' TextClassificationPipeline.__call__ returns [result] for a single string when
 * top_k is not given (its legacy shape); every other batchable task returns the result itself. */
static bool single_answer_wrapped(const char *task, const char *group)
{
    if (strcmp(task, "text-classification") != 0)
        return false;
    cJSON *root = cJSON_Parse(group);
    bool has_top_k = cJSON_HasObjectItem(cJSON_GetObjectItemCaseSensitive(root, "parameters"), "top_k");
    cJSON_Delete(root);
    return !has_top_k;
}

bool cf_batch_split(const char *task, const char *group, const char *output, const cJSON *const *inputs, size_t n,
                    char **out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += cJSON_IsString(inputs[i]) ? 1 : (size_t)cJSON_GetArraySize(inputs[i]);
    cJSON *all = cJSON_Parse(output);
    if (!cJSON_IsArray(all) || (size_t)cJSON_GetArraySize(all) != total) {
        cJSON_Delete(all);
        return false;
    }
    bool wrap = single_answer_wrapped(task, group), ok = true;
    const cJSON *item = all->child;
    for (size_t i = 0; i < n; i++) {
        size_t k = cJSON_IsString(inputs[i]) ? 1 : (size_t)cJSON_GetArraySize(inputs[i]);
        cJSON *mine = k > 1 || wrap ? cJSON_CreateArray() : NULL;
        for (size_t j = 0; j < k; j++, item = item->next) {
            cJSON *copy = cJSON_Duplicate(item, true);
            if (mine)
                cJSON_AddItemToArray(mine, copy);
            else
                mine = copy;
        }
        out[i] = mine ? cJSON_PrintUnformatted(mine) : NULL;
        ok &= out[i] != NULL;
        cJSON_Delete(mine);
    }
    cJSON_Delete(all);
    if (!ok)
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    return ok;
}
