//go:build arm64 && !purego

// NEON kernels of package tagscan, written by hand (Go's arm64 assembler
// syntax). Each TEXT symbol names its Go reference; the tests run every
// kernel against it, on arm64 hardware or under qemu-aarch64.
//
// Slot layout: tag in bits 63..52, location in bits 43..0. A slot matches
// iff slot>>52 == tag and slot&GhostLoc != GhostLoc. Lanes are 64 bits, so
// each compare yields all-ones or zero per slot; ANDing with the slot's bit
// weight and OR-reducing the lanes gives the mask (NEON has no movemask).

#include "textflag.h"

// neonWeights holds the mask bit of each of the 16 slots (2 per vector).
DATA ·neonWeights+0x00(SB)/8, $0x0001
DATA ·neonWeights+0x08(SB)/8, $0x0002
DATA ·neonWeights+0x10(SB)/8, $0x0004
DATA ·neonWeights+0x18(SB)/8, $0x0008
DATA ·neonWeights+0x20(SB)/8, $0x0010
DATA ·neonWeights+0x28(SB)/8, $0x0020
DATA ·neonWeights+0x30(SB)/8, $0x0040
DATA ·neonWeights+0x38(SB)/8, $0x0080
DATA ·neonWeights+0x40(SB)/8, $0x0100
DATA ·neonWeights+0x48(SB)/8, $0x0200
DATA ·neonWeights+0x50(SB)/8, $0x0400
DATA ·neonWeights+0x58(SB)/8, $0x0800
DATA ·neonWeights+0x60(SB)/8, $0x1000
DATA ·neonWeights+0x68(SB)/8, $0x2000
DATA ·neonWeights+0x70(SB)/8, $0x4000
DATA ·neonWeights+0x78(SB)/8, $0x8000
GLOBL ·neonWeights(SB), RODATA|NOPTR, $128

// CONSTS loads the constants of a scan: V16 = tag in both lanes,
// V17 = GhostLoc in both lanes, V18..V25 = neonWeights. Clobbers R3, R4.
#define CONSTS(tag) \
	VDUP	tag, V16.D2 \
	MOVD	$0x00000fffffffffff, R3 \
	VDUP	R3, V17.D2 \
	MOVD	$·neonWeights(SB), R4 \
	VLD1.P	64(R4), [V18.D2, V19.D2, V20.D2, V21.D2] \
	VLD1	(R4), [V22.D2, V23.D2, V24.D2, V25.D2]

// SLOT2 turns the two slots in vector v into their mask bits, in place:
// v = ((v>>52 == tag) &^ (v&GhostLoc == GhostLoc)) & w. Clobbers t.
#define SLOT2(v, t, w) \
	VUSHR	$52, v.D2, t.D2 \
	VCMEQ	V16.D2, t.D2, t.D2 \
	VAND	V17.B16, v.B16, v.B16 \
	VCMEQ	V17.D2, v.D2, v.D2 \
	VBIC	v.B16, t.B16, t.B16 \
	VAND	w.B16, t.B16, v.B16

// SCAN16 scans the buckets at p0 and p1 and leaves the 16-bit mask in out.
// Clobbers V0..V15, R5.
#define SCAN16(p0, p1, out) \
	VLD1	(p0), [V0.D2, V1.D2, V2.D2, V3.D2] \
	VLD1	(p1), [V4.D2, V5.D2, V6.D2, V7.D2] \
	SLOT2(V0, V8, V18) \
	SLOT2(V1, V9, V19) \
	SLOT2(V2, V10, V20) \
	SLOT2(V3, V11, V21) \
	SLOT2(V4, V12, V22) \
	SLOT2(V5, V13, V23) \
	SLOT2(V6, V14, V24) \
	SLOT2(V7, V15, V25) \
	VORR	V0.B16, V1.B16, V0.B16 \
	VORR	V2.B16, V3.B16, V2.B16 \
	VORR	V4.B16, V5.B16, V4.B16 \
	VORR	V6.B16, V7.B16, V6.B16 \
	VORR	V0.B16, V2.B16, V0.B16 \
	VORR	V4.B16, V6.B16, V4.B16 \
	VORR	V0.B16, V4.B16, V0.B16 \
	VMOV	V0.D[0], out \
	VMOV	V0.D[1], R5 \
	ORR	R5, out, out

// CANDIDATES computes, like Candidates, the addresses p0 and p1 of the
// two candidate buckets of hash h in table for mask m, and the tag.
// Clobbers R6.
#define CANDIDATES(table, m, h, p0, p1, tag) \
	LSR	$52, h, tag \
	CMP	$0, tag \
	CSINC	NE, tag, ZR, tag \
	AND	m, h, p0 \
	LSR	$26, h, p1 \
	AND	m, p1, p1 \
	EOR	$1, p0, R6 \
	CMP	p0, p1 \
	CSEL	EQ, R6, p1, p1 \
	ADD	p0<<6, table, p0 \
	ADD	p1<<6, table, p1

// func matchNEON(b0, b1 *[8]uint64, tag uint64) uint32
// Go reference: MatchRef.
TEXT ·matchNEON(SB), NOSPLIT|NOFRAME, $0-28
	MOVD	b0+0(FP), R0
	MOVD	b1+8(FP), R1
	MOVD	tag+16(FP), R2
	CONSTS(R2)
	SCAN16(R0, R1, R7)
	MOVW	R7, ret+24(FP)
	RET

// func matchBatchNEON(table *[8]uint64, m uint64, hashes *uint64, masks *uint32, n int, dist int)
// Go reference: MatchBatchRef. Requires n >= 1.
TEXT ·matchBatchNEON(SB), NOSPLIT|NOFRAME, $0-48
	MOVD	table+0(FP), R0
	MOVD	m+8(FP), R1
	MOVD	hashes+16(FP), R2
	MOVD	masks+24(FP), R8
	MOVD	n+32(FP), R9
	MOVD	dist+40(FP), R10
	MOVD	$0x00000fffffffffff, R3
	VDUP	R3, V17.D2
	MOVD	$·neonWeights(SB), R4
	VLD1.P	64(R4), [V18.D2, V19.D2, V20.D2, V21.D2]
	VLD1	(R4), [V22.D2, V23.D2, V24.D2, V25.D2]

	// Prologue: prefetch the buckets of hashes[0 : min(dist, n)].
	MOVD	$0, R11
prologue:
	CMP	R10, R11
	BHS	prologue_done
	CMP	R9, R11
	BHS	prologue_done
	MOVD	(R2)(R11<<3), R12
	CANDIDATES(R0, R1, R12, R13, R14, R15)
	PRFM	(R13), PLDL1KEEP
	PRFM	(R14), PLDL1KEEP
	ADD	$1, R11
	B	prologue
prologue_done:

	// Main loop: prefetch for hashes[i+dist], scan for hashes[i].
	MOVD	$0, R11
loop:
	ADD	R11, R10, R12
	CMP	R9, R12
	BHS	scan
	MOVD	(R2)(R12<<3), R12
	CANDIDATES(R0, R1, R12, R13, R14, R15)
	PRFM	(R13), PLDL1KEEP
	PRFM	(R14), PLDL1KEEP
scan:
	MOVD	(R2)(R11<<3), R12
	CANDIDATES(R0, R1, R12, R13, R14, R15)
	VDUP	R15, V16.D2
	SCAN16(R13, R14, R7)
	MOVW	R7, (R8)(R11<<2)
	ADD	$1, R11
	CMP	R9, R11
	BLO	loop
	RET

// CLS2 sorts the two slots in vector v for classifyNEON: it ORs their
// weights w into V11 where a slot is a ghost of the tag (V16), into V12
// where it is any ghost (V17 = GhostLoc), into V13 where it is empty
// (V26 = 0). Clobbers V8..V10.
#define CLS2(v, w) \
	VUSHR	$52, v.D2, V8.D2 \
	VCMEQ	V16.D2, V8.D2, V8.D2 \
	VAND	V17.B16, v.B16, V9.B16 \
	VCMEQ	V17.D2, V9.D2, V9.D2 \
	VAND	V9.B16, V8.B16, V8.B16 \
	VCMEQ	V26.D2, v.D2, V10.D2 \
	VAND	w.B16, V8.B16, V8.B16 \
	VORR	V8.B16, V11.B16, V11.B16 \
	VAND	w.B16, V9.B16, V9.B16 \
	VORR	V9.B16, V12.B16, V12.B16 \
	VAND	w.B16, V10.B16, V10.B16 \
	VORR	V10.B16, V13.B16, V13.B16

// REDUCE ORs the two lanes of vector v into out. Clobbers R5.
#define REDUCE(v, out) \
	VMOV	v.D[0], out \
	VMOV	v.D[1], R5 \
	ORR	R5, out, out

// func classifyNEON(b0, b1 *[8]uint64, tag uint64) uint64
// Go reference: ClassifyRef.
TEXT ·classifyNEON(SB), NOSPLIT|NOFRAME, $0-32
	MOVD	b0+0(FP), R0
	MOVD	b1+8(FP), R1
	MOVD	tag+16(FP), R2
	CONSTS(R2)
	VEOR	V26.B16, V26.B16, V26.B16
	VEOR	V11.B16, V11.B16, V11.B16
	VEOR	V12.B16, V12.B16, V12.B16
	VEOR	V13.B16, V13.B16, V13.B16
	VLD1	(R0), [V0.D2, V1.D2, V2.D2, V3.D2]
	VLD1	(R1), [V4.D2, V5.D2, V6.D2, V7.D2]
	CLS2(V0, V18)
	CLS2(V1, V19)
	CLS2(V2, V20)
	CLS2(V3, V21)
	CLS2(V4, V22)
	CLS2(V5, V23)
	CLS2(V6, V24)
	CLS2(V7, V25)
	REDUCE(V11, R7)
	REDUCE(V12, R8)
	REDUCE(V13, R9)
	ORR	R8<<16, R7, R7
	ORR	R9<<32, R7, R7
	MOVD	R7, ret+24(FP)
	RET

// func prefetch(p *byte)
// Go reference: none (a hint; PRFM never faults).
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-8
	MOVD	p+0(FP), R0
	PRFM	(R0), PLDL1KEEP
	RET
