//go:build arm64 && !purego

#include "textflag.h"

// func Load()
// Go reference: fence_other.go's Load (an atomic RMW, a fuller barrier).
// DMB ISHLD: every load before the barrier is ordered before every load and
// store after it, across the inner-shareable domain (all the cores Go runs
// on). 0x9 is the ISHLD option encoding (Arm ARM, C6.2.81).
TEXT ·Load(SB), NOSPLIT|NOFRAME, $0-0
	DMB	$0x9
	RET
