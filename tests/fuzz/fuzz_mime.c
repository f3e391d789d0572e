/* libFuzzer target for the mail parser: any bytes must parse (or be refused)
 * without a crash, a leak or undefined behaviour, and give valid UTF-8. Also
 * runs the loop checks and the HTML converter on what comes out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "loop.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_limits lim;
	mime_limits_default(&lim);
	/* Small limits so that the fuzzer reaches them often. */
	lim.max_depth = 8;
	lim.max_parts = 64;
	lim.max_headers = 64;
	lim.max_header_bytes = 4096;
	lim.max_text_bytes = 8192;
	lim.max_attachment_bytes = 1024;
	lim.max_attachments = 16;
	struct mime_message *msg = NULL;
	const char *error = NULL;
	if (mime_parse((const char *)data, size, &lim, &msg, &error) == 0) {
		if (!mime_utf8_valid(msg->text, strlen(msg->text)) ||
		    !mime_utf8_valid(msg->new_text, strlen(msg->new_text)) ||
		    (msg->subject && !mime_utf8_valid(msg->subject, strlen(msg->subject))) ||
		    strlen(msg->text) > lim.max_text_bytes)
			abort();
		unsigned flags;
		char *reason = NULL;
		if (loop_check(msg, &flags, &reason, &error) < 0)
			abort();
		free(reason);
		mime_message_free(&msg);
	}
	char *text = html_to_text((const char *)data, size, 4096);
	if (strlen(text) > 4096)
		abort();
	free(text);
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
		char *w = mime_decode_words(s);
		if (!mime_utf8_valid(w, strlen(w)))
			abort();
		free(w);
		free(s);
	}
	return 0;
}
