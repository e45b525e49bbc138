// Package clienttest drives a built segcached binary with third-party
// clients and proxies: libmemcached's conformance tool (memccapable),
// github.com/bradfitz/gomemcache, and twemproxy (nutcracker) in front of
// three nodes; and it runs memcached itself beside segcached, sending both
// one random command stream, to compare their replies. It is its own Go
// module so that these test-only dependencies stay out of the library's
// go.mod.
//
// Run it through `make test-server`, which builds the server and sets
// SEGCACHED to its path; the Debian packages it needs are installed by
// .ci/install.d/server.sh.
package clienttest
