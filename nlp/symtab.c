/* Open-addressing (linear probing) string interner. Each slot holds the id
 * and 32 bits of the key's hash, so a probe rarely leaves the slot array;
 * keys are packed in large blocks rather than allocated one by one. */
#include "symtab.h"

#include <string.h>

#include "hash.h"
#include "xalloc.h"

#define EMPTY UINT64_MAX
#define BLOCK_SIZE 4096

struct block {
	struct block *next;
	size_t used, size;
	char data[];
};

struct symtab {
	uint64_t *slots; /* hash << 32 | id, or EMPTY; size is a power of two */
	size_t mask;
	char **keys;
	uint32_t *lens;
	uint32_t *hashes;
	size_t count, cap;
	struct block *blocks; /* newest first */
};

/* memcmp(a, b, len) == 0 for short keys without a call: overlapping loads
 * cover every byte. */
static inline bool key_eq(const char *a, const char *b, size_t len)
{
	if (len >= 8) {
		for (size_t i = 0; i + 8 < len; i += 8)
			if (hash_load64(a + i) != hash_load64(b + i))
				return false;
		return hash_load64(a + len - 8) == hash_load64(b + len - 8);
	}
	if (len >= 4)
		return hash_load32(a) == hash_load32(b) &&
		       hash_load32(a + len - 4) == hash_load32(b + len - 4);
	return len == 0 || (a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1]);
}

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* The shared byte hash, mixed down to the 32 bits a slot keeps: a table
 * indexes by the low bits. Inlined with probe() in symtab_intern(), which
 * every token of a mail goes through: no calls on that path. */
static inline __attribute__((always_inline)) uint32_t hash_bytes(const char *s, size_t len)
{
	return (uint32_t)mix(hash_bytes64(s, len));
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
	while (tab->blocks != NULL) {
		struct block *next = tab->blocks->next;
		free(tab->blocks);
		tab->blocks = next;
	}
	free(tab->keys);
	free(tab->lens);
	free(tab->hashes);
	free(tab->slots);
	free(tab);
	*tabp = NULL;
}

void symtab_reset(struct symtab *tab)
{
	/* one block is enough to start again; the others go */
	struct block *keep = tab->blocks;
	if (keep != NULL) {
		while (keep->next != NULL) {
			struct block *next = keep->next->next;
			free(keep->next);
			keep->next = next;
		}
		keep->used = 0;
	}
	if (tab->count > 0)
		memset(tab->slots, 0xff, (tab->mask + 1) * sizeof(*tab->slots));
	tab->count = 0;
}

/* A stable copy of key, NUL-terminated, in the newest block. */
static char *store_key(struct symtab *tab, const char *key, size_t len)
{
	struct block *b = tab->blocks;
	if (b == NULL || b->size - b->used < len + 1) {
		size_t size = len + 1 > BLOCK_SIZE ? len + 1 : BLOCK_SIZE;
		b = xmalloc(sizeof(*b) + size);
		b->next = tab->blocks;
		b->used = 0;
		b->size = size;
		tab->blocks = b;
	}
	char *copy = b->data + b->used;
	memcpy(copy, key, len);
	copy[len] = '\0';
	b->used += len + 1;
	return copy;
}

static inline __attribute__((always_inline)) size_t probe(const struct symtab *tab,
                                                          const char *key, size_t len,
                                                          uint32_t h)
{
	size_t i = h & tab->mask;
	for (;;) {
		uint64_t slot = tab->slots[i];
		if (slot == EMPTY)
			return i;
		if ((uint32_t)(slot >> 32) == h) {
			uint32_t id = (uint32_t)slot;
			if (tab->lens[id] == len && key_eq(tab->keys[id], key, len))
				return i;
		}
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
		tab->slots[i] = (uint64_t)tab->hashes[id] << 32 | id;
	}
}

int symtab_find(const struct symtab *tab, const char *key, size_t len, uint32_t *id_r)
{
	size_t i = probe(tab, key, len, hash_bytes(key, len));
	if (tab->slots[i] == EMPTY)
		return -1;
	*id_r = (uint32_t)tab->slots[i];
	return 0;
}

int symtab_find_from(const struct symtab *tab, const struct symtab *src, uint32_t src_id,
                     uint32_t *id_r)
{
	size_t i = probe(tab, src->keys[src_id], src->lens[src_id], src->hashes[src_id]);
	if (tab->slots[i] == EMPTY)
		return -1;
	*id_r = (uint32_t)tab->slots[i];
	return 0;
}

void symtab_prefetch_from(const struct symtab *tab, const struct symtab *src, uint32_t src_id)
{
	__builtin_prefetch(&tab->slots[src->hashes[src_id] & tab->mask]);
}

uint32_t symtab_intern(struct symtab *tab, const char *key, size_t len, bool *created_r)
{
	uint32_t h = hash_bytes(key, len);
	size_t i = probe(tab, key, len, h);
	if (tab->slots[i] != EMPTY) {
		if (created_r != NULL)
			*created_r = false;
		return (uint32_t)tab->slots[i];
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
	tab->keys[id] = store_key(tab, key, len);
	tab->lens[id] = (uint32_t)len;
	tab->hashes[id] = h;
	tab->slots[i] = (uint64_t)h << 32 | id;
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
