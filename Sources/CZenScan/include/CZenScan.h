#ifndef CZENSCAN_H
#define CZENSCAN_H

#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// The bytes of a CSV record that end a plain field, found 64 at a time: bit i is set when
/// p[i] is a comma, a quote, a line feed or a carriage return. The caller guarantees 64
/// readable bytes at p. SSE2 (every x86-64) compares 16 bytes at once; elsewhere, byte by byte.
static inline uint64_t zen_csv_structural64(const uint8_t *p) {
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
    const __m128i newline = _mm_set1_epi8('\n'), carriage = _mm_set1_epi8('\r');
    uint64_t mask = 0;
    for (int block = 0; block < 4; block++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * block));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, newline), _mm_cmpeq_epi8(v, carriage)));
        mask |= (uint64_t)(uint16_t)_mm_movemask_epi8(hit) << (16 * block);
    }
    return mask;
#else
    uint64_t mask = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t byte = p[i];
        if (byte == ',' || byte == '"' || byte == '\n' || byte == '\r') mask |= (uint64_t)1 << i;
    }
    return mask;
#endif
}

#endif
