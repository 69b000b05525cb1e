/* translation (and translation_xx_to_yy, the task name Python also accepts): transformers
 * 4.35.2 TranslationPipeline, a text2text pipeline whose records are {"translation_text": ...}.
 * src_lang / tgt_lang only matter to tokenizers with language codes; Marian puts a target
 * language token (">>fra<<") in the text itself. */
#include "pipelines/text2text.h"

static const char *const k_lang_params[] = {"src_lang", "tgt_lang", NULL};

static cf_status run(cf_pipeline *p, const cJSON *inputs, const cJSON *params, cJSON **out, cf_error *err)
{
    for (const char *const *k = k_lang_params; *k; k++) {
        const cJSON *v = cf_param(params, *k);
        if (v && !cJSON_IsNull(v) && !cJSON_IsString(v))
            return cf_fail(err, CF_ERR_INVALID_ARG, "parameter \"%s\" must be a string", *k);
    }
    return cf_text2text_run(p, "translation", k_lang_params, inputs, params, out, err);
}

const cf_task cf_task_translation = {
    .name = "translation",
    .default_model = "t5-base",
    .open = cf_text2text_open,
    .run = run,
    .close = cf_text2text_close,
};
