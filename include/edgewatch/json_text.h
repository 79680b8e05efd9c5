/* json_text.h -- what the JSON decoders share about JSON text:
 * whitespace, escapes and UTF-8.
 *
 * decode_json.c (CloudFront records) and decode_billing.c (billing line
 * items) scan JSON by hand so that no record allocates; the escape rules
 * must be the same in both, and the same when a string is validated,
 * unescaped or compared, so they live here once.
 */
#ifndef EDGEWATCH_JSON_TEXT_H
#define EDGEWATCH_JSON_TEXT_H

#include "edgewatch/common.h"

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Skips JSON whitespace from *p; returns the next byte, or -1 at end. */
int ew_json_peek(const char **p, const char *end);
/* Skips whitespace and the byte c; false (nothing consumed but the
 * whitespace) when the next byte is another. */
bool ew_json_expect(const char **p, const char *end, char c);
/* The escape at the backslash p: the bytes it spans and its code point in
 * *cp, or 0 when malformed. A \u high surrogate must be followed by its
 * low half and a lone low half is refused, so unescaped text is UTF-8. */
size_t ew_json_read_escape(const char *p, const char *end, uint32_t *cp);
/* The string at *p (on its opening quote): *raw gets its bytes between the
 * quotes, still escaped, and *escaped whether it holds a backslash; *p
 * moves past the closing quote. False on a control byte, a bad escape or
 * no closing quote. */
bool ew_json_scan_string(const char **p, const char *end, ew_str *raw, bool *escaped);
/* Writes cp as UTF-8 (1-4 bytes) at dst; returns how many. */
size_t ew_utf8_put(char *dst, uint32_t cp);

#endif
