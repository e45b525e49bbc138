// Package cpu holds the CPU features the engine's kernels dispatch on.
//
// The flags are read once, at package initialization, with
// github.com/klauspost/cpuid/v2, and never change afterwards: every kernel
// package decides its implementation from these booleans, so a process uses
// one implementation for its whole life (tests may force another one through
// the kernel package's own test hooks, see tagscan.Force).
package cpu
