/* The byte hash the interner (symtab) and the hashed feature bags (feat)
 * share: eight bytes at a time, multiply and fold, the length first (keys
 * are short words). Inlined: every token of a mail goes through it. */
#ifndef TRIAGED_HASH_H
#define TRIAGED_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_load64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t hash_load32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Each step is a bijection of the state for given bytes, so keys of up to
 * 8 bytes never share a hash. No final avalanche: the high bits of the last
 * product depend on every byte, the low bits do not (callers that index by
 * the low bits mix first). */
static inline __attribute__((always_inline)) uint64_t hash_bytes64(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
	while (len >= 8) {
		h = (h ^ hash_load64(s)) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		s += 8;
		len -= 8;
	}
	/* The last 0 to 7 bytes in at most two loads, which may overlap: every
	 * byte is read, and the length went into h first. */
	uint64_t tail = 0;
	if (len >= 4)
		tail = hash_load32(s) | (uint64_t)hash_load32(s + len - 4) << 32;
	else if (len > 0)
		tail = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[len / 2] << 8 |
		       (uint64_t)(unsigned char)s[len - 1] << 16;
	return (h ^ tail) * 0x94d049bb133111ebULL;
}

#endif
