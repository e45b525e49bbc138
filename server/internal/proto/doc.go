// Package proto parses request lines of memcached's text protocol into
// Requests. It only reads the line: the data block of a storage command
// and every reply are the server's business. Parsing never allocates
// beyond the caller's key scratch, and every slice in a Request aliases
// the line.
package proto
