/* triagectl agent: the web console's accounts (add, list, disable, passwd);
 * the work is http_auth.h's, this parses options and prints. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "fileio.h"
#include "http_auth.h"
#include "store.h"
#include "store_agents.h"
#include "xalloc.h"

static const char usage[] =
	"usage: triagectl agent add --email E --name N --role agent|manager|admin\n"
	"                           --password-file F\n"
	"       triagectl agent list [--json]\n"
	"       triagectl agent disable E\n"
	"       triagectl agent passwd E --password-file F\n"
	"Accounts of the web console. Agents act on tickets, managers also read the\n"
	"reports, admins also manage agents. The password is the first line of F\n"
	"(at least 10 characters); it is stored only as an Argon2id hash. Disabling an\n"
	"agent or changing a password ends the agent's sessions.\n";

static char *cli_actor(void)
{
	const char *user = getenv("USER");
	if (user == NULL || user[0] == '\0') {
		struct passwd *pw = getpwuid(getuid());
		user = pw != NULL ? pw->pw_name : "unknown";
	}
	return xasprintf("cli:%s", user);
}

/* The first line of path, without its line end; caller frees (and clears). */
static char *read_password(const char *path)
{
	char *data;
	size_t len;
	const char *error;
	if (file_read_all(path, HTTP_AUTH_MAX_PASSWORD + 2, &data, &len, &error) < 0) {
		ctl_error("--password-file: %s", error);
		return NULL;
	}
	data[strcspn(data, "\r\n")] = '\0';
	return data;
}

static void free_password(char **p)
{
	if (*p != NULL) {
		sodium_memzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

static int open_store(struct ctl *ctl, struct store **st_r)
{
	const char *error;
	if (http_auth_init(&error) < 0) {
		ctl_error("%s", error);
		return -1;
	}
	*st_r = ctl_store(ctl);
	return *st_r != NULL ? 0 : -1;
}

static int cmd_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{"email", required_argument, NULL, 'e'},
		{"name", required_argument, NULL, 'n'},
		{"role", required_argument, NULL, 'r'},
		{"password-file", required_argument, NULL, 'p'},
		{0},
	};
	const char *email = NULL, *name = NULL, *role_text = NULL, *password_file = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'e': email = optarg; break;
		case 'n': name = optarg; break;
		case 'r': role_text = optarg; break;
		case 'p': password_file = optarg; break;
		default: fputs(usage, stderr); return CTL_USAGE;
		}
	}
	if (optind < argc || email == NULL || name == NULL || role_text == NULL ||
	    password_file == NULL) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	enum agent_role role;
	if (agent_role_parse(role_text, &role) < 0) {
		ctl_error("--role: expected agent, manager or admin");
		return CTL_USAGE;
	}
	struct store *st;
	if (open_store(ctl, &st) < 0)
		return CTL_FAIL;
	char *password = read_password(password_file);
	if (password == NULL)
		return CTL_DATAERR;
	_cleanup_free_ char *actor = cli_actor();
	const char *error;
	int rc = http_auth_agent_add(st, actor, email, name, role, password, &error);
	free_password(&password);
	if (rc < 0) {
		ctl_error("%s", error);
		return CTL_DATAERR;
	}
	if (rc == 1) {
		ctl_error("an agent with the address %s exists already", email);
		return CTL_DATAERR;
	}
	printf("agent %s added (%s)\n", email, role_text);
	return CTL_OK;
}

static int cmd_list(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st;
	if (open_store(ctl, &st) < 0)
		return CTL_FAIL;
	struct agent *list;
	size_t n;
	if (store_agent_list(st, &list, &n) < 0) {
		ctl_error("%s", store_error(st));
		return CTL_FAIL;
	}
	if (ctl->json) {
		cJSON *array = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "email", list[i].email);
			cJSON_AddStringToObject(o, "name", list[i].name);
			cJSON_AddStringToObject(o, "role", agent_role_name(list[i].role));
			cJSON_AddBoolToObject(o, "disabled", list[i].disabled);
			cJSON_AddNumberToObject(o, "created", (double)list[i].created);
			if (list[i].last_login > 0)
				cJSON_AddNumberToObject(o, "last_login", (double)list[i].last_login);
			else
				cJSON_AddNullToObject(o, "last_login");
			cJSON_AddItemToArray(array, o);
		}
		char *text = cJSON_Print(array);
		puts(text);
		cJSON_free(text);
		cJSON_Delete(array);
	} else {
		printf("%-32s  %-8s  %-8s  %-20s  %s\n", "EMAIL", "ROLE", "STATE", "LAST LOGIN (UTC)",
		       "NAME");
		for (size_t i = 0; i < n; i++) {
			char when[32] = "-";
			if (list[i].last_login > 0) {
				time_t t = (time_t)list[i].last_login;
				struct tm tm;
				gmtime_r(&t, &tm);
				strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			printf("%-32s  %-8s  %-8s  %-20s  %s\n", list[i].email,
			       agent_role_name(list[i].role), list[i].disabled ? "disabled" : "active",
			       when, list[i].name);
		}
	}
	agent_list_free(&list, n);
	return CTL_OK;
}

static int cmd_disable(struct ctl *ctl, int argc, char **argv)
{
	if (argc != 2) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	struct store *st;
	if (open_store(ctl, &st) < 0)
		return CTL_FAIL;
	_cleanup_free_ char *actor = cli_actor();
	const char *error;
	int rc = http_auth_agent_disable(st, actor, argv[1], &error);
	if (rc < 0) {
		ctl_error("%s", error);
		return CTL_FAIL;
	}
	if (rc == 1) {
		ctl_error("no agent %s", argv[1]);
		return CTL_NOTFOUND;
	}
	printf("agent %s disabled\n", argv[1]);
	return CTL_OK;
}

static int cmd_passwd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{"password-file", required_argument, NULL, 'p'},
		{0},
	};
	const char *password_file = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt != 'p') {
			fputs(usage, stderr);
			return CTL_USAGE;
		}
		password_file = optarg;
	}
	if (optind != argc - 1 || password_file == NULL) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	const char *email = argv[optind];
	struct store *st;
	if (open_store(ctl, &st) < 0)
		return CTL_FAIL;
	char *password = read_password(password_file);
	if (password == NULL)
		return CTL_DATAERR;
	_cleanup_free_ char *actor = cli_actor();
	const char *error;
	int rc = http_auth_agent_passwd(st, actor, email, password, &error);
	free_password(&password);
	if (rc < 0) {
		ctl_error("%s", error);
		return CTL_DATAERR;
	}
	if (rc == 1) {
		ctl_error("no agent %s", email);
		return CTL_NOTFOUND;
	}
	printf("password of %s changed; its sessions are closed\n", email);
	return CTL_OK;
}

int ctl_cmd_agent(struct ctl *ctl, int argc, char **argv)
{
	if (ctl_wants_help(argc, argv, usage))
		return CTL_OK;
	if (argc < 2) {
		fputs(usage, stderr);
		return CTL_USAGE;
	}
	const char *sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (strcmp(sub, "add") == 0)
		return cmd_add(ctl, argc, argv);
	if (strcmp(sub, "list") == 0)
		return cmd_list(ctl, argc, argv);
	if (strcmp(sub, "disable") == 0)
		return cmd_disable(ctl, argc, argv);
	if (strcmp(sub, "passwd") == 0)
		return cmd_passwd(ctl, argc, argv);
	ctl_error("agent: unknown subcommand \"%s\"", sub);
	return CTL_USAGE;
}
