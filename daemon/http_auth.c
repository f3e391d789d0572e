/* Accounts and sessions of the web console (see http_auth.h): password
 * hashing, tokens, the login rate limit and the audit events. */
#include "http_auth.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "store.h"
#include "xalloc.h"

/* Sessions can never outlive the longest idle time the config allows. */
#define SESSION_MAX_AGE (7 * 24 * 3600)


int http_auth_init(const char **error_r)
{
	if (sodium_init() < 0) {
		*error_r = "libsodium could not be initialised";
		return -1;
	}
	return 0;
}

int http_auth_hash_password(const char *password, char **hash_r, const char **error_r)
{
	size_t len = strnlen(password, HTTP_AUTH_MAX_PASSWORD + 1);
	if (len < HTTP_AUTH_MIN_PASSWORD) {
		*error_r = error_fmt("the password must have at least %d characters",
				     HTTP_AUTH_MIN_PASSWORD);
		return -1;
	}
	if (len > HTTP_AUTH_MAX_PASSWORD) {
		*error_r = error_fmt("the password must have at most %d bytes", HTTP_AUTH_MAX_PASSWORD);
		return -1;
	}
	char hash[crypto_pwhash_STRBYTES];
	/* The interactive limits: about 0.1 s and 64 MiB per login on a small
	 * server, which is what a console login can afford. */
	if (crypto_pwhash_str(hash, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		*error_r = "out of memory while hashing the password";
		return -1;
	}
	*hash_r = xstrdup(hash);
	return 0;
}

bool http_auth_verify_password(const char *hash, const char *password)
{
	size_t len = strnlen(password, HTTP_AUTH_MAX_PASSWORD + 1);
	if (hash == NULL || len > HTTP_AUTH_MAX_PASSWORD)
		return false;
	return crypto_pwhash_str_verify(hash, password, len) == 0;
}

char *http_auth_normalize_email(const char *email)
{
	size_t len = strnlen(email, HTTP_AUTH_MAX_EMAIL + 1);
	if (len == 0 || len > HTTP_AUTH_MAX_EMAIL)
		return NULL;
	const char *at = strchr(email, '@');
	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return NULL;
	char *out = xstrndup(email, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' || c == ',') {
			free(out);
			return NULL;
		}
		if (c >= 'A' && c <= 'Z')
			out[i] = (char)(c - 'A' + 'a');
	}
	return out;
}

static bool printable_name(const char *s)
{
	size_t len = strnlen(s, HTTP_AUTH_MAX_NAME + 1);
	if (len == 0 || len > HTTP_AUTH_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* The event (o consumed) and the commit; rolls back on failure. */
static int commit_event(struct store *st, const char *actor, const char *kind, cJSON *o,
			const char **error_r)
{
	char *detail = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	int rc = store_event_add(st, 0, actor, kind, detail);
	cJSON_free(detail);
	if (rc < 0 || store_commit(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return -1;
	}
	return 0;
}

int http_auth_agent_add(struct store *st, const char *actor, const char *email, const char *name,
			enum agent_role role, const char *password, const char **error_r)
{
	_cleanup_free_ char *addr = http_auth_normalize_email(email);
	if (addr == NULL) {
		*error_r = "the e-mail address is not valid";
		return -1;
	}
	if (name == NULL || !printable_name(name)) {
		*error_r = "the name must be 1 to 200 printable characters";
		return -1;
	}
	if (strcmp(agent_role_name(role), "?") == 0) {
		*error_r = "unknown role";
		return -1;
	}
	char *hash;
	if (http_auth_hash_password(password, &hash, error_r) < 0)
		return -1;
	if (store_begin(st) < 0) {
		free(hash);
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	int64_t id;
	int rc = store_agent_add(st, addr, name, role, hash, store_now(), &id);
	free(hash);
	if (rc != 0) {
		if (rc < 0)
			*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return rc;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "email", addr);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "role", agent_role_name(role));
	return commit_event(st, actor, "agent_added", o, error_r);
}

int http_auth_agent_disable(struct store *st, const char *actor, const char *email,
			    const char **error_r)
{
	_cleanup_free_ char *addr = http_auth_normalize_email(email);
	if (addr == NULL) {
		*error_r = "the e-mail address is not valid";
		return -1;
	}
	if (store_begin(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	int rc = store_agent_set_disabled(st, addr, true);
	if (rc <= 0) {
		if (rc < 0)
			*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return rc < 0 ? -1 : 1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "email", addr);
	return commit_event(st, actor, "agent_disabled", o, error_r);
}

int http_auth_agent_passwd(struct store *st, const char *actor, const char *email,
			   const char *password, const char **error_r)
{
	_cleanup_free_ char *addr = http_auth_normalize_email(email);
	if (addr == NULL) {
		*error_r = "the e-mail address is not valid";
		return -1;
	}
	char *hash;
	if (http_auth_hash_password(password, &hash, error_r) < 0)
		return -1;
	if (store_begin(st) < 0) {
		free(hash);
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	int rc = store_agent_set_password(st, addr, hash);
	free(hash);
	if (rc <= 0) {
		if (rc < 0)
			*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return rc < 0 ? -1 : 1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "email", addr);
	return commit_event(st, actor, "agent_password_changed", o, error_r);
}

static void random_hex(char out[HTTP_AUTH_TOKEN_HEX + 1])
{
	unsigned char bytes[HTTP_AUTH_TOKEN_HEX / 2];
	randombytes_buf(bytes, sizeof(bytes));
	sodium_bin2hex(out, HTTP_AUTH_TOKEN_HEX + 1, bytes, sizeof(bytes));
	sodium_memzero(bytes, sizeof(bytes));
}

/* The stored form of a session token: hex SHA-256, so that a copy of the
 * database does not hold usable sessions. */
static void token_hash(const char *token, char out[2 * crypto_hash_sha256_BYTES + 1])
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(out, 2 * crypto_hash_sha256_BYTES + 1, digest, sizeof(digest));
}

static bool token_well_formed(const char *token)
{
	if (token == NULL || strlen(token) != HTTP_AUTH_TOKEN_HEX)
		return false;
	return strspn(token, "0123456789abcdef") == HTTP_AUTH_TOKEN_HEX;
}

/* A hash to verify against when the account does not exist, so that the
 * answer takes as long as for a wrong password. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
	char password[HTTP_AUTH_TOKEN_HEX + 1];
	random_hex(password);
	if (crypto_pwhash_str(dummy_hash, password, strlen(password),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		dummy_hash[0] = '\0';
}

/* HTTP_AUTH_LIMITED with *retry_r when key failed too often lately. */
static int check_limit(struct store *st, const char *key, int64_t now, int64_t *retry_r,
		       const char **error_r)
{
	int64_t count, oldest;
	if (store_login_failures(st, key, now - HTTP_AUTH_WINDOW + 1, &count, &oldest) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	if (count < HTTP_AUTH_MAX_FAILURES)
		return 0;
	int64_t retry = oldest + HTTP_AUTH_WINDOW - now;
	*retry_r = retry > 0 ? retry : 1;
	return HTTP_AUTH_LIMITED;
}

static int record_failure(struct store *st, const char *addr_key, const char *account_key,
			  const char *addr, const char *email, const char *why, int64_t now,
			  const char **error_r)
{
	if (store_begin(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	if (store_login_failure_add(st, addr_key, now) < 0 ||
	    store_login_failure_add(st, account_key, now) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "email", email);
	cJSON_AddStringToObject(o, "addr", addr);
	cJSON_AddStringToObject(o, "reason", why);
	_cleanup_free_ char *actor = xasprintf("http:%s", addr);
	return commit_event(st, actor, "login_failed", o, error_r);
}

int http_auth_login(struct store *st, const char *addr, const char *email, const char *password,
		    struct http_login *login_r, const char **error_r)
{
	int64_t now = store_now();
	_cleanup_free_ char *norm = http_auth_normalize_email(email);
	/* An address that is not one still counts against the client. */
	_cleanup_free_ char *account_key =
		xasprintf("account:%.*s", HTTP_AUTH_MAX_EMAIL, norm != NULL ? norm : email);
	_cleanup_free_ char *addr_key = xasprintf("addr:%s", addr);
	int64_t retry = 0;
	int rc = check_limit(st, addr_key, now, &retry, error_r);
	if (rc == 0)
		rc = check_limit(st, account_key, now, &retry, error_r);
	if (rc == HTTP_AUTH_LIMITED) {
		login_r->retry_after = retry;
		return rc;
	}
	if (rc < 0)
		return -1;

	struct agent a = {0};
	int found = norm != NULL ? store_agent_get(st, norm, &a) : 0;
	if (found < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	bool ok;
	if (found == 1) {
		ok = http_auth_verify_password(a.password_hash, password);
	} else {
		pthread_once(&dummy_once, make_dummy_hash);
		http_auth_verify_password(dummy_hash, password);
		ok = false;
	}
	if (!ok || a.disabled) {
		const char *why = found == 0 ? "unknown account" : !ok ? "wrong password" : "disabled";
		agent_clear(&a);
		if (record_failure(st, addr_key, account_key, addr, norm != NULL ? norm : "", why, now,
				   error_r) < 0)
			return -1;
		*error_r = "wrong e-mail address or password";
		return HTTP_AUTH_DENIED;
	}

	char token[HTTP_AUTH_TOKEN_HEX + 1], csrf[HTTP_AUTH_TOKEN_HEX + 1];
	char hash[2 * crypto_hash_sha256_BYTES + 1];
	random_hex(token);
	random_hex(csrf);
	token_hash(token, hash);
	if (store_begin(st) < 0) {
		agent_clear(&a);
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	if (store_session_add(st, hash, a.id, csrf, now) < 0 ||
	    store_login_failures_clear(st, account_key) < 0 ||
	    store_agent_set_last_login(st, a.id, now) < 0 ||
	    store_session_purge(st, now - SESSION_MAX_AGE, now - HTTP_AUTH_WINDOW) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		agent_clear(&a);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "addr", addr);
	_cleanup_free_ char *actor = xasprintf("agent:%s", a.email);
	if (commit_event(st, actor, "login", o, error_r) < 0) {
		agent_clear(&a);
		return -1;
	}
	memset(login_r, 0, sizeof(*login_r));
	memcpy(login_r->token, token, sizeof(token));
	memcpy(login_r->csrf, csrf, sizeof(csrf));
	sodium_memzero(token, sizeof(token));
	/* The hash is not needed past this point. */
	sodium_memzero(a.password_hash, strlen(a.password_hash));
	free(a.password_hash);
	a.password_hash = NULL;
	login_r->agent = a;
	return 0;
}

int http_auth_session(struct store *st, const char *token, unsigned idle_minutes,
		      struct session_row *s_r, const char **error_r)
{
	if (!token_well_formed(token))
		return 0;
	char hash[2 * crypto_hash_sha256_BYTES + 1];
	token_hash(token, hash);
	int64_t now = store_now();
	struct session_row s;
	int found = store_session_get(st, hash, now - (int64_t)idle_minutes * 60, &s);
	if (found < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	if (found == 0)
		return 0;
	if (now - s.last_seen >= HTTP_AUTH_TOUCH_SECONDS && store_session_touch(st, hash, now) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		session_row_clear(&s);
		return -1;
	}
	*s_r = s;
	return 1;
}

int http_auth_logout(struct store *st, const char *token, const char *agent_email,
		     const char **error_r)
{
	if (!token_well_formed(token))
		return 0;
	char hash[2 * crypto_hash_sha256_BYTES + 1];
	token_hash(token, hash);
	if (store_begin(st) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		return -1;
	}
	if (store_session_delete(st, hash) < 0) {
		*error_r = error_fmt("store: %s", store_error(st));
		store_rollback(st);
		return -1;
	}
	_cleanup_free_ char *actor = xasprintf("agent:%s", agent_email);
	return commit_event(st, actor, "logout", cJSON_CreateObject(), error_r);
}

bool http_auth_csrf_ok(const char *expected, const char *presented)
{
	if (expected == NULL || presented == NULL)
		return false;
	size_t len = strlen(expected);
	if (len == 0 || strlen(presented) != len)
		return false;
	return sodium_memcmp(expected, presented, len) == 0;
}
