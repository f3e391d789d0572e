/* Open-addressing (linear probing) string interner with FNV-1a hashing. */
#include "symtab.h"

#include <string.h>

#include "xalloc.h"

#define EMPTY UINT32_MAX

struct symtab {
	uint32_t *slots; /* id or EMPTY; size is a power of two */
	size_t mask;
	char **keys;
	uint32_t *lens;
	uint64_t *hashes;
	size_t count, cap;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

static void alloc_slots(struct symtab *tab, size_t nslots)
{
	tab->slots = xmalloc(nslots * sizeof(*tab->slots));
	memset(tab->slots, 0xff, nslots * sizeof(*tab->slots));
	tab->mask = nslots - 1;
}

struct symtab *symtab_new(size_t expected)
{
	struct symtab *tab = xcalloc(1, sizeof(*tab));
	size_t n = 16;
	while (n < expected * 2)
		n *= 2;
	alloc_slots(tab, n);
	return tab;
}

void symtab_free(struct symtab **tabp)
{
	struct symtab *tab = *tabp;
	if (tab == NULL)
		return;
	for (size_t i = 0; i < tab->count; i++)
		free(tab->keys[i]);
	free(tab->keys);
	free(tab->lens);
	free(tab->hashes);
	free(tab->slots);
	free(tab);
	*tabp = NULL;
}

static size_t probe(const struct symtab *tab, const char *key, size_t len, uint64_t h)
{
	size_t i = h & tab->mask;
	for (;;) {
		uint32_t id = tab->slots[i];
		if (id == EMPTY)
			return i;
		if (tab->hashes[id] == h && tab->lens[id] == len &&
		    memcmp(tab->keys[id], key, len) == 0)
			return i;
		i = (i + 1) & tab->mask;
	}
}

static void rehash(struct symtab *tab)
{
	size_t nslots = (tab->mask + 1) * 2;
	free(tab->slots);
	alloc_slots(tab, nslots);
	for (uint32_t id = 0; id < tab->count; id++) {
		size_t i = tab->hashes[id] & tab->mask;
		while (tab->slots[i] != EMPTY)
			i = (i + 1) & tab->mask;
		tab->slots[i] = id;
	}
}

int symtab_find(const struct symtab *tab, const char *key, size_t len, uint32_t *id_r)
{
	size_t i = probe(tab, key, len, hash_bytes(key, len));
	if (tab->slots[i] == EMPTY)
		return -1;
	*id_r = tab->slots[i];
	return 0;
}

uint32_t symtab_intern(struct symtab *tab, const char *key, size_t len, bool *created_r)
{
	uint64_t h = hash_bytes(key, len);
	size_t i = probe(tab, key, len, h);
	if (tab->slots[i] != EMPTY) {
		if (created_r != NULL)
			*created_r = false;
		return tab->slots[i];
	}
	if (tab->count == tab->cap) {
		size_t cap = tab->cap;
		tab->keys = xgrow(tab->keys, &cap, tab->count + 1, sizeof(*tab->keys));
		cap = tab->cap;
		tab->lens = xgrow(tab->lens, &cap, tab->count + 1, sizeof(*tab->lens));
		cap = tab->cap;
		tab->hashes = xgrow(tab->hashes, &cap, tab->count + 1, sizeof(*tab->hashes));
		tab->cap = cap;
	}
	uint32_t id = (uint32_t)tab->count++;
	tab->keys[id] = xstrndup(key, len);
	tab->lens[id] = (uint32_t)len;
	tab->hashes[id] = h;
	tab->slots[i] = id;
	/* Keep the load factor under 1/2 so probes stay short. */
	if (tab->count * 2 > tab->mask + 1)
		rehash(tab);
	if (created_r != NULL)
		*created_r = true;
	return id;
}

size_t symtab_count(const struct symtab *tab)
{
	return tab->count;
}

const char *symtab_key(const struct symtab *tab, uint32_t id)
{
	return tab->keys[id];
}

size_t symtab_key_len(const struct symtab *tab, uint32_t id)
{
	return tab->lens[id];
}
