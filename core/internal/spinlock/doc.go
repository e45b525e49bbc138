// Package spinlock is the mutex that the engine's key stripes use: a
// writer holds its key's stripe for the whole of a set, delete or
// increment, a few hundred nanoseconds, so the cost of taking and
// releasing it is paid on every write.
//
// sync.Mutex releases with an atomic add (LOCK XADD on amd64), because it
// must learn atomically whether a waiter needs waking. That locked
// instruction drains the store buffer and holds back every later load: in
// an evicting set it cost about 5% of the operation (BenchmarkSetEvicting,
// fifo, 256 segments of 4 KiB). A Mutex here releases with a plain store,
// which on amd64 is a release by itself (x86-TSO never makes a store
// visible before an older load or store), and on other architectures with
// sync/atomic's store (STLR on arm64, a release store).
//
// The price is that a release cannot wake anyone: a waiter spins, yields
// and finally sleeps in short, growing naps until it sees the lock free.
// That suits locks held briefly and contended rarely, as 1,024 stripes
// are; a lock held for long (a growth takes every stripe for some tens of
// microseconds) delays its waiters by at most one nap (maxNap) beyond its
// release.
package spinlock
