// Command _asm generates the amd64 assembly of package tagscan
// (core/internal/tagscan/match_amd64.s and its Go declarations) with avo.
//
// It is its own Go module so that avo never enters the engine's go.mod.
// Run it through go generate in core/internal/tagscan, or `make
// test-kernels-asm`, which regenerates and fails on any difference from the
// committed files.
//
// Every kernel here is checked against the pure-Go reference named in its
// doc comment (see tagscan's tests and fuzz targets).
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ghostLoc mirrors tagscan.GhostLoc: the location of a ghost slot.
const ghostLoc = 1<<44 - 1

func main() {
	ConstraintExpr("amd64,!purego")
	matchAVX2()
	matchBatchAVX2()
	classifyAVX2()
	prefetch()
	Generate()
}

// scanner holds the broadcast constants one scan of a bucket needs.
type scanner struct {
	tag   VecVirtual // tag in every 64-bit lane
	ghost VecVirtual // ghostLoc in every 64-bit lane
}

// GPR-to-vector moves use the VEX encoding (VMOVQ), never the legacy SSE
// MOVQ: a legacy SSE instruction while the upper halves of the YMM
// registers are dirty costs a state transition, which measured ~400 ns per
// call on the (virtualized) benchmark machine.

func newGhost() VecVirtual {
	g := GP64()
	MOVQ(U64(ghostLoc), g)
	x := XMM()
	VMOVQ(g, x)
	y := YMM()
	VPBROADCASTQ(x, y)
	return y
}

func broadcastTag(tag Register) VecVirtual {
	x := XMM()
	VMOVQ(tag, x)
	y := YMM()
	VPBROADCASTQ(x, y)
	return y
}

// half scans the four slots at mem and returns their match bits (0..15):
// bit j set iff slot j's tag (bits 63..52) equals the tag and its location
// (bits 43..0) is not ghostLoc.
func (s scanner) half(mem Mem) GPVirtual {
	v, t, g := YMM(), YMM(), YMM()
	VMOVDQU(mem, v)
	VPSRLQ(U8(52), v, t)
	VPCMPEQQ(t, s.tag, t) // t = lane tag == tag
	VPAND(v, s.ghost, g)
	VPCMPEQQ(g, s.ghost, g) // g = lane is a ghost
	VPANDN(t, g, t)         // t = t &^ g
	r := GP32()
	VMOVMSKPD(t, r)
	return r
}

// buckets scans the two buckets at p0 and p1 and returns the 16-bit mask.
func (s scanner) buckets(p0, p1 Register) GPVirtual {
	m := s.half(Mem{Base: p0})
	for i, mem := range []Mem{{Base: p0, Disp: 32}, {Base: p1}, {Base: p1, Disp: 32}} {
		r := s.half(mem)
		SHLL(U8(4*(i+1)), r)
		ORL(r, m)
	}
	return m
}

func matchAVX2() {
	TEXT("matchAVX2", NOSPLIT, "func(b0, b1 *[8]uint64, tag uint64) uint32")
	Pragma("noescape")
	Doc("matchAVX2 is Match with AVX2. Go reference: MatchRef.")
	p0 := Load(Param("b0"), GP64())
	p1 := Load(Param("b1"), GP64())
	tag := Load(Param("tag"), GP64())
	s := scanner{tag: broadcastTag(tag), ghost: newGhost()}
	m := s.buckets(p0, p1)
	VZEROUPPER()
	Store(m, ReturnIndex(0))
	RET()
}

// candidates computes, from hash h and mask m, the addresses of the two
// candidate buckets in table and the tag, like tagscan.Candidates.
func candidates(table, m, h Register) (p0, p1, tag GPVirtual) {
	tag = GP64()
	MOVQ(h, tag)
	SHRQ(U8(52), tag)
	CMPQ(tag, U8(1))
	ADCQ(U8(0), tag) // tag += tag < 1: tag 0 becomes 1
	p0, p1 = GP64(), GP64()
	MOVQ(h, p0)
	ANDQ(m, p0) // b0 = h & m
	MOVQ(h, p1)
	SHRQ(U8(26), p1)
	ANDQ(m, p1) // b1 = (h >> 26) & m
	alt := GP64()
	MOVQ(p0, alt)
	XORQ(U8(1), alt)
	CMPQ(p1, p0)
	CMOVQEQ(alt, p1) // if b1 == b0 { b1 = b0 ^ 1 }
	SHLQ(U8(6), p0)  // 64-byte buckets
	SHLQ(U8(6), p1)
	ADDQ(table, p0)
	ADDQ(table, p1)
	return p0, p1, tag
}

func prefetchHash(table, m, h Register) {
	p0, p1, _ := candidates(table, m, h)
	PREFETCHT0(Mem{Base: p0})
	PREFETCHT0(Mem{Base: p1})
}

func matchBatchAVX2() {
	TEXT("matchBatchAVX2", NOSPLIT, "func(table *[8]uint64, m uint64, hashes *uint64, masks *uint32, n int, dist int)")
	Pragma("noescape")
	Doc(
		"matchBatchAVX2 is MatchBatch with AVX2 for n >= 1 hashes, prefetching the",
		"buckets of hashes[i+dist] while it scans those of hashes[i].",
		"Go reference: MatchBatchRef.",
	)
	table := Load(Param("table"), GP64())
	m := Load(Param("m"), GP64())
	hashes := Load(Param("hashes"), GP64())
	masks := Load(Param("masks"), GP64())
	n := Load(Param("n"), GP64())
	dist := Load(Param("dist"), GP64())
	ghost := newGhost()

	Comment("Prologue: prefetch the buckets of hashes[0 : min(dist, n)].")
	j := GP64()
	XORQ(j, j)
	Label("prologue")
	CMPQ(j, dist)
	JAE(LabelRef("prologue_done"))
	CMPQ(j, n)
	JAE(LabelRef("prologue_done"))
	hj := GP64()
	MOVQ(Mem{Base: hashes, Index: j, Scale: 8}, hj)
	prefetchHash(table, m, hj)
	INCQ(j)
	JMP(LabelRef("prologue"))
	Label("prologue_done")

	Comment("Main loop: prefetch for hashes[i+dist], scan for hashes[i].")
	i := GP64()
	XORQ(i, i)
	Label("loop")
	ahead := GP64()
	MOVQ(i, ahead)
	ADDQ(dist, ahead)
	CMPQ(ahead, n)
	JAE(LabelRef("scan"))
	ha := GP64()
	MOVQ(Mem{Base: hashes, Index: ahead, Scale: 8}, ha)
	prefetchHash(table, m, ha)
	Label("scan")
	h := GP64()
	MOVQ(Mem{Base: hashes, Index: i, Scale: 8}, h)
	p0, p1, tag := candidates(table, m, h)
	s := scanner{tag: broadcastTag(tag), ghost: ghost}
	mask := s.buckets(p0, p1)
	MOVL(mask, Mem{Base: masks, Index: i, Scale: 4})
	INCQ(i)
	CMPQ(i, n)
	JB(LabelRef("loop"))
	VZEROUPPER()
	RET()
}

// classifyAVX2 computes, for the four slots at each of b0, b0+32, b1 and
// b1+32, three masks at once: the slots holding a ghost of the tag, any
// ghost, and nothing; packed as Classify packs them.
func classifyAVX2() {
	TEXT("classifyAVX2", NOSPLIT, "func(b0, b1 *[8]uint64, tag uint64) uint64")
	Pragma("noescape")
	Doc("classifyAVX2 is Classify with AVX2. Go reference: ClassifyRef.")
	p0 := Load(Param("b0"), GP64())
	p1 := Load(Param("b1"), GP64())
	tag := broadcastTag(Load(Param("tag"), GP64()))
	ghost := newGhost()
	zero := YMM()
	VPXOR(zero, zero, zero)
	own, anyGhost, empty := GP32(), GP32(), GP32()
	for i, mem := range []Mem{{Base: p0}, {Base: p0, Disp: 32}, {Base: p1}, {Base: p1, Disp: 32}} {
		v, t, g, e := YMM(), YMM(), YMM(), YMM()
		VMOVDQU(mem, v)
		VPSRLQ(U8(52), v, t)
		VPCMPEQQ(t, tag, t) // t = lane tag == tag
		VPAND(v, ghost, g)
		VPCMPEQQ(g, ghost, g) // g = lane is a ghost
		VPAND(t, g, t)        // t = lane is the tag's ghost
		VPCMPEQQ(v, zero, e)  // e = lane is empty
		for _, m := range []struct {
			vec VecVirtual
			acc GPVirtual
		}{{t, own}, {g, anyGhost}, {e, empty}} {
			if i == 0 {
				VMOVMSKPD(m.vec, m.acc)
				continue
			}
			r := GP32()
			VMOVMSKPD(m.vec, r)
			SHLL(U8(4*i), r)
			ORL(r, m.acc)
		}
	}
	VZEROUPPER()
	out := GP64()
	MOVL(empty, out.As32()) // zero-extends
	SHLQ(U8(16), out)
	ORQ(anyGhost.As64(), out)
	SHLQ(U8(16), out)
	ORQ(own.As64(), out)
	Store(out, ReturnIndex(0))
	RET()
}

func prefetch() {
	TEXT("prefetch", NOSPLIT, "func(p *byte)")
	Pragma("noescape")
	Doc(
		"prefetch asks the CPU to bring the cache line at p into all cache levels",
		"(PREFETCHT0). It never faults, whatever p is. Go reference: none (a hint).",
	)
	p := Load(Param("p"), GP64())
	PREFETCHT0(Mem{Base: p})
	RET()
}
