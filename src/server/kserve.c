#include "server/kserve.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Append every string of a (possibly nested) JSON array to `out`. */
static cf_status collect_strings(const cJSON *data, cJSON *out, cf_error *err)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, data)
    {
        if (cJSON_IsArray(item)) {
            CF_TRY(collect_strings(item, out, err));
        } else if (cJSON_IsString(item)) {
            cJSON_AddItemToArray(out, cJSON_CreateString(item->valuestring));
        } else {
            return cf_fail(err, CF_ERR_INVALID_ARG, "inputs[0].data: expected strings (datatype BYTES), got %s",
                           cJSON_IsNumber(item) ? "a number" : "another JSON type");
        }
    }
    return CF_OK;
}

static cf_status build_payload(const cJSON *root, char **payload, size_t *n_inputs, char **id, cf_error *err)
{
    if (!cJSON_IsObject(root))
        return cf_fail(err, CF_ERR_INVALID_ARG, "a v2 inference request is a JSON object with \"inputs\"");
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) < 1)
        return cf_fail(err, CF_ERR_INVALID_ARG, "\"inputs\" must be a non-empty list of tensors");
    const cJSON *tensor = cJSON_GetArrayItem(inputs, 0);
    const cJSON *datatype = cJSON_GetObjectItemCaseSensitive(tensor, "datatype");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(tensor, "data");
    if (!cJSON_IsObject(tensor) || !cJSON_IsArray(data))
        return cf_fail(err, CF_ERR_INVALID_ARG, "inputs[0] needs \"name\", \"shape\", \"datatype\" and a \"data\" list");
    if (datatype && (!cJSON_IsString(datatype) || strcmp(datatype->valuestring, "BYTES")))
        return cf_fail(err, CF_ERR_INVALID_ARG, "inputs[0].datatype must be \"BYTES\" (text), got %s",
                       cJSON_IsString(datatype) ? datatype->valuestring : "a non-string");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    if (params && !cJSON_IsObject(params))
        return cf_fail(err, CF_ERR_INVALID_ARG, "\"parameters\" must be an object");
    cJSON *out = cJSON_CreateObject();
    cJSON *texts = cJSON_AddArrayToObject(out, "inputs");
    cf_status s = collect_strings(data, texts, err);
    if (s == CF_OK && cJSON_GetArraySize(texts) == 0)
        s = cf_fail(err, CF_ERR_INVALID_ARG, "inputs[0].data is empty");
    if (s == CF_OK) {
        cJSON_AddItemToObject(out, "parameters", params ? cJSON_Duplicate(params, true) : cJSON_CreateObject());
        *n_inputs = (size_t)cJSON_GetArraySize(texts);
        *payload = cJSON_PrintUnformatted(out);
        const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "id");
        *id = cJSON_IsString(rid) ? strdup(rid->valuestring) : NULL;
        if (!*payload)
            s = cf_fail(err, CF_ERR_NOMEM, "out of memory");
    }
    cJSON_Delete(out);
    return s;
}

cf_status cf_kserve_request_to_payload(const char *body, size_t len, char **payload, size_t *n_inputs, char **id,
                                       cf_error *err)
{
    *payload = NULL;
    *id = NULL;
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return cf_fail(err, CF_ERR_FORMAT, "the request body is not valid JSON");
    cf_status s = build_payload(root, payload, n_inputs, id, err);
    cJSON_Delete(root);
    return s;
}

/* Shape of a nested numeric array (all siblings the same shape), or false. */
static bool numeric_shape(const cJSON *v, int *shape, int *rank, int max_rank)
{
    if (cJSON_IsNumber(v)) {
        *rank = 0;
        return true;
    }
    if (!cJSON_IsArray(v) || max_rank == 0 || cJSON_GetArraySize(v) == 0)
        return false;
    int sub[8], sub_rank = -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        int s[8], r;
        if (!numeric_shape(item, s, &r, max_rank - 1))
            return false;
        if (sub_rank >= 0 && (r != sub_rank || memcmp(s, sub, (size_t)r * sizeof *s)))
            return false;
        sub_rank = r;
        memcpy(sub, s, (size_t)r * sizeof *s);
    }
    shape[0] = cJSON_GetArraySize(v);
    memcpy(shape + 1, sub, (size_t)sub_rank * sizeof *sub);
    *rank = sub_rank + 1;
    return true;
}

static void flatten_numbers(const cJSON *v, cJSON *out)
{
    if (cJSON_IsNumber(v)) {
        cJSON_AddItemToArray(out, cJSON_CreateNumber(v->valuedouble));
        return;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, v) flatten_numbers(item, out);
}

static void add_shape(cJSON *tensor, const int *shape, int rank)
{
    cJSON *s = cJSON_AddArrayToObject(tensor, "shape");
    for (int i = 0; i < rank; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber(shape[i]));
}

/* One BYTES element per input when the output is a list with one entry per input, else one. */
static void bytes_tensor(const cJSON *output, size_t n_inputs, cJSON *tensor)
{
    cJSON_AddStringToObject(tensor, "datatype", "BYTES");
    cJSON *data = cJSON_CreateArray();
    bool per_input = cJSON_IsArray(output) && (size_t)cJSON_GetArraySize(output) == n_inputs;
    const cJSON *item;
    if (per_input) {
        cJSON_ArrayForEach(item, output)
        {
            char *text = cJSON_PrintUnformatted(item);
            cJSON_AddItemToArray(data, cJSON_CreateString(text ? text : "null"));
            free(text);
        }
    } else {
        char *text = cJSON_PrintUnformatted(output);
        cJSON_AddItemToArray(data, cJSON_CreateString(text ? text : "null"));
        free(text);
    }
    int shape[1] = {cJSON_GetArraySize(data)};
    add_shape(tensor, shape, 1);
    cJSON_AddItemToObject(tensor, "data", data);
}

cf_status cf_kserve_response(const char *model_name, const char *id, const char *output_json, size_t n_inputs,
                             char **body, cf_error *err)
{
    cJSON *output = cJSON_Parse(output_json);
    if (!output)
        return cf_fail(err, CF_ERR_INTERNAL, "the pipeline's output is not JSON");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_name", model_name);
    if (id)
        cJSON_AddStringToObject(root, "id", id);
    cJSON *tensor = cJSON_CreateObject();
    cJSON_AddStringToObject(tensor, "name", "output");
    int shape[8], rank = 0;
    if (numeric_shape(output, shape, &rank, 8) && rank > 0) {
        cJSON_AddStringToObject(tensor, "datatype", "FP32");
        add_shape(tensor, shape, rank);
        cJSON *data = cJSON_AddArrayToObject(tensor, "data");
        flatten_numbers(output, data);
    } else {
        bytes_tensor(output, n_inputs, tensor);
    }
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "outputs"), tensor);
    *body = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    cJSON_Delete(output);
    return *body ? CF_OK : cf_fail(err, CF_ERR_NOMEM, "out of memory");
}

char *cf_kserve_model_metadata(const char *model_name, const char *task)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", model_name);
    cJSON_AddItemToObject(root, "versions", cJSON_CreateArray());
    cJSON_AddStringToObject(root, "platform", "cformer");
    cJSON *in = cJSON_CreateObject();
    cJSON_AddStringToObject(in, "name", "text");
    cJSON_AddStringToObject(in, "datatype", "BYTES");
    int dyn[1] = {-1};
    add_shape(in, dyn, 1);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "inputs"), in);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "name", "output");
    cJSON_AddStringToObject(out, "datatype", !strcmp(task, "feature-extraction") ? "FP32" : "BYTES");
    add_shape(out, dyn, 1);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "outputs"), out);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "parameters"), "task", task);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}
