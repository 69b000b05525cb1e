/* libFuzzer: arbitrary bytes as a config.json; the accessors run on whatever parses. The first
 * line of the input (up to a newline) is also used as a key path. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char key[64] = "";
    const uint8_t *nl = memchr(data, '\n', size < sizeof key ? size : sizeof key - 1);
    if (nl)
        memcpy(key, data, (size_t)(nl - data));

    cf_config cfg;
    cf_error err = {0};
    if (cf_config_parse(&cfg, (const char *)data, size, "config.json", &err) != CF_OK) {
        if (!err.message[0])
            abort();
        return 0;
    }
    static const char *const keys[] = {"hidden_size", "id2label", "eos_token_id", "task_specific_params.a.b",
                                       "architectures.0", "a.b.c", ""};
    char buf[32];
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *k = i + 1 == sizeof keys / sizeof *keys ? key : keys[i];
        (void)cf_config_int(&cfg, k, 0);
        (void)cf_config_float(&cfg, k, 0);
        (void)cf_config_bool(&cfg, k, false);
        (void)cf_config_str(&cfg, k, NULL);
        (void)cf_config_has(&cfg, k);
        int64_t iv;
        double dv;
        const char *sv;
        (void)cf_config_require_int(&cfg, k, &iv, &err);
        (void)cf_config_require_float(&cfg, k, &dv, &err);
        (void)cf_config_require_str(&cfg, k, &sv, &err);
        int64_t *arr = NULL;
        size_t n = 0;
        if (cf_config_int_array(&cfg, k, &arr, &n, &err) == CF_OK)
            free(arr);
    }
    int64_t labels = cf_config_num_labels(&cfg);
    for (int64_t i = 0; i < labels && i < 64; i++)
        (void)cf_config_label(&cfg, i, buf, sizeof buf);
    cf_config_free(&cfg);
    return 0;
}
