/* core/base64: round trips, both alphabets, padding, and bad characters named. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"

static void round_trip(const char *plain, const char *encoded)
{
    char *e = cf_base64_encode((const uint8_t *)plain, strlen(plain));
    cr_assert_str_eq(e, encoded);
    cr_assert_eq(cf_base64_encoded_size(strlen(plain)), strlen(encoded));
    uint8_t *d = NULL;
    size_t n = 0;
    cf_error err = {0};
    cr_assert_eq(cf_base64_decode(e, &d, &n, &err), CF_OK, "%s", err.message);
    cr_assert_eq(n, strlen(plain));
    cr_assert(n == 0 || !memcmp(d, plain, n));
    free(d);
    free(e);
}

Test(base64, rfc4648_vectors)
{
    round_trip("", "");
    round_trip("f", "Zg==");
    round_trip("fo", "Zm8=");
    round_trip("foo", "Zm9v");
    round_trip("foob", "Zm9vYg==");
    round_trip("fooba", "Zm9vYmE=");
    round_trip("foobar", "Zm9vYmFy");
}

Test(base64, url_safe_alphabet_and_white_space)
{
    uint8_t *d = NULL;
    size_t n = 0;
    cf_error err = {0};
    cr_assert_eq(cf_base64_decode("+/8=", &d, &n, &err), CF_OK);
    uint8_t std[3];
    memcpy(std, d, n);
    free(d);
    cr_assert_eq(cf_base64_decode("-_8\n", &d, &n, &err), CF_OK);
    cr_assert_eq(n, 2);
    cr_assert(!memcmp(d, std, 2));
    free(d);
}

Test(base64, bad_character_is_named)
{
    uint8_t *d = (uint8_t *)"x";
    size_t n = 7;
    cf_error err = {0};
    cr_assert_eq(cf_base64_decode("Zm9v*A", &d, &n, &err), CF_ERR_INVALID_ARG);
    cr_assert_null(d);
    cr_assert_eq(n, 0);
    cr_assert(strstr(err.message, "0x2a") && strstr(err.message, "byte 4"), "%s", err.message);
}
