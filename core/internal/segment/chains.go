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
	inChain, inPool []node // per segment
	chainOf, poolOf []int32
	chain           []ends // per chain: bucket*Pools + pool
	pool            [Pools]ends
	count           [Pools]int
}

// Pools is the number of pools (PoolMain, PoolAdmission).
const Pools = 2

type node struct{ prev, next int32 }

type ends struct{ head, tail int32 }

// ChainOf returns the chain index of a TTL bucket and pool.
func ChainOf(bucket, pool int32) int32 { return bucket*Pools + pool }

// NewChains makes empty lists for n segments and the given TTL buckets.
func NewChains(n, buckets int) *Chains {
	c := &Chains{inChain: make([]node, n), inPool: make([]node, n),
		chainOf: make([]int32, n), poolOf: make([]int32, n), chain: make([]ends, buckets*Pools)}
	for i := 0; i < n; i++ {
		c.inChain[i], c.inPool[i] = node{None, None}, node{None, None}
		c.chainOf[i], c.poolOf[i] = None, None
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
func (c *Chains) Listed(id int32) bool { return c.chainOf[id] != None }

// Chain returns the chain segment id is in (None if unlisted).
func (c *Chains) Chain(id int32) int32 { return c.chainOf[id] }

// Head returns the oldest segment of a chain, or None.
func (c *Chains) Head(chain int32) int32 { return c.chain[chain].head }

// Next returns the segment opened after id in its chain, or None.
func (c *Chains) Next(id int32) int32 { return c.inChain[id].next }

// PoolHead returns the oldest segment of a pool, or None.
func (c *Chains) PoolHead(pool int32) int32 { return c.pool[pool].head }

// PoolNext returns the segment opened after id in its pool, or None.
func (c *Chains) PoolNext(id int32) int32 { return c.inPool[id].next }

// Len returns how many segments a pool holds.
func (c *Chains) Len(pool int32) int { return c.count[pool] }

// Append adds an unlisted segment as the newest of its chain and pool.
func (c *Chains) Append(id, bucket, pool int32) {
	c.add(id, ChainOf(bucket, pool), pool, None, None)
}

// InsertBefore adds an unlisted segment just before the listed segment at,
// in at's chain and pool: it takes at's place in the opening order.
func (c *Chains) InsertBefore(id, at int32) {
	c.add(id, c.chainOf[at], c.poolOf[at], at, at)
}

func (c *Chains) add(id, chain, pool, chainAt, poolAt int32) {
	insert(c.inChain, &c.chain[chain], id, chainAt)
	insert(c.inPool, &c.pool[pool], id, poolAt)
	c.chainOf[id], c.poolOf[id] = chain, pool
	c.count[pool]++
}

// Remove takes a segment out of the lists; an unlisted one is left alone.
func (c *Chains) Remove(id int32) {
	if c.chainOf[id] == None {
		return
	}
	remove(c.inChain, &c.chain[c.chainOf[id]], id)
	remove(c.inPool, &c.pool[c.poolOf[id]], id)
	c.count[c.poolOf[id]]--
	c.chainOf[id], c.poolOf[id] = None, None
}

// insert links id into the list of nodes with ends e, before at (None:
// at the tail).
func insert(nodes []node, e *ends, id, at int32) {
	prev := e.tail
	if at != None {
		prev = nodes[at].prev
		nodes[at].prev = id
	} else {
		e.tail = id
	}
	nodes[id] = node{prev, at}
	if prev != None {
		nodes[prev].next = id
	} else {
		e.head = id
	}
}

// remove unlinks id from the list of nodes with ends e.
func remove(nodes []node, e *ends, id int32) {
	n := nodes[id]
	if n.prev != None {
		nodes[n.prev].next = n.next
	} else {
		e.head = n.next
	}
	if n.next != None {
		nodes[n.next].prev = n.prev
	} else {
		e.tail = n.prev
	}
	nodes[id] = node{None, None}
}
