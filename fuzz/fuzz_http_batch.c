/* libFuzzer: the batching of Inference API bodies. The bytes are split at the first NUL into a
 * request body and a pipeline output; a batchable body is batched with itself twice, and the
 * output is split back: any JSON must give parts or a refusal, never a crash. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/batch.h"
#include "server/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 2);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = text[size + 1] = '\0';
    const char *output = text + strlen(text) + 1; /* after the first NUL, or "" */
    cJSON *root = cJSON_Parse(text);
    char *group = NULL;
    size_t n = 0;
    if (root && cf_batch_key(root, &group, &n)) {
        const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
        const cJSON *both[2] = {inputs, inputs};
        free(cf_batch_payload(group, both, 2));
        char *parts[2] = {0};
        static const char *const tasks[] = {"text-classification", "fill-mask"};
        for (int t = 0; t < 2; t++)
            if (cf_batch_split(tasks[t], group, output, both, 2, parts))
                for (int i = 0; i < 2; i++) {
                    if (!parts[i])
                        abort();
                    free(parts[i]);
                    parts[i] = NULL;
                }
    }
    free(group);
    cJSON_Delete(root);
    free(cf_sse_generated_text(output));
    free(text);
    return 0;
}
