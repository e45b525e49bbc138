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
//
// Nor does a release hand the lock to a waiter that has waited long, as
// sync.Mutex's starvation mode does, and measuring says it need not.
// With more goroutines contending for one lock than there are CPUs
// (BenchmarkHotLockWait: three per P on 2 CPUs, five runs, medians), the
// longest wait of a Lock was 11.3 ms here and 12.1 ms for sync.Mutex, the
// 99.9th percentile 17 µs here and 101 µs for sync.Mutex, and a take and
// release cost 163 ns against 301: the longest waits are goroutines
// waiting for a CPU (the scheduler's 10 ms slice), not turns lost to
// other holders. A version that let a waiter of 1 ms keep the next turn
// for itself (a reserved bit that newcomers' fast path cannot take) left
// the longest wait where it was (4.6-8.8 ms against 4.8-10.3, three
// alternating runs), raised the 99.9th percentile (79-106 µs against
// 54-77: the kept lock idles while its waiter naps) and cost every
// release 3 ns (6.3 -> 9.3 ns uncontended: it reads the word before
// clearing the bit), so it was not kept.
package spinlock
