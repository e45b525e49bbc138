// Package binproto is memcached's binary protocol on the wire: the 24-byte
// request and response headers, the opcodes and status codes, and the shape
// each command's body must have (extras, key, value). It knows nothing of
// the cache; package server runs the commands.
//
// A packet is a header followed by its body: extras, then the key, then the
// value, whose lengths the header gives (the value's as the total body
// length minus the other two). Multi-byte fields are big-endian.
package binproto
