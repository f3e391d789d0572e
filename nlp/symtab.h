/* String interning table: maps byte strings to dense ids 0..n-1 through an
 * open-addressing hash table, so models and bags index plain arrays by id.
 * Ownership: the table owns copies of its keys; a key pointer stays valid
 * until the table is freed. Not thread-safe. */
#ifndef TRIAGED_NLP_SYMTAB_H
#define TRIAGED_NLP_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symtab;

struct symtab *symtab_new(size_t expected);
void symtab_free(struct symtab **tab);
/* Empties tab, keeping its memory for the next keys (a table reused from
 * mail to mail): ids start again at 0; earlier key pointers are invalid. */
void symtab_reset(struct symtab *tab);

/* Returns the id of key (len bytes, need not be NUL-terminated), adding it
 * when absent; *created_r (may be NULL) says which. */
uint32_t symtab_intern(struct symtab *tab, const char *key, size_t len, bool *created_r);
/* 0 and *id_r when key is present, -1 otherwise. */
int symtab_find(const struct symtab *tab, const char *key, size_t len, uint32_t *id_r);
size_t symtab_count(const struct symtab *tab);
/* NUL-terminated key of id (id < symtab_count()). */
const char *symtab_key(const struct symtab *tab, uint32_t id);
size_t symtab_key_len(const struct symtab *tab, uint32_t id);
/* symtab_find() of the key of id in src: the hash is taken from src, not
 * computed again (every table hashes alike). */
int symtab_find_from(const struct symtab *tab, const struct symtab *src, uint32_t src_id,
                     uint32_t *id_r);
/* A hint that symtab_find_from(tab, src, src_id) comes soon: the memory it
 * reads first is fetched meanwhile (a large table misses the cache). */
void symtab_prefetch_from(const struct symtab *tab, const struct symtab *src, uint32_t src_id);

#endif
