package evict

// Index is a set of segment ids with O(1) add, remove and access by
// position, for drawing a uniformly random member (random eviction, the
// bucket of random FIFO and merge, util's sample). Removal moves the last
// member into the hole, so positions are not stable.
type Index struct {
	ids []int32
	pos []int32 // per segment: position in ids, or -1
}

// NewIndex makes an empty index for segment ids below n.
func NewIndex(n int) *Index {
	x := &Index{ids: make([]int32, 0, n), pos: make([]int32, n)}
	for i := range x.pos {
		x.pos[i] = -1
	}
	return x
}

// Len returns the number of members.
func (x *Index) Len() int { return len(x.ids) }

// At returns the member at position i (0 ≤ i < Len).
func (x *Index) At(i int) int32 { return x.ids[i] }

// Has reports whether id is a member.
func (x *Index) Has(id int32) bool { return x.pos[id] >= 0 }

// Add makes id a member (no-op if it is one).
func (x *Index) Add(id int32) {
	if x.pos[id] >= 0 {
		return
	}
	x.pos[id] = int32(len(x.ids))
	x.ids = append(x.ids, id)
}

// Remove drops id (no-op if it is not a member).
func (x *Index) Remove(id int32) {
	i := x.pos[id]
	if i < 0 {
		return
	}
	last := x.ids[len(x.ids)-1]
	x.ids[i] = last
	x.pos[last] = i
	x.ids = x.ids[:len(x.ids)-1]
	x.pos[id] = -1
}

// Heap is a min-heap of segment ids ordered by a key and then a tie-break
// (the opening order), with removal of any member: O(log n) per change,
// O(1) to read the minimum. It orders segments by expiry, for expiry
// (pop while the minimum has passed) and for closest-to-expiration.
type Heap struct {
	ids      []int32
	pos      []int32 // per segment: position in ids, or -1
	key, tie []int64 // per segment
}

// NewHeap makes an empty heap for segment ids below n.
func NewHeap(n int) *Heap {
	h := &Heap{ids: make([]int32, 0, n), pos: make([]int32, n), key: make([]int64, n), tie: make([]int64, n)}
	for i := range h.pos {
		h.pos[i] = -1
	}
	return h
}

// Len returns the number of members.
func (h *Heap) Len() int { return len(h.ids) }

// Has reports whether id is a member.
func (h *Heap) Has(id int32) bool { return h.pos[id] >= 0 }

// Min returns the member with the least (key, tie) and its key, or -1.
func (h *Heap) Min() (id int32, key int64) {
	if len(h.ids) == 0 {
		return -1, 0
	}
	return h.ids[0], h.key[h.ids[0]]
}

// Push adds id with the given key and tie-break; a member is re-keyed.
func (h *Heap) Push(id int32, key, tie int64) {
	h.Remove(id)
	h.key[id], h.tie[id] = key, tie
	h.pos[id] = int32(len(h.ids))
	h.ids = append(h.ids, id)
	h.up(len(h.ids) - 1)
}

// Remove drops id (no-op if it is not a member).
func (h *Heap) Remove(id int32) {
	i := int(h.pos[id])
	if i < 0 {
		return
	}
	last := len(h.ids) - 1
	h.swap(i, last)
	h.ids = h.ids[:last]
	h.pos[id] = -1
	if i < last {
		h.down(i)
		h.up(i)
	}
}

func (h *Heap) less(i, j int) bool {
	a, b := h.ids[i], h.ids[j]
	if h.key[a] != h.key[b] {
		return h.key[a] < h.key[b]
	}
	return h.tie[a] < h.tie[b]
}

func (h *Heap) swap(i, j int) {
	h.ids[i], h.ids[j] = h.ids[j], h.ids[i]
	h.pos[h.ids[i]] = int32(i)
	h.pos[h.ids[j]] = int32(j)
}

func (h *Heap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *Heap) down(i int) {
	n := len(h.ids)
	for {
		m := i
		if l := 2*i + 1; l < n && h.less(l, m) {
			m = l
		}
		if r := 2*i + 2; r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h.swap(i, m)
		i = m
	}
}
