// Package envelope stores memcached's per-item metadata — the 32-bit client
// flags and the absolute expiry — inside the engine's value bytes, because
// the engine's item format has no field for them.
//
// A value is stored raw when its flags are 0, it never expires and its first
// byte is not a marker byte (0xFC-0xFF, bytes that never occur in UTF-8
// text). Raw values cost nothing extra, and raw decimal numbers stay numbers
// for the engine, whose incr/decr then update them atomically in place.
// Every other value is stored as one marker byte 0xFC|kind followed by the
// fields that kind says are present, then the value:
//
//	kind bit 0: 4-byte big-endian flags
//	kind bit 1: 4-byte big-endian expiry, Unix seconds
//
// Kind 0 (marker 0xFC alone) escapes a raw value that starts with a marker
// byte. The overhead is 1, 5 or 9 bytes, only for values that need it.
package envelope
