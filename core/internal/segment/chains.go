package segment

// None marks the end of a list, or a segment in no list.
const None int32 = -1

// Chains keeps every segment that holds or takes items (Open, Sealed,
// Relocating) in two doubly linked lists, both in opening order:
//
//   - its chain: the segments of one TTL bucket and pool, the order the
//     paper's FIFO-per-bucket eviction and merge walk;
//   - its pool's list: every segment of the pool, whatever its bucket,
//     the order of FIFO and of S3-FIFO's two queues.
//
// A segment is added when it is opened (at the tails, or at a given place
// for a merge destination, which takes over its first source's age) and
// removed when a drainer claims it. Every operation is O(1).
//
// Chains is not safe for concurrent use: the engine guards it, like every
// eviction decision, with its eviction lock. Readers and writers of items
// never look at it.
type Chains struct {
	link  []links
	chain []ends // per chain: bucket*Pools + pool
	pool  [Pools]ends
	count [Pools]int
}

// Pools is the number of pools (PoolMain, PoolAdmission).
const Pools = 2

type links struct {
	prev, next   int32 // in the chain
	pprev, pnext int32 // in the pool's list
	chain        int32 // None: not listed
	pool         int32
}

type ends struct{ head, tail int32 }

// ChainOf returns the chain index of a TTL bucket and pool.
func ChainOf(bucket, pool int32) int32 { return bucket*Pools + pool }

// NewChains makes empty lists for n segments and the given TTL buckets.
func NewChains(n, buckets int) *Chains {
	c := &Chains{link: make([]links, n), chain: make([]ends, buckets*Pools)}
	for i := range c.link {
		c.link[i] = links{None, None, None, None, None, None}
	}
	for i := range c.chain {
		c.chain[i] = ends{None, None}
	}
	for p := range c.pool {
		c.pool[p] = ends{None, None}
	}
	return c
}

// Listed reports whether segment id is in the lists.
func (c *Chains) Listed(id int32) bool { return c.link[id].chain != None }

// Chain returns the chain segment id is in (None if unlisted).
func (c *Chains) Chain(id int32) int32 { return c.link[id].chain }

// Head returns the oldest segment of a chain, or None.
func (c *Chains) Head(chain int32) int32 { return c.chain[chain].head }

// Next returns the segment opened after id in its chain, or None.
func (c *Chains) Next(id int32) int32 { return c.link[id].next }

// PoolHead returns the oldest segment of a pool, or None.
func (c *Chains) PoolHead(pool int32) int32 { return c.pool[pool].head }

// PoolNext returns the segment opened after id in its pool, or None.
func (c *Chains) PoolNext(id int32) int32 { return c.link[id].pnext }

// Len returns how many segments a pool holds.
func (c *Chains) Len(pool int32) int { return c.count[pool] }

// Append adds an unlisted segment as the newest of its chain and pool.
func (c *Chains) Append(id, bucket, pool int32) {
	ch := ChainOf(bucket, pool)
	l := &c.link[id]
	*l = links{c.chain[ch].tail, None, c.pool[pool].tail, None, ch, pool}
	if l.prev != None {
		c.link[l.prev].next = id
	} else {
		c.chain[ch].head = id
	}
	c.chain[ch].tail = id
	if l.pprev != None {
		c.link[l.pprev].pnext = id
	} else {
		c.pool[pool].head = id
	}
	c.pool[pool].tail = id
	c.count[pool]++
}

// InsertBefore adds an unlisted segment just before the listed segment at,
// in at's chain and pool: it takes at's place in the opening order.
func (c *Chains) InsertBefore(id, at int32) {
	a := &c.link[at]
	l := &c.link[id]
	*l = links{a.prev, at, a.pprev, at, a.chain, a.pool}
	if l.prev != None {
		c.link[l.prev].next = id
	} else {
		c.chain[l.chain].head = id
	}
	a.prev = id
	if l.pprev != None {
		c.link[l.pprev].pnext = id
	} else {
		c.pool[l.pool].head = id
	}
	a.pprev = id
	c.count[l.pool]++
}

// Remove takes a segment out of the lists; an unlisted one is left alone.
func (c *Chains) Remove(id int32) {
	l := &c.link[id]
	if l.chain == None {
		return
	}
	if l.prev != None {
		c.link[l.prev].next = l.next
	} else {
		c.chain[l.chain].head = l.next
	}
	if l.next != None {
		c.link[l.next].prev = l.prev
	} else {
		c.chain[l.chain].tail = l.prev
	}
	if l.pprev != None {
		c.link[l.pprev].pnext = l.pnext
	} else {
		c.pool[l.pool].head = l.pnext
	}
	if l.pnext != None {
		c.link[l.pnext].pprev = l.pprev
	} else {
		c.pool[l.pool].tail = l.pprev
	}
	c.count[l.pool]--
	*l = links{None, None, None, None, None, None}
}
