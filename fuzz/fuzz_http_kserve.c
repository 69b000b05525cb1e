/* libFuzzer: arbitrary bytes as a KServe v2 request body; when it converts, the payload is fed
 * back as a pipeline output to the response builder (nested arrays, numbers, strings). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/kserve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *payload = NULL, *id = NULL, *body = NULL;
    size_t n = 0;
    cf_error err = {0};
    if (cf_kserve_request_to_payload((const char *)data, size, &payload, &n, &id, &err) != CF_OK) {
        if (!err.message[0])
            abort();
        return 0;
    }
    if (cf_kserve_response("m", id, payload, n, &body, &err) != CF_OK && !err.message[0])
        abort();
    free(body);
    /* The raw input as an output: any JSON shape must give a response or an error. */
    char *text = malloc(size + 1);
    if (text) {
        for (size_t i = 0; i < size; i++)
            text[i] = (char)data[i];
        text[size] = '\0';
        body = NULL;
        if (cf_kserve_response("m", NULL, text, 1, &body, &err) == CF_OK)
            free(body);
        free(text);
    }
    free(payload);
    free(id);
    return 0;
}
