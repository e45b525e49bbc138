// Package evict holds the eviction policies' decisions and the structures
// that make them cheap: which segments may be merged together (a run of
// compatible expiries), the expiry a merged segment gets, and two ordered
// sets of segment ids, an Index (uniform random choice, O(1) updates) and a
// Heap (ordered by a key such as the expiry time, O(log n) updates). The
// engine keeps them current as segments open, seal and drain, and carries
// the decisions out (draining, copying, relinking).
package evict
