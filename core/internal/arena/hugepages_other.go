//go:build unix && !linux

package arena

// adviseHugePages does nothing: only Linux has transparent huge pages to
// ask for with madvise (other systems promote large pages on their own,
// or not at all).
func adviseHugePages([]byte) {}
