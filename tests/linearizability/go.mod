module github.com/segcache/segcache/tests/linearizability

go 1.27

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/segcache/segcache v0.0.0
)

require (
	github.com/klauspost/cpuid/v2 v2.4.2 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace github.com/segcache/segcache => ../..
