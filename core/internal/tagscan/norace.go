//go:build !race

package tagscan

const raceEnabled = false

func raceReadBucket(b *Bucket) {}

func raceBatch(table []Bucket, m uint64, hashes []uint64, masks []uint32) {}
