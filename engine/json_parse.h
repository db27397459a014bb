/* json_parse.h - strict JSON text to a json-c object: the one way the
 * engine's parsers (model configurations, training options) read JSON, so
 * they all refuse the same sloppy input (JSON_TOKENER_STRICT). */
#ifndef CMANP_JSON_PARSE_H
#define CMANP_JSON_PARSE_H

#include <json.h>
#include <stddef.h>

/* Parses at most max_len bytes of json.  *out is the object (NULL when the
 * text is not JSON; free it with json_object_put) and *why the tokenizer's
 * verdict (json_tokener_success, or what went wrong: json_tokener_error_desc).
 * Returns CMANP_ENOMEM when no tokenizer could be allocated, else CMANP_OK. */
int cmanp_json_parse(const char *json, size_t max_len, struct json_object **out,
                     enum json_tokener_error *why);

#endif
