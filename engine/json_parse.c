/* json_parse.c - strict JSON parsing (see json_parse.h). */
#include "json_parse.h"

#include <string.h>

#include "err.h"

int cmanp_json_parse(const char *json, size_t max_len, struct json_object **out,
                     enum json_tokener_error *why) {
    *out = NULL;
    *why = json_tokener_success;
    struct json_tokener *tok = json_tokener_new();
    if (!tok) return CMANP_ENOMEM;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    size_t len = strlen(json);
    *out = json_tokener_parse_ex(tok, json, (int)(len > max_len ? max_len : len));
    *why = json_tokener_get_error(tok);
    json_tokener_free(tok);
    return CMANP_OK;
}
