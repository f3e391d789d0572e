/* HTML to readable plain text, for HTML-only mails: the text the classifier
 * and the agents read. The HTML itself is stored, never rendered.
 * Ownership: the caller owns the returned string and frees it with free(). */
#ifndef TRIAGED_HTML_H
#define TRIAGED_HTML_H

#include <stddef.h>

/* Converts len bytes of UTF-8 HTML to text: block elements and <br> become
 * line breaks, list items get "- ", blockquote lines get "> ", entities are
 * decoded, <script>, <style>, <title>, <head> contents and comments are
 * dropped, whitespace is collapsed, a link becomes "text (url)" when the url
 * says more than the text. The output is cut at max_out bytes (0: no limit)
 * on a character boundary. Linear in len, no recursion. Never NULL. */
char *html_to_text(const char *html, size_t len, size_t max_out);

/* Decodes one entity at s (which starts with '&'), n bytes available.
 * Writes its UTF-8 form to out (at least 8 bytes) and returns the number of
 * input bytes used, or 0 when s is not an entity (then '&' is literal). */
size_t html_decode_entity(const char *s, size_t n, char *out, size_t *out_len_r);

#endif
