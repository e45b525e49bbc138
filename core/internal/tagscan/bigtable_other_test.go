//go:build !linux

package tagscan_test

import "github.com/segcache/segcache/core/internal/tagscan"

func bigTable(n int) []tagscan.Bucket { return make([]tagscan.Bucket, n) }
