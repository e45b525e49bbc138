//go:build race

package spinlock

const raceBuild = true
