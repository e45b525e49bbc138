//go:build amd64 && !purego

package fence

// Load orders every load before it before every load after it.
//
// On amd64 it compiles to nothing, and that is correct:
//   - The hardware: x86-TSO never makes a load visible out of order with an
//     older load (Intel SDM vol. 3, 9.2.2: "reads are not reordered with
//     other reads").
//   - The compiler: Load is inlined away, but the generation re-read that
//     follows it is a sync/atomic load, which the Go compiler treats as a
//     memory-state-producing operation; it schedules every earlier load of
//     the older memory state before it and never moves loads across it.
//     The copy itself is usually a call (copy/memmove), which is a barrier
//     to the compiler as well.
func Load() {}
