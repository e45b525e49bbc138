// Package hashtable is the engine's lock-free index and the only code that
// knows the slot layout or changes a slot: 64-byte buckets of eight 64-bit
// slots, two candidate buckets per key, every change a CAS.
//
// A slot packs tag (12 bits, never 0 in a used slot) | moving (1 bit) |
// frequency (7 bits) | location (44 bits: segment id 18 | generation 6 |
// offset/8 20). An empty slot is 0. There is no metadata slot: all eight
// slots hold items. The tag comes from hash bits independent of both bucket
// indices, so keys sharing a bucket still differ in tag as often as chance
// allows. A ghost is a slot whose location is the all-ones sentinel: it
// keeps a key's frequency after its item was evicted, so a key that comes
// back resumes where it was, and S3-FIFO routes it to the main pool.
//
// When both buckets of a new key are full, Key.Displace moves another
// key's entry to that key's other bucket instead of dropping anything: it
// copies the entry there (marked moving), clears the original, then clears
// the mark, with the key's move counter odd meanwhile. A lookup that
// misses re-checks the counter (Key.Settled) and looks again if a move was
// in flight, so lock-free readers never miss a present item.
//
// The transitions (Key.InsertFree, Key.Displace, Retarget, Move, Unlink,
// Bury, Takeover, Table.Bump) are the only writers of slots. Each one that
// replaces an entry retries its CAS only while the slot still holds the
// same tag and location, because a reader's frequency bump is the one
// change that may race it without changing which item the slot links; any
// other change means someone else (a writer or a drain) already moved or
// removed the entry, and the caller must look again. That loop exists
// once, in Change.Apply.
//
// A table does not grow in place: the engine builds a table twice the size
// and publishes it. Table.CopyLive copies it while writers go on changing
// the old one, Table.CatchUpLive brings the copy up to date, still beside
// them, and Table.CatchUp, with every writer held off, copies again only
// what changed since (see CopyInto); a writer that would only wait for
// the growth lends itself to CopyLive (Table.HelpCopy). While a growth
// runs (Track), every transition marks its bucket after its CAS, so those
// passes visit only the buckets that changed. Slots do not hold the hash,
// so the copy asks the engine for each entry's hash (read from its item); the tag
// is the hash's top 12 bits, which no table size uses for buckets (bucket
// indices take at most 26 bits each), so an entry keeps its slot value.
// Ghosts have no item and are dropped.
//
// This package knows nothing of items; the engine verifies keys in the
// segments and decides which transition to make. The table lives outside
// the Go heap.
package hashtable
