/* KServe v2 / Open Inference Protocol bodies <-> Inference API payloads.
 * A request's first input tensor (datatype BYTES) holds the texts; request "parameters" become
 * the pipeline parameters. The output is one tensor "output": FP32 with the nested shape for
 * feature extraction, else BYTES holding each input's result as JSON text. */
#ifndef CF_SERVER_KSERVE_H
#define CF_SERVER_KSERVE_H

#include <stddef.h>

#include "core/error.h"

/* body -> {"inputs": [...], "parameters": {...}}; *n_inputs gets the number of texts and *id the
 * request id (or NULL). Caller frees both strings. */
cf_status cf_kserve_request_to_payload(const char *body, size_t len, char **payload, size_t *n_inputs, char **id,
                                       cf_error *err);

/* The v2 response for a pipeline's output JSON. */
cf_status cf_kserve_response(const char *model_name, const char *id, const char *output_json, size_t n_inputs,
                             char **body, cf_error *err);

/* GET /v2/models/{name} */
char *cf_kserve_model_metadata(const char *model_name, const char *task);

#endif
