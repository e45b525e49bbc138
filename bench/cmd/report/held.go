package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// heldPayload writes §3c: in every cell where core's default policy
// misses more often than otter, otter replayed once more with a weight
// limit of the key + value bytes that policy held at the end of its
// replay (bench-hitratio-held.tsv, from hitratio -held-out). The two then
// hold the same payload, so the comparison is of the policies alone; the
// difference from §3's is what each is charged per item.
func heldPayload(w func(string, ...any), build string) error {
	w("### 3c. Where %s trails otter: the same comparison at equal held bytes\n\n", defaultSystem)
	tables, err := loadHitRatio(filepath.Join(build, "bench-hitratio.tsv"))
	if err != nil {
		w("Not measured: %v.\n\n", err)
		return err
	}
	held, err := loadHitRatio(filepath.Join(build, "bench-hitratio-held.tsv"))
	if err != nil {
		w("Not measured: %v.\n\n", err)
		return err
	}
	w("§3 charges core its whole memory (an 8-byte item header, the hashtable's slot, the segments' metadata and\n")
	w("unused segment tails) and otter only the key and value bytes. Here otter is replayed again in every cell where\n")
	w("%s misses more often, with its weight limit set to the key + value bytes %s held at the end of\n", defaultSystem, defaultSystem)
	w("its replay (every key of the trace looked up once the replay was measured): both hold the same payload, so\n")
	w("what differs is the policy. A ratio below 1 in the last column means the gap of §3 is the charge per item.\n\n")
	var rows []string
	for _, h := range held {
		var main *hrTable
		for _, t := range tables {
			if t.trace == h.trace && t.values == h.values {
				main = t
			}
		}
		if main == nil {
			return fmt.Errorf("%s: %s/%s is not in bench-hitratio.tsv", build, h.trace, h.values)
		}
		for _, b := range h.budgets {
			c, ok := h.cells["otter"][b]
			if !ok {
				continue
			}
			ours := main.missRatio(defaultSystem, b)
			limit, _, _ := strings.Cut(strings.TrimPrefix(c.note, "limit "), " bytes")
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s B | %s |\n", h.trace, h.values, size(b), pct(ours),
				pct(main.missRatio("otter", b)), pct(c.ratio), limit, ratio(ours/c.ratio)))
		}
	}
	if len(rows) == 0 {
		w("No such cell: %s misses no more often than otter anywhere in §3.\n\n", defaultSystem)
		return nil
	}
	w("| trace | values | budget | %s | otter (charged key + value at the budget) | otter at core's held bytes | limit | %s ÷ otter at equal bytes |\n", defaultSystem, defaultSystem)
	w("|---|---|---|---|---|---|---|---|\n")
	w("%s\n", strings.Join(rows, ""))
	return nil
}
