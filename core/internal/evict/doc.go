// Package evict holds the eviction policies' decisions, as pure functions
// over snapshots of segment headers: which segment to drop (random,
// random FIFO, FIFO, closest to expiration, least utilized), which
// segments may be merged together, and the expiry a merged segment gets.
// The engine carries the decisions out (draining, copying, relinking).
package evict
